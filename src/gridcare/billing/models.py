"""Billing runs, bills (immutable once issued), bill lines and reads, audit rules and exceptions
(T/CI 1281 §7.2–§7.5).

A bill is identified by (account, period, version, kind): version 1 is the first invoice; a
correction N adds a credit note (kind `credit`, version N) reversing version N−1 and a rebill
(kind `invoice`, version N). A back-billing (退补) case is billed as its own bill of kind `adjust`
(补收 when positive, 退还 when negative), filed under the latest period it corrects with its own
version sequence; the billing pipeline only ever looks at invoices, so it never mistakes one for
a period's bill. Amounts are integer fen (BigInteger), quantities milli-units.
Only services change these rows, and none changes an issued bill (invariant 1).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# The foreign keys written once per bill, line, read or exception (a billing month writes about a
# million such rows) are checked by the database once per statement instead of once per row:
# `db_constraint=False` here, and migration 0004 installs set-based checks on PostgreSQL (statement
# triggers over the inserted or updated rows, and over the deleted parents). Decision 0503 says
# what that keeps and what not.
SET_CHECKED = {"db_constraint": False}


class BillingRun(models.Model):
    """One batch (批次): the accounts of an org unit's subtree for one period. Resumable: `cursor`
    is the last account id whose chunk committed; a restart continues after it."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("billing run", "Pending")
        RUNNING = "running", pgettext_lazy("billing run", "Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    ACTIVE = ("pending", "running")

    period_code = models.CharField(_("period"), max_length=7)
    org_unit = models.ForeignKey("customers.OrgUnit", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    scope_key = models.CharField(max_length=40, help_text=_("org unit code, or * for all"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stage = models.CharField(max_length=24, blank=True)
    total_accounts = models.PositiveIntegerField(default=0)
    processed_accounts = models.PositiveIntegerField(default=0)
    billed_accounts = models.PositiveIntegerField(default=0)
    skipped_accounts = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    chunk_size = models.PositiveIntegerField(default=2000)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["period_code", "scope_key"], condition=Q(status__in=["pending", "running"]),
                                    name="uniq_active_billing_run"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.period_code} {self.scope_key}"

    @property
    def percent(self) -> int:
        if not self.total_accounts:
            return 100 if self.status == self.Status.COMPLETED else 0
        return min(100, int(self.processed_accounts * 100 / self.total_accounts))


class Bill(models.Model):
    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Bill")
        CREDIT = "credit", _("Credit note")
        ADJUSTMENT = "adjust", _("Back-billing adjustment")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        HELD = "held", _("Held")
        APPROVED = "approved", _("Approved")
        ISSUED = "issued", _("Issued")

    MUTABLE = ("draft", "held", "approved")

    # Indexes are few on purpose (decision 0503): approve and issue rewrite every bill of a run, and
    # each index is one more entry per row and per rewrite. `number` is unique through a constraint
    # (no second varchar_pattern_ops index); account_id is the first column of uniq_bill_version.
    number = models.CharField(_("bill number"), max_length=40)
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="bills", db_index=False,
                                **SET_CHECKED)
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+", **SET_CHECKED)
    period_code = models.CharField(_("period"), max_length=7)
    version = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.INVOICE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="bills",
                            **SET_CHECKED)
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to (exclusive)"))
    tariff_code = models.CharField(max_length=64)
    total_fen = models.BigIntegerField(_("amount (fen)"))
    energy_wh = models.BigIntegerField(_("billed energy (Wh)"), default=0)
    cos_phi = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    estimated = models.BooleanField(_("estimated read used"), default=False)
    sampled = models.BooleanField(_("picked for sample review"), default=False)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections",
                                 db_index=False, help_text=_("credit note: the bill it reverses; rebill: the bill it replaces"))
    reason = models.CharField(_("correction reason"), max_length=255, blank=True)
    # No index on the users (nothing looks bills up by them; a user with bills is never deleted).
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", db_index=False, **SET_CHECKED)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", db_index=False, **SET_CHECKED)
    approved_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    payment_reference = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id", "-period_code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["account", "period_code", "version", "kind"], name="uniq_bill_version"),
            models.UniqueConstraint(fields=["number"], name="uniq_bill_number"),
        ]
        # No index names `status`: approving and issuing a run change only unindexed columns, so on
        # PostgreSQL (fillfactor 50, migration 0003) each rewrite is a HOT update that touches no index.
        indexes = [
            models.Index(fields=["period_code", "org_unit"], name="bill_period_unit"),
            models.Index(fields=["corrects"], condition=Q(corrects__isnull=False), name="bill_corrects"),
        ]

    def __str__(self) -> str:
        return self.number


class BillLine(models.Model):
    """One line from the rating kernel, stored as it came (credit-note lines are negated copies)."""

    # Indexed as the first column of uniq_bill_line.
    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines", db_index=False, **SET_CHECKED)
    line_no = models.PositiveSmallIntegerField()
    component = models.CharField(max_length=32)
    line_code = models.CharField(max_length=48)
    tariff = models.CharField(max_length=64)
    tariff_version = models.CharField(max_length=32)
    start_date = models.DateField()
    end_date = models.DateField()
    quantity = models.DecimalField(max_digits=18, decimal_places=3)
    unit = models.CharField(max_length=12)
    unit_price = models.DecimalField(max_digits=18, decimal_places=8)
    amount_fen = models.BigIntegerField()
    rule = models.CharField(max_length=255, blank=True)
    explanation_zh = models.CharField(max_length=255, blank=True)
    explanation_en = models.CharField(max_length=255, blank=True)
    # Adjustment (退补) lines only: the issued bill and period this difference corrects. Database
    # defaults, so the pipeline's column-list bulk inserts need not name them.
    corrects_number = models.CharField(max_length=40, blank=True, default="", db_default="")
    corrects_period = models.CharField(max_length=7, blank=True, default="", db_default="")

    class Meta:
        ordering = ["bill_id", "line_no"]
        constraints = [models.UniqueConstraint(fields=["bill", "line_no"], name="uniq_bill_line")]


class BillRead(models.Model):
    """The reads a bill used, per meter segment and register; the closing reads of the latest
    issued bill are the next period's opening reads."""

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="reads", **SET_CHECKED)
    segment = models.PositiveSmallIntegerField()
    meter = models.ForeignKey("customers.Meter", on_delete=models.PROTECT, related_name="+", **SET_CHECKED)
    asset_number = models.CharField(max_length=32)
    register = models.CharField(max_length=16)
    multiplier = models.DecimalField(max_digits=12, decimal_places=2)
    # The reads are pointers for the trail (their values are copied here); nothing looks bill reads
    # up by them, so they are not indexed (a read is never deleted, only voided).
    start_read = models.ForeignKey("metering.MeterRead", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", db_index=False, **SET_CHECKED)
    start_date = models.DateField(null=True, blank=True)
    start_value = models.BigIntegerField(null=True, blank=True)
    start_status = models.CharField(max_length=12, blank=True)
    end_read = models.ForeignKey("metering.MeterRead", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", db_index=False, **SET_CHECKED)
    end_date = models.DateField()
    end_value = models.BigIntegerField()
    end_status = models.CharField(max_length=12)
    advance_milli = models.BigIntegerField()

    class Meta:
        ordering = ["bill_id", "segment", "register"]


class AuditRule(models.Model):
    """Site overrides of the audit rules in billing/defaults.yaml (enabled flag and parameters)."""

    code = models.CharField(max_length=32, unique=True)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")


class BillException(models.Model):
    """An audit hit on a draft bill (电费核查异常). Open exceptions keep the bill from approval."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", _("Confirmed")
        CORRECTED = "corrected", _("Corrected and re-rated")
        HELD = "held", _("Bill held")
        SUPERSEDED = "superseded", _("Superseded by re-rating")

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="exceptions", **SET_CHECKED)
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="exceptions",
                            **SET_CHECKED)
    rule = models.CharField(max_length=32)
    message = models.CharField(max_length=255)
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Not indexed: nothing looks exceptions up by their resolver, and confirming a run's exceptions
    # would write one more index entry per row.
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", db_index=False, **SET_CHECKED)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "rule"], name="bill_exc_status_rule")]


class BillingRunSkip(models.Model):
    """An account a run could not bill (no reads, rating refused it), with the reason; a later run
    picks it up again once fixed."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="skips")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(max_length=16)
    reason = models.CharField(max_length=255)

    class Meta:
        ordering = ["run_id", "account_id"]


class BillDelivery(models.Model):
    """A bill notice handed to the notifications outbox (one row per bill and channel)."""

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8)
    message_id = models.BigIntegerField(null=True, blank=True)
    recipient = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField()
    error = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bill", "channel"], name="uniq_bill_delivery")]
