"""Reading calendar, register reads, read imports, interval files and meter events (T/CI 1281 §7.1).

Every read that reaches the system is stored as a `MeterRead` row, including the ones that fail
validation (status `quarantined`, with a reason), so nothing is ever silently dropped (invariant 4).

Register values are stored as integers in thousandths of the register unit (`value_milli`: Wh for
a kWh register, varh for kvarh, W for a kW demand register): exact, and summable in Polars/SQL
without floats.

The billing calendar (read day, periods, month close) lives here rather than in `billing` because
read validation needs to know which periods are frozen, and `metering` sits below `billing`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class BillingCalendar(models.Model):
    """抄表例日 and due-date rule of one org unit; sub-units without their own calendar inherit it."""

    org_unit = models.OneToOneField("customers.OrgUnit", on_delete=models.PROTECT, related_name="billing_calendar")
    read_day = models.PositiveSmallIntegerField(
        _("read day"), help_text=_("period YYYY-MM runs from this day of the month to the same day of the next")
    )
    due_days = models.PositiveSmallIntegerField(_("days from issue to due date"))
    read_window_days = models.PositiveSmallIntegerField(
        _("read window (days)"), default=0, help_text=_("a read this many days either side of the read date counts")
    )
    updated_at = models.DateTimeField()


class BillingPeriod(models.Model):
    """One billing month of one calendar org unit. Closing (关账) freezes its reads and bills."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("billing period", "Open")
        CLOSED = "closed", pgettext_lazy("billing period", "Closed")

    org_unit = models.ForeignKey("customers.OrgUnit", on_delete=models.PROTECT, related_name="billing_periods")
    code = models.CharField(_("period"), max_length=7)
    start_date = models.DateField(_("start (read date)"))
    end_date = models.DateField(_("end (next read date)"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")

    class Meta:
        ordering = ["org_unit_id", "code"]
        constraints = [models.UniqueConstraint(fields=["org_unit", "code"], name="uniq_billing_period")]

    def __str__(self) -> str:
        return f"{self.org_unit_id}:{self.code}"


class ReadImport(models.Model):
    """One imported file. Its SHA-256 is unique, so importing the same file twice writes nothing."""

    class Kind(models.TextChoices):
        REGISTER = "register", _("Register reads")
        INTERVAL = "interval", _("Interval data")

    sha256 = models.CharField(max_length=64, unique=True)
    filename = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file_format = models.CharField(max_length=8)
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    rows_total = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    estimated = models.PositiveIntegerField(default=0)
    quarantined = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-imported_at", "-id"]


class QuarantineReason(models.TextChoices):
    ROLLOVER = "rollover", _("Meter rollover (翻转)")
    DECREASE = "decrease", _("Reading decreased")
    ZERO_USAGE = "zero_usage", _("Zero usage on an active account")
    SPIKE = "spike", _("Usage spike against history")
    DUPLICATE = "duplicate", _("Conflicting duplicate read")
    UNKNOWN_METER = "unknown_meter", _("Unknown or removed meter")
    UNKNOWN_REGISTER = "unknown_register", _("Register not configured on the meter")
    OUT_OF_PERIOD = "out_of_period", _("Read date in a closed period or in the future")


class MeterRead(models.Model):
    """A register read. `valid` and `estimated` reads are used for billing; `quarantined` wait for a
    clerk; `void` ones were discarded or superseded (kept for the trail)."""

    class Status(models.TextChoices):
        VALID = "valid", _("Valid")
        ESTIMATED = "estimated", _("Estimated (估抄)")
        QUARANTINED = "quarantined", _("Quarantined")
        VOID = "void", _("Void")

    class Source(models.TextChoices):
        IMPORT = "import", _("File import")
        MANUAL = "manual", _("Manual entry")
        API = "api", _("API / mobile reading")
        ESTIMATE = "estimate", _("Estimated by the system")
        EVENT = "event", _("Meter event")

    # An import writes a quarter of a million reads: their keys are checked once per statement on
    # PostgreSQL (migration 0002, decision 0503) instead of once per row by a native constraint.
    # meter_id is indexed as the first column of read_meter_reg_date.
    meter = models.ForeignKey("customers.Meter", null=True, blank=True, on_delete=models.PROTECT, related_name="reads",
                              db_index=False, db_constraint=False)
    asset_number = models.CharField(max_length=32, help_text=_("as given by the source, kept for unknown meters"))
    register = models.CharField(max_length=16)
    read_date = models.DateField()
    value_milli = models.BigIntegerField(help_text=_("thousandths of the register unit (Wh, varh, W)"))
    status = models.CharField(max_length=12, choices=Status.choices)
    reason = models.CharField(max_length=20, blank=True, choices=QuarantineReason.choices)
    detail = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    read_import = models.ForeignKey(ReadImport, null=True, blank=True, on_delete=models.PROTECT, related_name="reads",
                                    db_constraint=False)
    line_no = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", db_index=False)
    resolution = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["meter_id", "register", "read_date", "id"]
        constraints = [
            # At most one usable read per register and day; quarantined/void ones are free.
            models.UniqueConstraint(
                fields=["meter", "register", "read_date"], condition=Q(status__in=["valid", "estimated"]),
                name="uniq_usable_read",
            ),
        ]
        indexes = [
            models.Index(fields=["meter", "register", "read_date"], name="read_meter_reg_date"),
            models.Index(fields=["status", "reason"], name="read_status_reason"),
            models.Index(fields=["read_date", "status"], name="read_date_status"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_number}/{self.register}@{self.read_date}={self.value_milli}"


class IntervalFile(models.Model):
    """24/96-point interval data of one import, stored as a Parquet file under INTERVAL_DATA_DIR."""

    read_import = models.OneToOneField(ReadImport, on_delete=models.PROTECT, related_name="interval_file")
    period = models.CharField(max_length=7, db_index=True)
    path = models.CharField(max_length=255, help_text=_("relative to INTERVAL_DATA_DIR"))
    meters = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    points_per_day = models.PositiveSmallIntegerField()
    first_date = models.DateField()
    last_date = models.DateField()


class MeterEvent(models.Model):
    """Something that changes how consumption is computed: the rating inputs (meter segments,
    capacity segments) are derived from these rows."""

    class Kind(models.TextChoices):
        INSTALL = "install", _("Installation")
        REPLACE = "replace", _("Replacement (换表)")
        MULTIPLIER_CHANGE = "multiplier", _("Multiplier change")
        CAPACITY_CHANGE = "capacity", _("Capacity change (增容/减容)")
        SUSPEND = "suspend", _("Suspension (暂停)")
        RESUME = "resume", _("Resumption")

    service_point = models.ForeignKey("customers.ServicePoint", on_delete=models.PROTECT, related_name="meter_events")
    meter = models.ForeignKey("customers.Meter", null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    new_meter = models.ForeignKey("customers.Meter", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    occurred_on = models.DateField(help_text=_("effective from this day, 00:00"))
    old_multiplier = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    new_multiplier = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    old_capacity_kva = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    new_capacity_kva = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["service_point_id", "occurred_on", "id"]
        indexes = [models.Index(fields=["occurred_on", "kind"], name="meter_event_date_kind")]
