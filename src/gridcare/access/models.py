"""Users with a role and an org-unit scope, API tokens, and the audit log."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridcare.access.roles import STAFF_ROLES, Role


class User(AbstractUser):
    """A staff member (scoped to an org unit's subtree) or a portal customer (scoped to a customer)."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.CUSTOMER)
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    org_unit = models.ForeignKey(
        "customers.OrgUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="staff",
        verbose_name=_("org unit"),
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="portal_users",
        verbose_name=_("customer"),
    )
    skills = models.CharField(_("skills"), max_length=255, blank=True, help_text=_("comma-separated routing skills"))

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES

    def __str__(self) -> str:
        return self.display_name or self.username


class ApiToken(models.Model):
    """Bearer token for the JSON API; only a SHA-256 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class AuditEvent(models.Model):
    """Who did what to which record, with before/after; also every unmasked view of personal data."""

    class Action(models.TextChoices):
        CREATE = "create", _("Create")
        UPDATE = "update", _("Update")
        DELETE = "delete", _("Delete")
        UNMASK = "unmask", _("View personal data")
        LOGIN = "login", _("Log in")
        ACTION = "action", _("Action")

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=64, db_index=True)
    summary = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "at"])]
