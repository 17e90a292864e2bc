"""Customer tags, negative-experience risk scores and recommendations, recomputed from the
billing, payments and service records by services.experience_refresh (derived data, never edited)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerTag(models.Model):
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="experience_tags")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("tag"), max_length=32, db_index=True)
    evidence = models.JSONField(default=dict, help_text=_("the signal values that made the tag apply"))
    as_of = models.DateTimeField()

    class Meta:
        ordering = ["account_id", "code"]
        constraints = [models.UniqueConstraint(fields=["account", "code"], name="uniq_customer_tag")]


class RiskScore(models.Model):
    class Band(models.TextChoices):
        HIGH = "high", _("High")
        MEDIUM = "medium", _("Medium")
        LOW = "low", _("Low")

    account = models.OneToOneField("customers.Account", on_delete=models.CASCADE, related_name="experience_risk")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("risk score"), db_index=True)
    band = models.CharField(_("band"), max_length=8, choices=Band.choices)
    factors = models.JSONField(default=list, help_text=_("[{code, signal, value, weight, cap, points}]"))
    as_of = models.DateTimeField()

    class Meta:
        ordering = ["-score", "account_id"]


class Recommendation(models.Model):
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="experience_recommendations")
    code = models.CharField(max_length=32)
    values = models.JSONField(default=dict, help_text=_("signal values the reason text is filled with"))
    as_of = models.DateTimeField()

    class Meta:
        ordering = ["account_id", "code"]
        constraints = [models.UniqueConstraint(fields=["account", "code"], name="uniq_experience_recommendation")]
