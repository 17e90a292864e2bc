"""Statement reconciliation records (电费对账, T/CI 1281 §7.8).

A `Statement` is one imported bank or agency file; each of its rows is a `StatementLine` that
ends matched, mismatched, duplicate or unmatched against our `payments.Payment`s. Every
problem becomes a `Discrepancy` with its supervision work order (督办工单). `DailyReport`
freezes a business day's figures once the day is closed.

Uniqueness does the idempotency: the same file twice is refused by (source, sha256); a
transaction appearing in two overlapping files is stored once by (source, txn_ref); a payment
is matched by at most one line (partial unique index), so nothing is ever matched twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class Statement(models.Model):
    source = models.CharField(_("source"), max_length=32, db_index=True)
    kind = models.CharField(_("kind"), max_length=8)  # bank | agency
    file_name = models.CharField(_("file name"), max_length=200)
    sha256 = models.CharField(max_length=64)
    first_date = models.DateField(_("first value date"))
    last_date = models.DateField(_("last value date"), db_index=True)
    lines_total = models.PositiveIntegerField(default=0)
    lines_skipped = models.PositiveIntegerField(_("lines already imported"), default=0)
    matched = models.PositiveIntegerField(default=0)
    mismatched = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)
    total_fen = models.BigIntegerField(default=0)
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-imported_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "sha256"], name="uniq_statement_file")]

    def __str__(self) -> str:
        return f"{self.source} {self.file_name}"


class LineStatus(models.TextChoices):
    MATCHED = "matched", _("Matched")
    MISMATCHED = "mismatched", _("Mismatched")
    DUPLICATE = "duplicate", _("Duplicate")
    UNMATCHED = "unmatched", _("Unmatched")


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines")
    source = models.CharField(max_length=32)
    line_no = models.PositiveIntegerField(_("line"))
    txn_ref = models.CharField(_("transaction reference"), max_length=64)
    reference = models.CharField(_("reference"), max_length=64, blank=True, db_index=True)
    account_number = models.CharField(_("account number"), max_length=32, blank=True)
    payer_name = models.CharField(_("payer"), max_length=64, blank=True)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    value_date = models.DateField(_("value date"), db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=LineStatus.choices, db_index=True)
    method = models.CharField(_("matched by"), max_length=24, blank=True)
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    payment = models.ForeignKey("payments.Payment", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="statement_lines")
    account = models.ForeignKey("customers.Account", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    auto = models.BooleanField(_("matched automatically"), default=False)
    matched_at = models.DateTimeField(null=True, blank=True)
    matched_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["statement_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["source", "txn_ref"], name="uniq_statement_txn"),
            # A payment is reconciled by one line at most (duplicates point at it but do not count).
            models.UniqueConstraint(fields=["payment"], condition=Q(status__in=["matched", "mismatched"]),
                                    name="uniq_line_per_payment"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="line_amount_positive"),
        ]
        indexes = [models.Index(fields=["source", "value_date"])]


class Discrepancy(models.Model):
    class Kind(models.TextChoices):
        UNRECORDED = "unrecorded", _("Money received, no payment recorded (到账无记录)")
        MISSING = "missing", _("Payment recorded, money not received (资金未到账)")
        AMOUNT = "amount", _("Amount differs (扣费记录与缴费不符)")
        DATE = "date", _("Date outside tolerance")
        REVERSED = "reversed", _("Money received for a reversed payment")
        DUPLICATE = "duplicate", _("Duplicate debit (重复扣费)")
        AMBIGUOUS = "ambiguous", _("Reference matches several payments")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    class Resolution(models.TextChoices):
        MATCHED_MANUALLY = "matched_manually", _("Matched by hand to a payment")
        AUTO_MATCHED = "auto_matched", _("Matched by a later statement")
        REFUNDED = "refunded", _("Refunded to the payer")
        BANK_CORRECTED = "bank_corrected", _("Corrected by the bank/agency")
        ACCEPTED = "accepted", _("Accepted (explained, no action)")
        WRITTEN_OFF = "written_off", _("Written off")

    key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    source = models.CharField(_("source"), max_length=32)
    business_date = models.DateField(_("business date"), db_index=True)
    line = models.OneToOneField(StatementLine, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="discrepancy")
    payment = models.ForeignKey("payments.Payment", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    account = models.ForeignKey("customers.Account", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    difference_fen = models.BigIntegerField(_("statement minus books (fen)"), default=0)
    description = models.CharField(max_length=255)
    work_order = models.ForeignKey("service.WorkOrder", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    detected_at = models.DateTimeField()
    resolution = models.CharField(_("resolution"), max_length=20, choices=Resolution.choices, blank=True)
    resolution_note = models.CharField(max_length=255, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name_plural = "discrepancies"


class DailyReport(models.Model):
    """A closed business day: what each source's statements showed against our payments."""

    business_date = models.DateField(unique=True)
    data = models.JSONField(default=dict)
    generated_at = models.DateTimeField()
    generated_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-business_date"]
