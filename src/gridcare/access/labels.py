"""Names of audited object types for the audit log. Events store a stable code (`work_order`); the
page shows the name in the viewer's language and keeps the code for filtering and exports. The names
carry a context ("audit object") so they never change the same words elsewhere in the console."""

from __future__ import annotations

from django.utils.translation import pgettext_lazy

OBJECT_TYPE_LABELS = {
    "account": pgettext_lazy("audit object", "Account"),
    "api_token": pgettext_lazy("audit object", "API token"),
    "audit_rule": pgettext_lazy("audit object", "Audit rule"),
    "authorization": pgettext_lazy("audit object", "Authorisation"),
    "backbilling_case": pgettext_lazy("audit object", "Back-billing case"),
    "bill": pgettext_lazy("audit object", "Bill"),
    "bill_exception": pgettext_lazy("audit object", "Bill exception"),
    "billing_calendar": pgettext_lazy("audit object", "Billing calendar"),
    "billing_parameter": pgettext_lazy("audit object", "Billing parameter"),
    "billing_period": pgettext_lazy("audit object", "Billing period"),
    "billing_run": pgettext_lazy("audit object", "Billing run"),
    "charge": pgettext_lazy("audit object", "Charge"),
    "contact": pgettext_lazy("audit object", "Contact"),
    "customer": pgettext_lazy("audit object", "Customer"),
    "customer_import": pgettext_lazy("audit object", "Customer import"),
    "demo_data": pgettext_lazy("audit object", "Demo data"),
    "kb": pgettext_lazy("audit object", "Knowledge base"),
    "kb_article": pgettext_lazy("audit object", "Knowledge article"),
    "meter": pgettext_lazy("audit object", "Meter"),
    "meter_event": pgettext_lazy("audit object", "Meter event"),
    "meter_read": pgettext_lazy("audit object", "Meter read"),
    "org_unit": pgettext_lazy("audit object", "Org unit"),
    "outage": pgettext_lazy("audit object", "Outage"),
    "payment": pgettext_lazy("audit object", "Payment"),
    "qa_inspection": pgettext_lazy("audit object", "QA inspection"),
    "read_import": pgettext_lazy("audit object", "Read import"),
    "return_visit": pgettext_lazy("audit object", "Return visit"),
    "service_point": pgettext_lazy("audit object", "Service point"),
    "suspension_case": pgettext_lazy("audit object", "Suspension case"),
    "tariff_assignment": pgettext_lazy("audit object", "Tariff assignment"),
    "tariff_file": pgettext_lazy("audit object", "Tariff file"),
    "user": pgettext_lazy("audit object", "User"),
    "work_order": pgettext_lazy("audit object", "Work order"),
}


def object_type_label(code: str) -> str:
    return str(OBJECT_TYPE_LABELS.get(code, code))
