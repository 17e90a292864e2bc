"""KPI snapshots (one per KPI, org-unit subtree and period) and the alerts they raise.

A KPI's definition lives in catalogue.yaml, not in a table: the code is the key here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class KpiSnapshot(models.Model):
    kpi_code = models.CharField(_("KPI"), max_length=48)
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+")
    period_code = models.CharField(pgettext_lazy("KPI", "period"), max_length=7)
    # None when the denominator is zero: "nothing to measure" is not 0 % and must not alert.
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=4, null=True, blank=True)
    numerator = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    denominator = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    as_of = models.DateTimeField(_("data as of"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        ordering = ["kpi_code", "org_unit__path", "period_code"]
        constraints = [models.UniqueConstraint(fields=["kpi_code", "org_unit", "period_code"],
                                               name="uniq_kpi_snapshot")]
        indexes = [models.Index(fields=["org_unit", "period_code"])]


class KpiAlert(models.Model):
    class Level(models.TextChoices):
        WARNING = "warning", _("Warning")
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("KPI", "Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        CLEARED = "cleared", _("Cleared")

    kpi_code = models.CharField(_("KPI"), max_length=48)
    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="+")
    period_code = models.CharField(pgettext_lazy("KPI", "period"), max_length=7)
    level = models.CharField(pgettext_lazy("KPI", "level"), max_length=10, choices=Level.choices)
    status = models.CharField(_("status"), max_length=14, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    value = models.DecimalField(max_digits=18, decimal_places=4)
    threshold = models.DecimalField(max_digits=18, decimal_places=4)
    raised_at = models.DateTimeField(_("raised at"))
    updated_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["kpi_code", "org_unit", "period_code"],
                                               name="uniq_kpi_alert")]
