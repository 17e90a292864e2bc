"""Console (/console/...) and portal (/portal/...) pages. Each views module brings its own urlpatterns."""

from __future__ import annotations

import importlib

from django.urls import include, path

app_name = "web"

# Every module here must import: a broken or missing views module fails start-up, never a silent gap.
VIEW_MODULES = [
    "gridcare.web.views.auth",
    "gridcare.web.views.home",
    "gridcare.web.views.customers",
    "gridcare.web.views.audit",
    "gridcare.web.views.portal",
    "gridcare.web.views.portal_bills",
    "gridcare.web.views.metering",
    "gridcare.web.views.billing",
    "gridcare.web.views.payments",
    "gridcare.web.views.portal_payments",
    "gridcare.web.views.reconciliation",
    "gridcare.web.views.collections",
    "gridcare.web.views.service",
    "gridcare.web.views.portal_tickets",
    "gridcare.web.views.assistant",
    "gridcare.web.views.portal_assistant",
    "gridcare.web.views.visits",
    "gridcare.web.views.experience",
    "gridcare.web.views.kpi",
    "gridcare.web.views.parameters",
]

urlpatterns = []
for _name in VIEW_MODULES:
    urlpatterns.append(path("", include(importlib.import_module(_name).urlpatterns)))
