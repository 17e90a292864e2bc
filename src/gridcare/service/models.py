"""Service desk records: work orders (工单) and everything that hangs off them.

Seeds 002 and 001, T/CI 1281 §7.7. Rules live in services.py / the policy files; these are data.
Categories are dotted codes from policy/taxonomy.yaml (e.g. "complaint.business.billing").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from gridcare.service.i18n import _lazy as _

USER = settings.AUTH_USER_MODEL


class Priority(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")
    CRITICAL = "critical", _("Critical")


class AreaType(models.TextChoices):
    URBAN = "urban", _("Urban (城区)")
    RURAL = "rural", _("Rural (农村)")
    REMOTE = "remote", _("Remote (特殊边远)")


class Outage(models.Model):
    """A planned, temporary or fault outage covering grid cells; calls about it are linked to it."""

    class Kind(models.TextChoices):
        PLANNED = "planned", _("Planned (计划停电)")
        TEMPORARY = "temporary", _("Temporary (临时停电)")
        FAULT = "fault", _("Fault (故障停电)")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        ACTIVE = "active", _("Active")
        RESTORED = "restored", _("Restored")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    title = models.CharField(_("title"), max_length=128)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="outages")
    grid_cells = models.JSONField(_("grid cells"), default=list)
    start_at = models.DateTimeField(_("starts at"))
    end_at = models.DateTimeField(_("expected end"))
    restored_at = models.DateTimeField(_("restored at"), null=True, blank=True)
    notified_at = models.DateTimeField(_("customers notified at"), null=True, blank=True)
    notice_override_reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-start_at", "-id"]

    def __str__(self) -> str:
        return self.title


class WorkOrder(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        ASSIGNED = "assigned", _("Assigned")
        IN_PROGRESS = "in_progress", _("In progress")
        WAITING_CUSTOMER = "waiting_customer", _("Waiting for customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")
        MERGED = "merged", _("Merged")
        CANCELLED = "cancelled", _("Cancelled")

    OPEN_STATUSES = ("new", "assigned", "in_progress", "waiting_customer")

    number = models.CharField(_("number"), max_length=24, unique=True)
    channel = models.CharField(_("channel"), max_length=16)
    type = models.CharField(_("type"), max_length=32, db_index=True)
    category = models.CharField(_("category"), max_length=96)
    grade = models.CharField(_("grade"), max_length=16, default="general")
    priority = models.CharField(_("priority"), max_length=12, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"))
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="work_orders")
    account = models.ForeignKey("customers.Account", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="work_orders")
    service_point = models.ForeignKey("customers.ServicePoint", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="work_orders")
    contact_name = models.CharField(_("contact name"), max_length=64, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True, db_index=True)
    contact_email = models.CharField(_("contact e-mail"), max_length=254, blank=True)
    area_type = models.CharField(_("area type"), max_length=8, choices=AreaType.choices, default=AreaType.URBAN)
    grid_cell = models.CharField(_("grid cell"), max_length=64, blank=True, db_index=True)
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="work_orders",
                                 verbose_name=_("responsible org unit"))
    assignee = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_orders")
    first_contact_user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="first_contact_orders", verbose_name=_("首问负责人"))
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    outage = models.ForeignKey(Outage, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged")
    external_ref = models.CharField(_("external reference"), max_length=128, blank=True)
    repeat_contact = models.BooleanField(_("repeated contact"), default=False)
    classification = models.JSONField(default=dict, blank=True)
    impact = models.JSONField(default=dict, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    plan = models.TextField(_("handling plan"), blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    transfer_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "org_unit"]), models.Index(fields=["customer", "created_at"])]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class WorkOrderEvent(models.Model):
    """Full history: every state change, note, contact, transfer, clock event, in order."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=32)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]


class Attachment(models.Model):
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="service/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at", "id"]


class SlaClock(models.Model):
    """One time limit on one order, with the policy values copied in when it started."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        MET = "met", _("Met")
        MISSED = "missed", _("Missed")  # stopped after its due time
        CANCELLED = "cancelled", _("Cancelled")

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="clocks")
    key = models.CharField(max_length=32)
    label = models.CharField(max_length=64)
    amount = models.FloatField()
    unit = models.CharField(max_length=16)
    source = models.CharField(max_length=255, blank=True)
    rule = models.CharField(max_length=64, blank=True)
    pausable = models.BooleanField(default=True)
    met_on = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    warn_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_total_seconds = models.PositiveIntegerField(default=0)
    stopped_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    # 0 for the clocks started at intake; n after the n-th reopening restarted the closing clocks.
    round = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["work_order", "key", "round"], name="uniq_clock_per_round")]


class Escalation(models.Model):
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="escalations")
    clock = models.ForeignKey(SlaClock, null=True, blank=True, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=64)
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+")
    notified = models.JSONField(default=list)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["clock", "level"], name="uniq_escalation_level")]


class ContactLog(models.Model):
    """Each time a customer reaches us (call, message, visit), for repeated-contact detection."""

    at = models.DateTimeField(db_index=True)
    channel = models.CharField(max_length=16)
    phone = models.CharField(max_length=20, blank=True, db_index=True)
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="contacts")


class InboundEvent(models.Model):
    """Inbox for webhook messages and e-mails: one row per external id, so a replay creates nothing."""

    source = models.CharField(max_length=32)
    external_id = models.CharField(max_length=200)
    received_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload_digest = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="uniq_inbound_event")]


class TaskForce(models.Model):
    """专项攻关组 for a complex complaint (seed 002): a lead and members working one order."""

    work_order = models.OneToOneField(WorkOrder, on_delete=models.CASCADE, related_name="task_force")
    lead = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    members = models.ManyToManyField(USER, related_name="task_forces", blank=True)
    formed_at = models.DateTimeField()
    formed_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=255, blank=True)


class ReturnVisit(models.Model):
    """回访 after closing: a phone task for an agent or an SMS survey answered through a link."""

    class Method(models.TextChoices):
        PHONE = "phone", _("Phone")
        SMS = "sms", _("SMS survey")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Survey sent")
        COMPLETED = "completed", _("Completed")
        UNREACHABLE = "unreachable", _("Unreachable")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="return_visits")
    method = models.CharField(max_length=8, choices=Method.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    scheduled_at = models.DateTimeField()
    due_at = models.DateTimeField()
    token = models.CharField(max_length=48, unique=True)
    questions = models.JSONField(default=list)
    answers = models.JSONField(default=dict, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    satisfied = models.BooleanField(null=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    agent = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scheduled_at", "id"]


class NegativeListEntry(models.Model):
    """负面清单: one record per negative event ("一事一档"), accountable to an org unit and grid."""

    class Kind(models.TextChoices):
        SLA_BREACH = "sla_breach", _("Time limit missed")
        DISSATISFIED = "dissatisfied", _("Customer dissatisfied")
        REPEAT_CONTACT = "repeat_contact", _("Repeated contact")
        ESCALATED = "escalated", _("Escalated complaint")
        MANUAL = "manual", _("Recorded by supervisor")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RECTIFIED = "rectified", _("Rectified")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="negative_entries")
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+")
    grid_cell = models.CharField(max_length=64, blank=True)
    accountable_user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    description = models.CharField(max_length=255)
    occurred_at = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField()
    event_key = models.CharField(max_length=128, unique=True)
    rectification = models.TextField(blank=True)
    rectified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]


class TypicalCase(models.Model):
    """典型案例: a published lesson with the accountability it led to (seed 002 §四(三))."""

    class Kind(models.TextChoices):
        NEGATIVE = "negative", _("Warning case")
        POSITIVE = "positive", _("Good practice")

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.NEGATIVE)
    title = models.CharField(max_length=128)
    summary = models.TextField()
    lessons = models.TextField(blank=True)
    accountability = models.TextField(blank=True)
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+")
    grid_cell = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["-published_at", "-id"]
