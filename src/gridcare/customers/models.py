"""Master data: org units, customers, accounts (户号), service points, meters, contacts, authorisations.

Seed 004 §6.1 a and seed 000 (customer information). Business rules live in services/selectors.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OrgUnit(models.Model):
    """Province → city → county → station. `path` ("/1/4/9/") makes subtree scoping one indexed query."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County")
        STATION = "station", _("Station (供电所)")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False)

    class Meta:
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name


class CustomerCategory(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential (居民)")
    GENERAL_CI = "general_ci", _("General C&I (一般工商业)")
    LARGE_INDUSTRY = "large_industry", _("Large industry (大工业)")
    AGRICULTURE = "agriculture", _("Agriculture (农业)")


class VoltageLevel(models.TextChoices):
    V220 = "220V", "220 V"
    V380 = "380V", "380 V"
    KV10 = "10kV", "10 kV"
    KV20 = "20kV", "20 kV"
    KV35 = "35kV", "35 kV"
    KV110 = "110kV", "110 kV"
    KV220 = "220kV", "220 kV"


class Customer(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        ORGANISATION = "organisation", _("Organisation")

    class IdType(models.TextChoices):
        RESIDENT_ID = "resident_id", _("Resident ID card")
        PASSPORT = "passport", _("Passport")
        USCC = "uscc", _("Unified social credit code")
        OTHER = "other", _("Other")

    external_id = models.CharField(_("external id"), max_length=64, unique=True, null=True, blank=True)
    kind = models.CharField(pgettext_lazy("customer", "kind"), max_length=16, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("name"), max_length=128, db_index=True)
    id_type = models.CharField(_("ID type"), max_length=16, choices=IdType.choices, default=IdType.RESIDENT_ID)
    id_number = models.CharField(_("ID number"), max_length=32, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    email = models.EmailField(_("e-mail"), blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="customers", verbose_name=_("org unit"))
    industry = models.CharField(_("industry"), max_length=64, blank=True)
    protected_class = models.CharField(
        _("protected class"), max_length=32, blank=True,
        help_text=_("e.g. hospital, special group; exempt from suspension of supply as configured"),
    )
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """户号: the billing account. One customer may hold several."""

    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("account status", "Active")
        SUSPENDED = "suspended", pgettext_lazy("account status", "Suspended")
        CLOSED = "closed", pgettext_lazy("account status", "Closed")

    number = models.CharField(_("account number"), max_length=32, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("customer"))
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("org unit"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    category = models.CharField(_("customer category"), max_length=20, choices=CustomerCategory.choices)
    tariff_code = models.CharField(_("tariff"), max_length=64, blank=True)
    household_members = models.PositiveSmallIntegerField(_("household members"), default=0)
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class ServicePoint(models.Model):
    """用电地址/计量点: where supply is delivered and metered."""

    class BasicChargeBasis(models.TextChoices):
        NONE = "none", _("Single-part (no basic charge)")
        CAPACITY = "capacity", _("By capacity (kVA)")
        DEMAND = "demand", _("By demand (kW)")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="service_points")
    code = models.CharField(_("service point code"), max_length=32, unique=True)
    address = models.CharField(_("address"), max_length=255)
    voltage_level = models.CharField(_("voltage level"), max_length=8, choices=VoltageLevel.choices)
    category = models.CharField(_("customer category"), max_length=20, choices=CustomerCategory.choices)
    basic_charge_basis = models.CharField(
        _("basic charge basis"), max_length=16, choices=BasicChargeBasis.choices, default=BasicChargeBasis.NONE
    )
    contracted_capacity_kva = models.DecimalField(_("contracted capacity (kVA)"), max_digits=10, decimal_places=2, default=0)
    contract_demand_kw = models.DecimalField(_("contract demand (kW)"), max_digits=10, decimal_places=2, null=True, blank=True)
    industry = models.CharField(_("industry"), max_length=64, blank=True)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="service_points")
    grid_cell = models.CharField(_("grid cell (网格)"), max_length=64, blank=True, db_index=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Meter(models.Model):
    class Status(models.TextChoices):
        INSTALLED = "installed", _("Installed")
        REMOVED = "removed", _("Removed")
        IN_STOCK = "in_stock", _("In stock")

    asset_number = models.CharField(_("asset number"), max_length=32, unique=True)
    service_point = models.ForeignKey(
        ServicePoint, null=True, blank=True, on_delete=models.PROTECT, related_name="meters"
    )
    ct_ratio = models.DecimalField(_("CT ratio"), max_digits=10, decimal_places=2, default=1)
    pt_ratio = models.DecimalField(_("PT ratio"), max_digits=10, decimal_places=2, default=1)
    multiplier = models.DecimalField(_("multiplier (综合倍率)"), max_digits=12, decimal_places=2, default=1)
    digits = models.PositiveSmallIntegerField(_("register digits"), default=6)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.INSTALLED)
    installed_on = models.DateField(_("installed on"), null=True, blank=True)
    removed_on = models.DateField(_("removed on"), null=True, blank=True)

    class Meta:
        ordering = ["asset_number"]

    def __str__(self) -> str:
        return self.asset_number


class MeterRegister(models.Model):
    class Code(models.TextChoices):
        TOTAL = "total", _("Total (总)")
        SHARP = "sharp", _("Sharp peak (尖)")
        PEAK = "peak", _("Peak (峰)")
        FLAT = "flat", _("Flat (平)")
        VALLEY = "valley", _("Valley (谷)")
        REACTIVE = "reactive", _("Reactive (无功)")
        DEMAND = "demand", _("Max demand (需量)")

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="registers")
    code = models.CharField(max_length=16, choices=Code.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meter", "code"], name="uniq_meter_register")]


class Contact(models.Model):
    class Role(models.TextChoices):
        PRIMARY = "primary", _("Primary")
        BILLING = "billing", _("Billing")
        ELECTRICIAN = "electrician", _("Electrician")
        EMERGENCY = "emergency", _("Emergency")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=64)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.PRIMARY)
    preferred_channel = models.CharField(_("preferred channel"), max_length=16, default="sms")


class Authorization(models.Model):
    """A person authorised on an account they do not hold (一人多户 / 一户多人)."""

    class Scope(models.TextChoices):
        VIEW = "view", _("View")
        PAY = "pay", _("View and pay")
        MANAGE = "manage", _("Manage")

    person = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="authorizations")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="authorizations")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.VIEW)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "account"], name="uniq_authorization")]
