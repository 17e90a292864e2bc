"""Translated names of audit rules, exception texts and skip stages, for pages, API and PDF.

Exceptions store their rule code and data; the sentence shown to a person is built here in the
viewer's language (the stored `message` is the English text kept for logs and exports).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.customers.models import MeterRegister

RULE_LABELS = {
    "usage_change_mom": gettext_lazy("Usage change against last month"),
    "usage_change_yoy": gettext_lazy("Usage change against the same month last year"),
    "zero_usage": gettext_lazy("Zero usage"),
    "estimated_read": gettext_lazy("Estimated read"),
    "abnormal_pf": gettext_lazy("Abnormal power factor"),
    "abnormal_tou_share": gettext_lazy("Abnormal time-of-use share"),
    "amount_above": gettext_lazy("Amount above threshold"),
    "first_bill": gettext_lazy("First bill of a new account"),
    "tariff_or_meter_change": gettext_lazy("Tariff or meter change in the period"),
    "sample": gettext_lazy("Sample review (分散复核)"),
    "sampling": gettext_lazy("Sampling rate (分散复核)"),
}


def rule_label(code: str) -> str:
    return str(RULE_LABELS.get(code, code))


def _yuan(fen) -> str:
    return f"{Decimal(int(fen)) / 100:,.2f}"


def exception_text(rule: str, data: dict) -> str:
    """The exception's sentence in the active language."""
    data = data or {}
    if rule in ("usage_change_mom", "usage_change_yoy") and "kwh" in data:
        return _("%(kwh)s kWh against %(before)s kWh (%(change)s)") % {
            "kwh": data["kwh"], "before": data["before_kwh"], "change": data["change"]}
    if rule == "zero_usage":
        return _("No usage billed on an active account")
    if rule == "estimated_read":
        return _("An estimated read (估抄) was used")
    if rule == "abnormal_pf" and "cos_phi" in data:
        return _("Power factor %(cos_phi)s") % {"cos_phi": data["cos_phi"]}
    if rule == "abnormal_tou_share":
        if "share" in data:
            return _("One time-of-use bucket carries %(share)s%% of the energy") % {"share": data["share"]}
        if "bucket_sum" in data:
            return _("Time-of-use registers sum to %(sum)s kWh, the total register to %(total)s kWh") % {
                "sum": Decimal(int(data["bucket_sum"])) / 1000, "total": Decimal(int(data["total"])) / 1000}
    if rule == "amount_above" and "total_fen" in data:
        return _("Amount %(amount)s yuan above %(limit)s yuan") % {
            "amount": _yuan(data["total_fen"]), "limit": _yuan(data["limit_fen"])}
    if rule == "first_bill":
        return _("First bill of the account")
    if rule == "tariff_or_meter_change":
        return _("Changed in the period: %(changes)s") % {"changes": data.get("changes", "")}
    if rule == "sample":
        return _("Picked for sample review (分散复核)")
    return rule_label(rule)


STAGE_LABELS = {
    "reads": gettext_lazy("Reads"),
    "tariff": gettext_lazy("Tariff"),
    "rating": gettext_lazy("Rating"),
    # a run's own stage (BillingRun.stage)
    "billing": gettext_lazy("Computing bills"),
    "done": gettext_lazy("Finished"),
}


def stage_label(code: str) -> str:
    return str(STAGE_LABELS.get(code, code))


def register_label(code: str) -> str:
    """A meter register's name (总/峰/平/谷…) for pages and forms; reads store the code."""
    return str(dict(MeterRegister.Code.choices).get(code, code))
