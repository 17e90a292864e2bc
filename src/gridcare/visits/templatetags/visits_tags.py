"""Labels for visit channels, stages and request kinds in templates."""

from __future__ import annotations

from django import template

from gridcare.service.i18n import _lazy
from gridcare.visits.models import Visit
from gridcare.visits.policy import visits_policy

register = template.Library()

REQUEST_KIND_LABELS = {"consultation": _lazy("Consultation"), "complaint": _lazy("Complaint"),
                       "opinion": _lazy("Opinion"), "suggestion": _lazy("Suggestion"),
                       "business": _lazy("Business request")}


@register.filter
def visit_channel(code) -> str:
    return visits_policy().channels.get(str(code or ""), str(code or ""))


@register.filter
def visit_stage(code) -> str:
    try:
        return str(Visit.Stage(str(code)).label)
    except ValueError:
        return str(code or "")


@register.filter
def request_kind(code) -> str:
    return str(REQUEST_KIND_LABELS.get(str(code or ""), code))
