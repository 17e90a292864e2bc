"""Customer visits (电力用户走访, seed 003): one row per visit, its stage in the §7.1 process, what
was covered, the requests it raised (as service-desk work orders) and its history."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from gridcare.service.i18n import _lazy as _

USER = settings.AUTH_USER_MODEL


class Visit(models.Model):
    """§7.1: 走访前准备 → 预约 → 走访（宣传政策、沟通需求）→ 制定服务策略 → 解决诉求并回访 → 归档."""

    class Stage(models.TextChoices):
        PLANNED = "planned", _("Planned")
        PREPARED = "prepared", _("Prepared")
        APPOINTED = "appointed", _("Appointment made")
        VISITED = "visited", _("Visited")
        STRATEGY = "strategy", _("Service strategy set")
        FOLLOWED_UP = "followed_up", _("Followed up")
        ARCHIVED = "archived", _("Archived")
        CANCELLED = "cancelled", _("Cancelled")

    OPEN_STAGES = ("planned", "prepared", "appointed", "visited", "strategy", "followed_up")

    number = models.CharField(max_length=24, unique=True)
    target_kind = models.CharField(max_length=24)
    source = models.CharField(max_length=12, default="manual")  # manual | risk
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="visits")
    account = models.ForeignKey("customers.Account", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="visits")
    organisation = models.CharField(max_length=128, blank=True)
    contact_name = models.CharField(max_length=64, blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="visits")
    visitor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="visits")
    channel = models.CharField(max_length=12)
    topics = models.JSONField(default=list)
    purpose = models.CharField(max_length=255)
    reasons = models.JSONField(default=list, blank=True)  # why a risk customer was selected
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.PLANNED, db_index=True)
    planned_for = models.DateField()
    checklist = models.JSONField(default=list, blank=True)
    appointment_at = models.DateTimeField(null=True, blank=True)
    visited_at = models.DateTimeField(null=True, blank=True)
    policy_notes = models.TextField(blank=True)
    needs = models.TextField(blank=True)
    strategy = models.TextField(blank=True)
    follow_up_note = models.TextField(blank=True)
    satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    unreachable_reason = models.CharField(max_length=255, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["planned_for", "id"]
        indexes = [models.Index(fields=["stage", "org_unit"])]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.stage in self.OPEN_STAGES


class VisitRequest(models.Model):
    """A request the visited party raised (§5.5 诉求处理), handled as a service-desk work order."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="requests")
    kind = models.CharField(max_length=16)
    text = models.TextField()
    work_order = models.ForeignKey("service.WorkOrder", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]


class VisitEvent(models.Model):
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=24)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
