"""Billing parameters as versioned, effective-dated records with two-person approval, and
back-billing (退补) cases.

A parameter *series* is (account, kind). Each version says what applies on
``[effective_from, effective_to)`` (open-ended when effective_to is empty) or, when ``cleared``,
that nothing applies then. Versions are never edited: a change is a new version, proposed by one
person and approved by another; where approved versions overlap, the one approved last wins for
the overlapping days (selectors.parameter_timeline). So the history of what was in force, who
proposed it and who approved it is always there.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ParameterKind(models.TextChoices):
    SPLIT = "split", _("Fixed quantity / fixed ratio (定量定比)")
    DEDUCTION = "deduction", _("Parent/child deduction (扣减)")
    SHARING = "sharing", _("Shared usage (公用分摊)")
    FREE_ALLOWANCE = "free_allowance", _("Free allowance (免费电)")
    CAPACITY = "capacity", _("Billing capacity (计费容量)")


class BillingParameter(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="billing_parameters",
                                verbose_name=_("account"))
    kind = models.CharField(_("kind"), max_length=16, choices=ParameterKind.choices)
    version = models.PositiveIntegerField(_("version"))
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)
    cleared = models.BooleanField(_("no parameter on these dates"), default=False)
    spec = models.JSONField(_("specification"), default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=255)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["account_id", "kind", "version"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "version"], name="uniq_parameter_version"),
            models.CheckConstraint(condition=models.Q(effective_to__isnull=True)
                                   | models.Q(effective_to__gt=models.F("effective_from")),
                                   name="parameter_dates_ordered"),
        ]
        indexes = [models.Index(fields=["account", "kind", "status"], name="parameter_series")]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version} of account {self.account_id}"


class ParameterLink(models.Model):
    """Another account a parameter refers to (a deduction's parent, a pool's members), so billing
    can find every parameter that touches an account with one indexed query."""

    class Role(models.TextChoices):
        PARENT = "parent", _("Parent meter")
        MEMBER = "member", _("Pool member")

    parameter = models.ForeignKey(BillingParameter, on_delete=models.CASCADE, related_name="links")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=8, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["parameter", "account"], name="uniq_parameter_link")]


class BackBillingKind(models.TextChoices):
    WRONG_MULTIPLIER = "wrong_multiplier", _("Wrong multiplier (倍率差错)")
    WRONG_TARIFF = "wrong_tariff", _("Wrong tariff (电价差错)")
    WIRING_CORRECTION = "wiring_correction", _("Wrong wiring, correction factor (错误接线更正率)")
    MISSED_REACTIVE = "missed_reactive", _("Missed reactive read (无功漏抄)")
    METER_ERROR = "meter_error", _("Meter error from a test (计量误差)")
    STOPPED_METER = "stopped_meter", _("Stopped meter (停走)")
    UNAUTHORISED_CAPACITY = "unauthorised_capacity", _("Unauthorised capacity (私增容量)")


class BackBillingCase(models.Model):
    """A correction of past bills, computed by re-rating and billed as a separate bill after a
    second person approves it. Every line keeps the original bill's figures beside the corrected
    ones, so each yuan can be traced to the bill it corrects."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        BILLED = "billed", _("Billed")

    number = models.CharField(_("case number"), max_length=40, unique=True)
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="backbilling_cases",
                                verbose_name=_("account"))
    kind = models.CharField(_("kind"), max_length=24, choices=BackBillingKind.choices)
    correction = models.JSONField(_("correction"), default=dict)
    period_codes = models.JSONField(_("periods"), default=list)
    reason = models.CharField(_("reason"), max_length=255)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    total_fen = models.BigIntegerField(_("difference (fen)"), default=0)
    energy_wh = models.BigIntegerField(_("energy difference (Wh)"), default=0)
    summary = models.JSONField(default=list, blank=True, help_text=_("per period: original and corrected totals"))
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    prepared_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=255, blank=True)
    bill_number = models.CharField(_("adjustment bill"), max_length=40, blank=True)
    billed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-prepared_at", "-id"]
        indexes = [models.Index(fields=["account", "status"], name="backbilling_account_status")]

    def __str__(self) -> str:
        return self.number


class BackBillingLine(models.Model):
    case = models.ForeignKey(BackBillingCase, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveSmallIntegerField()
    period_code = models.CharField(max_length=7)
    original_bill_number = models.CharField(max_length=40, blank=True)
    component = models.CharField(max_length=32)
    line_code = models.CharField(max_length=48)
    unit = models.CharField(max_length=12)
    original_quantity = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    original_fen = models.BigIntegerField(default=0)
    corrected_quantity = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    corrected_fen = models.BigIntegerField(default=0)
    quantity = models.DecimalField(_("quantity difference"), max_digits=18, decimal_places=3)
    unit_price = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    amount_fen = models.BigIntegerField(_("amount difference (fen)"))
    rule = models.CharField(max_length=255, blank=True)
    explanation_zh = models.CharField(max_length=255, blank=True)
    explanation_en = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["case_id", "line_no"]
        constraints = [models.UniqueConstraint(fields=["case", "line_no"], name="uniq_backbilling_line")]
