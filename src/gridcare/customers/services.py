"""Writes of master data. Each function is one transaction and writes its audit event.

`actor=None` means the system itself (demo loader, file import run by an operator, migrations);
a user actor must hold the capability (`customers.edit`) and may only touch records inside their
own org-unit subtree. Errors raised: `ValidationFailed` (422, names the field), `PermissionDenied`
(403), `NotFound` (404, also for records outside the actor's scope, so their existence never leaks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import can, may_unmask
from gridcare.access.services import audit_record, changed_fields
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.customers import selectors
from gridcare.customers.models import (
    Account,
    Authorization,
    Contact,
    Customer,
    CustomerCategory,
    Meter,
    MeterRegister,
    OrgUnit,
    ServicePoint,
    VoltageLevel,
)

PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
RESIDENT_ID_RE = re.compile(r"^\d{17}[\dXx]$")
ACCOUNT_NUMBER_RE = re.compile(r"^[0-9A-Za-z-]{4,32}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def resident_id_is_valid(value: str) -> bool:
    """GB 11643 check digit, so a typo in an ID number is caught at entry."""
    if not RESIDENT_ID_RE.match(value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def resident_id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character of a unified social credit code (统一社会信用代码)."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def uscc_is_valid(value: str) -> bool:
    value = value.upper()
    if len(value) != 18 or any(c not in _USCC_CHARS for c in value):
        return False
    return uscc_check_char(value[:17]) == value[17]


def _choice(value: str, choices: type, field: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(
            _("%(value)r is not one of %(choices)s") % {"value": value, "choices": ", ".join(choices.values)},
            field=field,
        )
    return value


def _decimal(value: object, field: str, *, minimum: Decimal = Decimal(0)) -> Decimal:
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(_("%(value)r is not a number") % {"value": value}, field=field) from None
    if not result.is_finite() or result < minimum:
        raise ValidationFailed(_("must be a number ≥ %(minimum)s") % {"minimum": minimum}, field=field)
    return result


def _authorise(actor: User | None, capability: str) -> None:
    if actor is not None and not can(actor.role, capability):
        raise PermissionDenied(_("your role may not do this (%(capability)s)") % {"capability": capability})


def _authorise_org_unit(actor: User | None, org_unit: OrgUnit, field: str = "org_unit_code") -> None:
    if actor is not None and not selectors.org_unit_visible(user=actor, org_unit=org_unit):
        raise ValidationFailed(_("org unit %(code)s is outside your scope") % {"code": org_unit.code}, field=field)


# --- customers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerData:
    """Validated input for creating or updating a customer (from a form, the API or an import row)."""

    name: str
    org_unit_code: str
    kind: str = Customer.Kind.PERSON
    id_type: str = Customer.IdType.RESIDENT_ID
    id_number: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    industry: str = ""
    protected_class: str = ""
    external_id: str | None = None

    def normalised(self) -> CustomerData:
        """Trim whitespace and upper-case ID numbers, so equal input compares equal on re-import."""
        return replace(
            self,
            name=self.name.strip(), org_unit_code=self.org_unit_code.strip(), kind=self.kind.strip(),
            id_type=self.id_type.strip(), id_number=self.id_number.strip().upper(),
            phone=re.sub(r"\s+", "", self.phone), email=self.email.strip(), address=self.address.strip(),
            industry=self.industry.strip(), protected_class=self.protected_class.strip(),
            external_id=(self.external_id or "").strip() or None,
        )


CUSTOMER_FIELDS = tuple(f.name for f in fields(CustomerData))


class CustomerInvalid(ValidationFailed):
    """Several fields may be wrong at once; `errors` lists them all so a form can mark each one."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        field, message = errors[0]
        super().__init__(message, field=field)
        self.errors = errors


def customer_data_errors(data: CustomerData) -> list[tuple[str, str]]:
    """Every problem with the input as (field, message); empty when valid."""
    errors: list[tuple[str, str]] = []
    if not data.name:
        errors.append(("name", _("name is required")))
    elif len(data.name) > 128:
        errors.append(("name", _("name is longer than 128 characters")))
    if data.kind not in Customer.Kind.values:
        errors.append(("kind", _("%(value)r is not one of %(choices)s")
                       % {"value": data.kind, "choices": ", ".join(Customer.Kind.values)}))
    if data.id_type not in Customer.IdType.values:
        errors.append(("id_type", _("%(value)r is not one of %(choices)s")
                       % {"value": data.id_type, "choices": ", ".join(Customer.IdType.values)}))
    elif data.id_number:
        if data.id_type == Customer.IdType.RESIDENT_ID and not resident_id_is_valid(data.id_number):
            errors.append(("id_number", _("not a valid 18-digit resident ID number (check digit)")))
        elif data.id_type == Customer.IdType.USCC and not uscc_is_valid(data.id_number):
            errors.append(("id_number", _("not a valid 18-character unified social credit code")))
        elif len(data.id_number) > 32:
            errors.append(("id_number", _("ID number is longer than 32 characters")))
    if data.kind == Customer.Kind.ORGANISATION and data.id_type == Customer.IdType.RESIDENT_ID and data.id_number:
        errors.append(("id_type", _("an organisation is identified by a credit code, not a resident ID")))
    if data.phone and not PHONE_RE.match(data.phone):
        errors.append(("phone", _("not a valid mobile (11 digits) or landline number")))
    if data.email and (not EMAIL_RE.match(data.email) or len(data.email) > 254):
        errors.append(("email", _("not a valid e-mail address")))
    if len(data.address) > 255:
        errors.append(("address", _("address is longer than 255 characters")))
    if len(data.industry) > 64:
        errors.append(("industry", _("industry is longer than 64 characters")))
    if data.external_id and len(data.external_id) > 64:
        errors.append(("external_id", _("external id is longer than 64 characters")))
    if not data.org_unit_code:
        errors.append(("org_unit_code", _("org unit is required")))
    elif not OrgUnit.objects.filter(code=data.org_unit_code).exists():
        errors.append(("org_unit_code", _("unknown org unit %(code)r") % {"code": data.org_unit_code}))
    return errors


def customer_data_validate(data: CustomerData) -> OrgUnit:
    """Raise CustomerInvalid listing every bad field; return the resolved org unit."""
    errors = customer_data_errors(data)
    if errors:
        raise CustomerInvalid(errors)
    return OrgUnit.objects.get(code=data.org_unit_code)


def _customer_snapshot(customer: Customer) -> dict:
    snap = model_to_dict(customer, exclude=["id", "created_at", "updated_at", "org_unit"])
    snap["org_unit"] = customer.org_unit.code if customer.org_unit_id else None
    return snap


def customer_data_of(customer: Customer) -> CustomerData:
    """The current values as input, the base a partial update is applied to."""
    return CustomerData(
        name=customer.name, org_unit_code=customer.org_unit.code, kind=customer.kind, id_type=customer.id_type,
        id_number=customer.id_number, phone=customer.phone, email=customer.email, address=customer.address,
        industry=customer.industry, protected_class=customer.protected_class, external_id=customer.external_id,
    )


@transaction.atomic
def org_unit_create(*, code: str, name: str, level: str, parent_code: str | None = None,
                    actor: User | None = None) -> OrgUnit:
    _authorise(actor, "users.manage")
    _choice(level, OrgUnit.Level, "level")
    if OrgUnit.objects.filter(code=code).exists():
        raise ValidationFailed(_("org unit %(code)r already exists") % {"code": code}, field="code")
    parent = None
    if parent_code:
        parent = OrgUnit.objects.filter(code=parent_code).first()
        if parent is None:
            raise ValidationFailed(_("unknown parent org unit %(code)r") % {"code": parent_code}, field="parent_code")
    unit = OrgUnit.objects.create(code=code, name=name, level=level, parent=parent, path="")
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="org_unit", object_id=unit.pk,
                 summary=f"org unit {code}", after={"code": code, "name": name, "level": level})
    return unit


@transaction.atomic
def customer_create(*, data: CustomerData, actor: User | None, as_of: datetime) -> Customer:
    _authorise(actor, "customers.edit")
    data = data.normalised()
    org_unit = customer_data_validate(data)
    _authorise_org_unit(actor, org_unit)
    if data.external_id and Customer.objects.filter(external_id=data.external_id).exists():
        raise ValidationFailed(_("external id %(value)r already exists") % {"value": data.external_id},
                               field="external_id")
    customer = Customer.objects.create(
        external_id=data.external_id, kind=data.kind, name=data.name, id_type=data.id_type,
        id_number=data.id_number, phone=data.phone, email=data.email, address=data.address,
        org_unit=org_unit, industry=data.industry, protected_class=data.protected_class,
        created_at=as_of, updated_at=as_of,
    )
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="customer", object_id=customer.pk,
                 summary="customer created", after=_customer_snapshot(customer), at=as_of)
    return customer


def _customer_for_write(*, customer_id: int, actor: User | None) -> Customer:
    qs = Customer.objects.select_for_update().select_related("org_unit")
    if actor is not None:
        qs = qs.filter(pk__in=selectors.customer_list(user=actor).values("pk"))
    customer = qs.filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("customer %(id)s not found") % {"id": customer_id}, field="customer_id")
    return customer


@transaction.atomic
def customer_update(*, customer_id: int, data: CustomerData, actor: User | None, as_of: datetime) -> Customer:
    """Replace the customer's fields; a call that changes nothing writes nothing (re-imports are no-ops)."""
    _authorise(actor, "customers.edit")
    customer = _customer_for_write(customer_id=customer_id, actor=actor)
    data = data.normalised()
    org_unit = customer_data_validate(data)
    if org_unit.pk != customer.org_unit_id:
        _authorise_org_unit(actor, org_unit)
    if data.external_id and Customer.objects.filter(external_id=data.external_id).exclude(pk=customer_id).exists():
        raise ValidationFailed(_("external id %(value)r already exists") % {"value": data.external_id},
                               field="external_id")
    before = _customer_snapshot(customer)
    for field in ("kind", "name", "id_type", "id_number", "phone", "email", "address", "industry",
                  "protected_class"):
        setattr(customer, field, getattr(data, field))
    customer.org_unit = org_unit
    customer.external_id = data.external_id or customer.external_id
    old, new = changed_fields(before, _customer_snapshot(customer))
    if not new:
        return Customer.objects.select_related("org_unit").get(pk=customer.pk)
    customer.updated_at = as_of
    customer.save()
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="customer", object_id=customer.pk,
                 summary="customer updated: " + ", ".join(sorted(new)), before=old, after=new, at=as_of)
    return customer


def customer_patch(*, customer_id: int, changes: Mapping[str, object], actor: User | None,
                   as_of: datetime) -> Customer:
    """Partial update: only the given fields change (API PATCH, and forms that hide masked fields)."""
    unknown = sorted(set(changes) - set(CUSTOMER_FIELDS))
    if unknown:
        raise ValidationFailed(_("unknown field %(field)r") % {"field": unknown[0]}, field=unknown[0])
    with transaction.atomic():
        current = _customer_for_write(customer_id=customer_id, actor=actor)
        values = {k: ("" if v is None and k != "external_id" else v) for k, v in changes.items()}
        data = replace(customer_data_of(current), **values)
        return customer_update(customer_id=customer_id, data=data, actor=actor, as_of=as_of)


# --- personal data: explicit, audited reveal ----------------------------------------------------

# Which fields of which record are personal data, and which role-table field governs each.
REVEALABLE: dict[str, dict[str, str]] = {
    "customer": {"name": "name", "phone": "phone", "id_number": "id_number", "address": "address",
                 "email": "email"},
    "contact": {"name": "name", "phone": "phone", "email": "email"},
    "service_point": {"address": "address"},
}


def personal_data_reveal(*, user: User, object_type: str, object_id: int, field: str, as_of: datetime) -> str:
    """Return one personal-data value in clear and write an `unmask` audit event.

    Raises NotFound when the record is outside the user's scope, PermissionDenied when the role
    may not see that field, ValidationFailed for a field that is not personal data.
    """
    governing = REVEALABLE.get(object_type, {}).get(field)
    if governing is None:
        raise ValidationFailed(_("%(field)r of %(type)s is not a revealable field")
                               % {"field": field, "type": object_type}, field="field")
    record = selectors.personal_record_get(user=user, object_type=object_type, object_id=object_id)
    if record is None:
        raise NotFound(_("%(type)s %(id)s not found") % {"type": object_type, "id": object_id}, field="object_id")
    value = getattr(record, field) or ""
    if not selectors.is_personal(record=record, field=field) or selectors.owns_record(user=user, record=record):
        return value
    if not may_unmask(user.role, governing):
        raise PermissionDenied(_("your role may not see %(field)s in clear") % {"field": field}, field=field)
    with transaction.atomic():
        audit_record(actor=user, action=AuditEvent.Action.UNMASK, object_type=object_type, object_id=record.pk,
                     summary=f"viewed {field}", at=as_of)
    return value


def customer_edit_values(*, user: User, customer: Customer, as_of: datetime) -> dict[str, str]:
    """Initial values for an edit form: personal fields the role may see are revealed (one audit
    event naming them), the others come back empty so the form can show them masked and keep them."""
    values = {f: getattr(customer, f) or "" for f in CUSTOMER_FIELDS if f not in {"org_unit_code", "external_id"}}
    values["org_unit_code"] = customer.org_unit.code
    values["external_id"] = customer.external_id or ""
    revealed = []
    for field in REVEALABLE["customer"]:
        if not selectors.is_personal(record=customer, field=field) or not values[field]:
            continue
        if may_unmask(user.role, field):
            revealed.append(field)
        else:
            values[field] = ""
    if revealed:
        with transaction.atomic():
            audit_record(actor=user, action=AuditEvent.Action.UNMASK, object_type="customer", object_id=customer.pk,
                         summary="viewed for editing: " + ", ".join(revealed), at=as_of)
    return values


# --- accounts, service points, meters, contacts, authorisations --------------------------------


@dataclass(frozen=True)
class AccountData:
    number: str
    category: str
    tariff_code: str = ""
    household_members: int = 0
    opened_on: date | None = None


def account_data_errors(data: AccountData) -> list[tuple[str, str]]:
    errors = []
    if not data.number:
        errors.append(("number", _("account number is required")))
    elif not ACCOUNT_NUMBER_RE.match(data.number):
        errors.append(("number", _("account number must be 4-32 letters, digits or '-'")))
    if data.category not in CustomerCategory.values:
        errors.append(("category", _("%(value)r is not one of %(choices)s")
                       % {"value": data.category, "choices": ", ".join(CustomerCategory.values)}))
    if len(data.tariff_code) > 64:
        errors.append(("tariff_code", _("tariff code is longer than 64 characters")))
    if not 0 <= int(data.household_members) <= 99:
        errors.append(("household_members", _("household members must be between 0 and 99")))
    return errors


@transaction.atomic
def account_create(*, customer: Customer, number: str, category: str, opened_on: date, tariff_code: str = "",
                   household_members: int = 0, org_unit: OrgUnit | None = None, actor: User | None = None,
                   as_of: datetime | None = None) -> Account:
    _authorise(actor, "customers.edit")
    number = number.strip()
    errors = account_data_errors(AccountData(number, category, tariff_code, household_members, opened_on))
    if errors:
        raise ValidationFailed(errors[0][1], field=errors[0][0])
    unit = org_unit or customer.org_unit
    _authorise_org_unit(actor, unit)
    if Account.objects.filter(number=number).exists():
        raise ValidationFailed(_("account %(number)r already exists") % {"number": number}, field="number")
    account = Account.objects.create(
        number=number, customer=customer, org_unit=unit, category=category,
        tariff_code=tariff_code, household_members=household_members, opened_on=opened_on,
    )
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="account", object_id=account.pk,
                 summary=f"account {number}", at=as_of,
                 after={"number": number, "customer": customer.pk, "category": category, "tariff": tariff_code})
    return account


ACCOUNT_UPDATABLE = ("category", "tariff_code", "household_members", "status")


@transaction.atomic
def account_update(*, account_id: int, changes: Mapping[str, object], actor: User | None,
                   as_of: datetime | None = None) -> Account:
    """Change category, tariff, household members or status; writes nothing when nothing differs."""
    _authorise(actor, "customers.edit")
    unknown = sorted(set(changes) - set(ACCOUNT_UPDATABLE))
    if unknown:
        raise ValidationFailed(_("unknown field %(field)r") % {"field": unknown[0]}, field=unknown[0])
    qs = Account.objects.select_for_update()
    if actor is not None:
        qs = qs.filter(selectors.account_scope_q(user=actor))
    account = qs.filter(pk=account_id).first()
    if account is None:
        raise NotFound(_("account %(id)s not found") % {"id": account_id}, field="account_id")
    merged = {f: getattr(account, f) for f in ACCOUNT_UPDATABLE} | dict(changes)
    errors = account_data_errors(AccountData(account.number, str(merged["category"]), str(merged["tariff_code"]),
                                             int(merged["household_members"])))
    if errors:
        raise ValidationFailed(errors[0][1], field=errors[0][0])
    _choice(str(merged["status"]), Account.Status, "status")
    before = {f: getattr(account, f) for f in ACCOUNT_UPDATABLE}
    old, new = changed_fields(before, merged)
    if not new:
        return account
    for f, v in new.items():
        setattr(account, f, v)
    account.save(update_fields=list(new))
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="account", object_id=account.pk,
                 summary="account updated: " + ", ".join(sorted(new)), before=old, after=new, at=as_of)
    return account


@dataclass(frozen=True)
class ServicePointData:
    code: str
    address: str
    voltage_level: str
    category: str
    basic_charge_basis: str = ServicePoint.BasicChargeBasis.NONE
    contracted_capacity_kva: object = 0
    contract_demand_kw: object | None = None
    industry: str = ""
    grid_cell: str = ""


def service_point_data_clean(data: ServicePointData) -> dict:
    """Validated field values for a service point; raises ValidationFailed naming the field."""
    if not data.code.strip():
        raise ValidationFailed(_("service point code is required"), field="service_point_code")
    if not data.address.strip():
        raise ValidationFailed(_("supply address is required"), field="supply_address")
    _choice(data.voltage_level, VoltageLevel, "voltage_level")
    _choice(data.category, CustomerCategory, "category")
    _choice(data.basic_charge_basis, ServicePoint.BasicChargeBasis, "basic_charge_basis")
    capacity = _decimal(data.contracted_capacity_kva or 0, "contracted_capacity_kva")
    demand = (None if data.contract_demand_kw in (None, "")
              else _decimal(data.contract_demand_kw, "contract_demand_kw"))
    if data.basic_charge_basis == ServicePoint.BasicChargeBasis.CAPACITY and capacity <= 0:
        raise ValidationFailed(_("a capacity-based basic charge needs the contracted capacity"),
                               field="contracted_capacity_kva")
    if data.basic_charge_basis == ServicePoint.BasicChargeBasis.DEMAND and not demand:
        raise ValidationFailed(_("a demand-based basic charge needs the contract demand"), field="contract_demand_kw")
    return {
        "code": data.code.strip(), "address": data.address.strip(), "voltage_level": data.voltage_level,
        "category": data.category, "basic_charge_basis": data.basic_charge_basis,
        "contracted_capacity_kva": capacity, "contract_demand_kw": demand, "industry": data.industry.strip(),
        "grid_cell": data.grid_cell.strip(),
    }


@transaction.atomic
def service_point_create(*, account: Account, code: str, address: str, voltage_level: str, category: str,
                         basic_charge_basis: str = ServicePoint.BasicChargeBasis.NONE,
                         contracted_capacity_kva: object = 0, contract_demand_kw: object | None = None,
                         industry: str = "", grid_cell: str = "", actor: User | None = None,
                         as_of: datetime | None = None) -> ServicePoint:
    _authorise(actor, "customers.edit")
    values = service_point_data_clean(ServicePointData(
        code, address, voltage_level, category, basic_charge_basis, contracted_capacity_kva, contract_demand_kw,
        industry, grid_cell))
    _authorise_org_unit(actor, account.org_unit)
    if ServicePoint.objects.filter(code=values["code"]).exists():
        raise ValidationFailed(_("service point %(code)r already exists") % {"code": code}, field="service_point_code")
    point = ServicePoint.objects.create(account=account, org_unit=account.org_unit, **values)
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="service_point", object_id=point.pk,
                 summary=f"service point {code}", at=as_of,
                 after={k: v for k, v in values.items() if k != "address"})
    return point


SERVICE_POINT_UPDATABLE = ("address", "voltage_level", "category", "basic_charge_basis",
                           "contracted_capacity_kva", "contract_demand_kw", "industry", "grid_cell")


@transaction.atomic
def service_point_update(*, service_point_id: int, data: ServicePointData, actor: User | None,
                         as_of: datetime | None = None) -> ServicePoint:
    _authorise(actor, "customers.edit")
    qs = ServicePoint.objects.select_for_update()
    if actor is not None:
        qs = qs.filter(selectors.account_scope_q(user=actor, prefix="account__"))
    point = qs.filter(pk=service_point_id).first()
    if point is None:
        raise NotFound(_("service point %(id)s not found") % {"id": service_point_id}, field="service_point_id")
    values = service_point_data_clean(replace(data, code=point.code))
    before = {f: getattr(point, f) for f in SERVICE_POINT_UPDATABLE}
    old, new = changed_fields(before, {f: values[f] for f in SERVICE_POINT_UPDATABLE})
    if not new:
        return point
    for f, v in new.items():
        setattr(point, f, v)
    point.save(update_fields=list(new))
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="service_point", object_id=point.pk,
                 summary="service point updated: " + ", ".join(sorted(new)), before=old, after=new, at=as_of)
    return point


DEFAULT_REGISTERS = ("total", "sharp", "peak", "flat", "valley", "reactive")


def meter_values_clean(*, ct_ratio: object, pt_ratio: object, digits: object,
                       registers: tuple[str, ...]) -> tuple[Decimal, Decimal, int]:
    ct = _decimal(ct_ratio, "ct_ratio", minimum=Decimal(1))
    pt = _decimal(pt_ratio, "pt_ratio", minimum=Decimal(1))
    try:
        n_digits = int(str(digits).strip())
    except ValueError:
        raise ValidationFailed(_("%(value)r is not a whole number") % {"value": digits}, field="digits") from None
    if not 4 <= n_digits <= 10:
        raise ValidationFailed(_("digits must be between 4 and 10"), field="digits")
    for code in registers:
        _choice(code, MeterRegister.Code, "registers")
    return ct, pt, n_digits


@transaction.atomic
def meter_install(*, service_point: ServicePoint, asset_number: str, installed_on: date, ct_ratio: object = 1,
                  pt_ratio: object = 1, digits: int = 6, registers: tuple[str, ...] = DEFAULT_REGISTERS,
                  actor: User | None = None, as_of: datetime | None = None) -> Meter:
    """Install a meter; the multiplier (综合倍率) is CT × PT so the two can never disagree."""
    _authorise(actor, "customers.edit")
    ct, pt, digits = meter_values_clean(ct_ratio=ct_ratio, pt_ratio=pt_ratio, digits=digits, registers=registers)
    asset_number = asset_number.strip()
    if not asset_number:
        raise ValidationFailed(_("asset number is required"), field="asset_number")
    if Meter.objects.filter(asset_number=asset_number).exists():
        raise ValidationFailed(_("meter %(number)r already exists") % {"number": asset_number}, field="asset_number")
    meter = Meter.objects.create(
        asset_number=asset_number, service_point=service_point, ct_ratio=ct, pt_ratio=pt, multiplier=ct * pt,
        digits=digits, installed_on=installed_on, status=Meter.Status.INSTALLED,
    )
    MeterRegister.objects.bulk_create([MeterRegister(meter=meter, code=c) for c in registers])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="meter", object_id=meter.pk,
                 summary=f"meter {asset_number} installed at {service_point.code}", at=as_of,
                 after={"ct": ct, "pt": pt, "multiplier": ct * pt, "digits": digits, "registers": list(registers)})
    return meter


@transaction.atomic
def contact_add(*, customer: Customer, name: str, phone: str = "", email: str = "",
                role: str = Contact.Role.PRIMARY, actor: User | None = None,
                as_of: datetime | None = None) -> Contact:
    _authorise(actor, "customers.edit")
    if not name.strip():
        raise ValidationFailed(_("name is required"), field="name")
    if phone and not PHONE_RE.match(phone):
        raise ValidationFailed(_("not a valid mobile (11 digits) or landline number"), field="phone")
    if email and not EMAIL_RE.match(email):
        raise ValidationFailed(_("not a valid e-mail address"), field="email")
    _choice(role, Contact.Role, "role")
    contact = Contact.objects.create(customer=customer, name=name.strip(), phone=phone, email=email, role=role)
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="contact", object_id=contact.pk,
                 summary=f"contact for customer {customer.pk}", after={"role": role}, at=as_of)
    return contact


@transaction.atomic
def authorization_grant(*, person: Customer, account: Account, scope: str, valid_from: date,
                        valid_to: date | None = None, actor: User | None = None,
                        as_of: datetime | None = None) -> Authorization:
    _authorise(actor, "customers.edit")
    _choice(scope, Authorization.Scope, "scope")
    if person.kind != Customer.Kind.PERSON:
        raise ValidationFailed(_("only a person can be authorised on an account"), field="person")
    if person.pk == account.customer_id:
        raise ValidationFailed(_("the account holder needs no authorisation"), field="person")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed(_("valid_to is before valid_from"), field="valid_to")
    before = Authorization.objects.filter(person=person, account=account).values("scope", "valid_from",
                                                                                 "valid_to").first()
    auth, created = Authorization.objects.update_or_create(
        person=person, account=account, defaults={"scope": scope, "valid_from": valid_from, "valid_to": valid_to}
    )
    audit_record(actor=actor, action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
                 object_type="authorization", object_id=auth.pk, before=before, at=as_of,
                 after={"scope": scope, "valid_from": valid_from, "valid_to": valid_to},
                 summary=f"customer {person.pk} authorised on account {account.number} ({scope})")
    return auth
