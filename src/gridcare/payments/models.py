"""Receivables ledger (double entry) and the payment channels that feed it (T/CI 1281 §7.6).

Every money movement is a `JournalEntry` whose `Posting`s sum to zero (debit positive, credit
negative, integer fen). Postings and entries are append-only: a mistake is corrected by a
reversing entry, never by an UPDATE (a database trigger refuses one, see migration 0002).

Sub-ledgers (`Ledger`):
- `ar`       应收电费: what the customer owes, tagged with the open item (`Charge`) it belongs to;
- `credit`   预收/溢缴: the customer's credit (prepayment, overpayment), a liability;
- the others are the company side: revenue, late-fee income, discounts, money in transit per
  channel (`clearing`), refunds paid out.

A customer account's balance is the sum of its `ar` and `credit` postings: positive means the
customer owes, negative means they are in credit. `AccountLedger.balance_fen` keeps that sum so
pages and alerts need no aggregate, and it is the row locked to serialise writes per account;
tests prove it always equals the sum of postings.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class Ledger(models.TextChoices):
    AR = "ar", _("Receivable (应收电费)")
    CREDIT = "credit", _("Customer credit (预收/溢缴)")
    REVENUE = "revenue", _("Billed revenue")
    LATE_FEE_INCOME = "late_fee_income", _("Late-fee income (违约金)")
    LATE_FEE_WAIVED = "late_fee_waived", _("Late fees waived")
    DISCOUNT = "discount", _("Discounts (红包/积分)")
    CLEARING = "clearing", _("Money in transit (by channel)")
    REFUND = "refund", _("Refunds paid out")


CUSTOMER_LEDGERS = (Ledger.AR, Ledger.CREDIT)


class Channel(models.TextChoices):
    COUNTER = "counter", _("Counter (营业厅坐收)")
    ONLINE = "online", _("Online gateway (线上)")
    BANK_DEBIT = "bank_debit", _("Bank auto-debit (批扣/代扣)")
    AGENCY = "agency", _("Agency collection (代收)")
    PREPAY = "prepay", _("Prepayment top-up (预存)")


class AccountLedger(models.Model):
    """Per-account ledger header: cached balance (sum of `ar` + `credit` postings) and prepay settings."""

    account = models.OneToOneField("customers.Account", on_delete=models.PROTECT, related_name="ledger")
    balance_fen = models.BigIntegerField(_("balance (fen)"), default=0,
                                         help_text=_("positive: owed by the customer; negative: in credit"))
    prepaid = models.BooleanField(_("prepayment account (预付费)"), default=False)
    low_balance_fen = models.BigIntegerField(_("low-balance alert below (fen)"), null=True, blank=True)
    low_balance_alerted_on = models.DateField(null=True, blank=True)
    entries = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ledger {self.account_id}"


class JournalEntry(models.Model):
    class Kind(models.TextChoices):
        CHARGE = "charge", _("Charge (bill issued)")
        CREDIT_NOTE = "credit_note", _("Bill credit note")
        PAYMENT = "payment", _("Payment")
        CREDIT_APPLY = "credit_apply", _("Credit applied to charges")
        DISCOUNT = "discount", _("Discount")
        LATE_FEE = "late_fee", _("Late fee")
        WAIVER = "waiver", _("Late-fee waiver")
        REFUND = "refund", _("Refund")
        REVERSAL = "reversal", _("Reversal")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="journal_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Idempotency key of system-originated entries ("bill:123", "latefee:45:2026-11-30"): posting the
    # same thing twice hits the unique index instead of the ledger.
    source = models.CharField(max_length=96, unique=True, null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)
    business_date = models.DateField(_("business date"), db_index=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"JE{self.pk} {self.kind}"


class Charge(models.Model):
    """An open item on the receivable: a bill, a late fee or a returned payment. What is still
    owed on it is the sum of its `ar` postings (selectors.charge_outstanding)."""

    class Kind(models.TextChoices):
        BILL = "bill", _("Bill")
        LATE_FEE = "late_fee", _("Late fee (违约金)")
        PAYMENT_RETURN = "payment_return", _("Returned payment")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="charges")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reference = models.CharField(_("reference"), max_length=64, db_index=True)
    payment_reference = models.CharField(_("payment reference (缴费参考号)"), max_length=32, blank=True,
                                         db_index=True)
    period_code = models.CharField(_("period"), max_length=7, blank=True)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    due_date = models.DateField(_("due date"))
    bill_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               help_text=_("late fee: the charge it was assessed on"))
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="charge")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [models.Index(fields=["account", "due_date"])]
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_charge_amount_positive")]

    def __str__(self) -> str:
        return self.reference


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="postings")
    ledger = models.CharField(max_length=16, choices=Ledger.choices)
    channel = models.CharField(max_length=12, blank=True, help_text=_("clearing postings: which channel"))
    charge = models.ForeignKey(Charge, null=True, blank=True, on_delete=models.PROTECT, related_name="postings")
    amount_fen = models.BigIntegerField(_("amount (fen); debit positive"))

    class Meta:
        ordering = ["entry_id", "id"]
        indexes = [models.Index(fields=["account", "ledger"]), models.Index(fields=["ledger", "channel"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_fen=0), name="payments_posting_nonzero"),
            # Only receivable postings point at an open item.
            models.CheckConstraint(condition=Q(charge__isnull=True) | Q(ledger="ar"), name="payments_posting_charge_on_ar"),
        ]


class TillSession(models.Model):
    """A cashier's till for one business day (营业厅日结). Closing it freezes the daily report."""

    cashier = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="till_sessions")
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField()
    seq = models.PositiveSmallIntegerField(default=1)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    counted_cash_fen = models.BigIntegerField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-business_date", "-seq"]
        constraints = [
            models.UniqueConstraint(fields=["cashier", "business_date", "seq"], name="payments_uniq_till_session"),
            models.UniqueConstraint(fields=["cashier"], condition=Q(closed_at__isnull=True), name="payments_one_open_till"),
        ]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Payment(models.Model):
    class Method(models.TextChoices):
        CASH = "cash", _("Cash")
        CARD = "card", _("Bank card")
        TRANSFER = "transfer", _("Bank transfer")
        QR = "qr", _("QR code")
        DEBIT = "debit", _("Direct debit")
        GATEWAY = "gateway", _("Online gateway")

    class Status(models.TextChoices):
        POSTED = "posted", _("Posted")
        REVERSED = "reversed", _("Reversed")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="payments")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    method = models.CharField(max_length=10, choices=Method.choices)
    source = models.CharField(_("source (gateway, bank or agency code)"), max_length=32)
    external_ref = models.CharField(_("external reference"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=96, unique=True, null=True, blank=True)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    received_at = models.DateTimeField()
    business_date = models.DateField(db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.POSTED)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="payment")
    receipt_number = models.CharField(max_length=32, unique=True, null=True, blank=True)
    till = models.ForeignKey(TillSession, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    tendered_fen = models.BigIntegerField(null=True, blank=True)
    payer_name = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["source", "business_date"])]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_ref"], condition=~Q(external_ref=""),
                                    name="payments_uniq_payment_source_ref"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"payment {self.pk} {self.amount_fen}"


class Discount(models.Model):
    """A red packet (电费红包) or reward points (积分) redeemed against the bill: an explicit
    `discount` debit and a receivable credit, never a smaller bill."""

    class Kind(models.TextChoices):
        RED_PACKET = "red_packet", _("Red packet (电费红包)")
        POINTS = "points", _("Reward points (积分)")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="discounts")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    reference = models.CharField(_("voucher or redemption reference"), max_length=64)
    campaign = models.CharField(_("campaign"), max_length=64, blank=True)
    points = models.PositiveIntegerField(null=True, blank=True)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="discount")
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="payments_uniq_discount_ref"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_discount_amount_positive"),
        ]


class InboundEvent(models.Model):
    """Inbox of external events (gateway callbacks, file rows): one row per (source, external_id),
    written in the same transaction as its effect, so a redelivery finds it and changes nothing."""

    source = models.CharField(max_length=32)
    external_id = models.CharField(max_length=96)
    digest = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="payments_uniq_inbound_event")]


class CheckoutIntent(models.Model):
    """A portal checkout handed to a gateway; the gateway's signed callback settles it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PAID = "paid", _("Paid")
        EXPIRED = "expired", _("Expired")

    number = models.CharField(max_length=32, unique=True)
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    charge = models.ForeignKey(Charge, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    gateway = models.CharField(max_length=32)
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]


class ApprovalRequest(models.Model):
    """A money action that needs a second person (四眼原则): refunds, reversals, waivers.
    Nothing is posted until an approver other than the requester approves it."""

    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund of credit")
        PAYMENT_REVERSAL = "payment_reversal", _("Payment reversal")
        LATE_FEE_WAIVER = "late_fee_waiver", _("Late-fee waiver")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    charge = models.ForeignKey(Charge, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField()
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=255, blank=True)
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                                   name="payments_approver_not_requester"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_approval_amount_positive"),
        ]


class DebitMandate(models.Model):
    """批扣/代扣协议: the customer's authorisation for the bank to debit their account."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="debit_mandates")
    bank_code = models.CharField(max_length=16)
    bank_account = models.CharField(max_length=34)
    holder_name = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    signed_on = models.DateField()
    cancelled_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["bank_code", "id"]
        constraints = [models.UniqueConstraint(fields=["account"], condition=Q(status="active"),
                                               name="payments_one_active_mandate")]


class DebitBatch(models.Model):
    """One debit file sent to one bank; its result file settles the items."""

    class Status(models.TextChoices):
        GENERATED = "generated", _("Generated")
        SETTLED = "settled", _("Result imported")

    number = models.CharField(max_length=32, unique=True)
    bank_code = models.CharField(max_length=16)
    business_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.GENERATED)
    file_name = models.CharField(max_length=128)
    content = models.BinaryField()
    items_count = models.PositiveIntegerField(default=0)
    total_fen = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]


class DebitItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Sent to bank")
        SUCCEEDED = "succeeded", _("Debited")
        FAILED = "failed", _("Failed")

    batch = models.ForeignKey(DebitBatch, on_delete=models.PROTECT, related_name="items")
    reference = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    mandate = models.ForeignKey(DebitMandate, on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    result_code = models.CharField(max_length=16, blank=True)
    result_message = models.CharField(max_length=128, blank=True)
    payment = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["batch_id", "id"]


class ImportedFile(models.Model):
    """Every money file read (debit results, agency files): re-reading the same bytes is refused."""

    kind = models.CharField(max_length=16)
    source = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(max_length=128)
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rows = models.PositiveIntegerField(default=0)
    posted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-imported_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "source", "sha256"], name="payments_uniq_imported_file")]
