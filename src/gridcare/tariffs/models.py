"""Tariff schedules as versioned database records, and tariff assignment history.

The tariff *file* (YAML, format in docs/tariffs.md) is the record: it is stored verbatim and
parsed by `gridcare.rating`'s loader whenever a rating run needs it, so what was billed can always
be traced to the exact text. A (code, version) pair is immutable once loaded.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TariffFile(models.Model):
    name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, unique=True)
    text = models.TextField()
    loaded_at = models.DateTimeField()
    loaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    def __str__(self) -> str:
        return self.name


class TariffSchedule(models.Model):
    """One version of one tariff, in force on `[effective_from, effective_to)`."""

    file = models.ForeignKey(TariffFile, on_delete=models.PROTECT, related_name="schedules")
    code = models.CharField(_("tariff code"), max_length=64)
    version = models.CharField(_("version"), max_length=32)
    name_zh = models.CharField(max_length=128)
    name_en = models.CharField(max_length=128)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    time_of_use = models.BooleanField(default=False)

    class Meta:
        ordering = ["code", "effective_from"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="uniq_tariff_version")]

    def __str__(self) -> str:
        return f"{self.code}@{self.version}"


class TariffAssignment(models.Model):
    """From `effective_from` the account is billed on `tariff_code` (a change inside a period splits
    the period into segments with each tariff)."""

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="tariff_assignments")
    tariff_code = models.CharField(max_length=64)
    effective_from = models.DateField()
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["account_id", "effective_from"]
        constraints = [models.UniqueConstraint(fields=["account", "effective_from"], name="uniq_tariff_assignment")]
