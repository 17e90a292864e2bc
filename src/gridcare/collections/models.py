"""Collections records: late-fee assessments, dunning notices and call tasks, payment promises,
suspension-of-supply cases (T/CI 1281 §7.9; 《供电营业规则》 on 违约金 and 停电).

Money itself lives in the payments ledger: a late fee is a `payments.Charge` of kind late_fee
posted through payments' services; this app only records why and how it was computed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class LateFeeAssessment(models.Model):
    """The cumulative late fee of one bill through one day, and the difference posted then."""

    class Reason(models.TextChoices):
        MONTH_END = "month_end", _("Month end")
        PAYMENT = "payment", _("Paid late")
        COUNTER = "counter", _("Assessed at the counter")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    charge = models.ForeignKey("payments.Charge", on_delete=models.PROTECT, related_name="late_fee_assessments",
                               help_text=_("the bill the fee is assessed on"))
    fee_charge = models.ForeignKey("payments.Charge", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", help_text=_("the late-fee item posted, if any"))
    through = models.DateField(_("accrued through"))
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    days = models.PositiveIntegerField(_("overdue days"))
    exact_fen = models.DecimalField(_("exact fee (fen)"), max_digits=20, decimal_places=6)
    cumulative_fen = models.BigIntegerField(_("fee to date (fen)"))
    posted_fen = models.BigIntegerField(_("posted now (fen)"))
    minimum_applied = models.BooleanField(default=False)
    formula = models.CharField(max_length=500)
    bands = models.JSONField(default=list)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-through", "-id"]
        constraints = [models.UniqueConstraint(fields=["charge", "through"], name="uniq_late_fee_through")]


class Notice(models.Model):
    """One dunning step taken for one account: a message in the outbox, a call task, or a skip."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")
        CALL = "call", _("Call")

    class Outcome(models.TextChoices):
        QUEUED = "queued", _("Queued in the outbox")
        CALL_TASK = "call_task", _("Call task created")
        SKIPPED = "skipped", _("Skipped")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    charge = models.ForeignKey("payments.Charge", on_delete=models.PROTECT, related_name="+",
                               help_text=_("the oldest unpaid bill, which sets the dunning clock"))
    stage = models.CharField(_("stage"), max_length=32)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    skip_reason = models.CharField(max_length=128, blank=True)
    arrears_fen = models.BigIntegerField(_("arrears (fen)"))
    message = models.ForeignKey("notifications.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    business_date = models.DateField(db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["charge", "stage", "channel"], name="uniq_notice_step")]


class CallTask(models.Model):
    """电话催费: an agent calls the customer; never scheduled inside quiet hours."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Reached")
        UNREACHABLE = "unreachable", _("Unreachable")
        CANCELLED = "cancelled", _("Cancelled (paid)")

    notice = models.OneToOneField(Notice, on_delete=models.PROTECT, related_name="call_task")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+")
    phone = models.CharField(max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    scheduled_at = models.DateTimeField(_("call from"))
    due_at = models.DateTimeField(_("call by"))
    outcome_note = models.CharField(max_length=255, blank=True)
    done_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]


class Promise(models.Model):
    """承诺缴费: the customer promises to pay by a date; dunning and suspension wait for it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        KEPT = "kept", _("Kept")
        BROKEN = "broken", _("Broken")
        CANCELLED = "cancelled", _("Cancelled")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    charge = models.ForeignKey("payments.Charge", on_delete=models.PROTECT, related_name="+")
    promised_date = models.DateField(_("promised date"))
    amount_fen = models.BigIntegerField(_("promised amount (fen)"))
    arrears_fen = models.BigIntegerField(_("arrears when promised (fen)"))
    channel = models.CharField(max_length=16, blank=True)
    note = models.CharField(max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    recorded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    settled_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=Q(status="open"), name="one_open_promise"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="promise_amount_positive"),
        ]


class SuspensionCase(models.Model):
    """欠费停电 from proposal to restoration.

    proposed → approved (second person) → notified (停电通知书; planned time = notice + N days) →
    reminded (再通知) → suspended → restoring (arrears cleared; restoration clock running) → restored.
    Paid, protected or promised before execution → cancelled.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        NOTIFIED = "notified", _("Approved, notice served")
        REMINDED = "reminded", _("Final reminder sent")
        SUSPENDED = "suspended", _("Supply suspended")
        RESTORING = "restoring", _("Paid, restoration due")
        RESTORED = "restored", _("Restored")
        CANCELLED = "cancelled", _("Cancelled")
        REJECTED = "rejected", _("Rejected")

    ACTIVE = ("proposed", "notified", "reminded", "suspended", "restoring")

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    charge = models.ForeignKey("payments.Charge", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PROPOSED,
                              db_index=True)
    category = models.CharField(max_length=20)
    arrears_fen = models.BigIntegerField(_("arrears when proposed (fen)"))
    days_overdue = models.PositiveIntegerField()
    proposed_at = models.DateTimeField()
    proposed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    planned_at = models.DateTimeField(_("planned suspension"), null=True, blank=True)
    reminder_at = models.DateTimeField(_("final reminder at"), null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    executed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cleared_at = models.DateTimeField(_("arrears cleared"), null=True, blank=True)
    restore_due_at = models.DateTimeField(_("restore by"), null=True, blank=True)
    restore_limit = models.CharField(max_length=32, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    restored_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    work_order = models.ForeignKey("service.WorkOrder", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    closed_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=Q(status__in=["proposed", "notified", "reminded",
                                                                                  "suspended", "restoring"]),
                                    name="one_active_suspension"),
            models.CheckConstraint(condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("proposed_by")),
                                   name="suspension_approver_not_proposer"),
        ]

    @property
    def restore_met(self) -> bool | None:
        if self.restore_due_at is None or self.restored_at is None:
            return None
        return self.restored_at <= self.restore_due_at


class SuspensionEvent(models.Model):
    case = models.ForeignKey(SuspensionCase, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=24)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    message = models.ForeignKey("notifications.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")

    class Meta:
        ordering = ["at", "id"]
