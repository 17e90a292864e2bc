"""Writes of master data. Each function is one transaction and writes its audit event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.forms.models import model_to_dict

from gridcare.access.models import AuditEvent, User
from gridcare.access.services import audit_record, changed_fields
from gridcare.core.errors import NotFound, ValidationFailed
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
RESIDENT_ID_RE = re.compile(r"^\d{17}[\dXx]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_is_valid(value: str) -> bool:
    """GB 11643 check digit, so a typo in an ID number is caught at entry."""
    if not RESIDENT_ID_RE.match(value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def _choice(value: str, choices: type, field: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(f"{value!r} is not one of {', '.join(choices.values)}", field=field)
    return value


def _decimal(value: object, field: str, *, minimum: Decimal = Decimal(0)) -> Decimal:
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{value!r} is not a number", field=field) from None
    if not result.is_finite() or result < minimum:
        raise ValidationFailed(f"must be a number ≥ {minimum}", field=field)
    return result


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


def customer_data_validate(data: CustomerData) -> OrgUnit:
    """Raise ValidationFailed naming the first bad field; return the resolved org unit."""
    if not data.name.strip():
        raise ValidationFailed("name is required", field="name")
    if len(data.name) > 128:
        raise ValidationFailed("name is longer than 128 characters", field="name")
    _choice(data.kind, Customer.Kind, "kind")
    _choice(data.id_type, Customer.IdType, "id_type")
    if data.id_number and data.id_type == Customer.IdType.RESIDENT_ID and not resident_id_is_valid(data.id_number):
        raise ValidationFailed("not a valid 18-digit resident ID number (check digit)", field="id_number")
    if data.phone and not PHONE_RE.match(data.phone):
        raise ValidationFailed("not a valid mobile (11 digits) or landline number", field="phone")
    if data.email and ("@" not in data.email or len(data.email) > 254):
        raise ValidationFailed("not a valid e-mail address", field="email")
    org_unit = OrgUnit.objects.filter(code=data.org_unit_code).first()
    if org_unit is None:
        raise ValidationFailed(f"unknown org unit {data.org_unit_code!r}", field="org_unit_code")
    return org_unit


def _customer_snapshot(customer: Customer) -> dict:
    return model_to_dict(customer, exclude=["id", "created_at", "updated_at"])


@transaction.atomic
def org_unit_create(*, code: str, name: str, level: str, parent_code: str | None = None,
                    actor: User | None = None) -> OrgUnit:
    _choice(level, OrgUnit.Level, "level")
    if OrgUnit.objects.filter(code=code).exists():
        raise ValidationFailed(f"org unit {code!r} already exists", field="code")
    parent = None
    if parent_code:
        parent = OrgUnit.objects.filter(code=parent_code).first()
        if parent is None:
            raise ValidationFailed(f"unknown parent org unit {parent_code!r}", field="parent_code")
    unit = OrgUnit.objects.create(code=code, name=name, level=level, parent=parent, path="")
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="org_unit", object_id=unit.pk,
                 summary=f"org unit {code}", after={"code": code, "name": name, "level": level})
    return unit


@transaction.atomic
def customer_create(*, data: CustomerData, actor: User | None, as_of: datetime) -> Customer:
    org_unit = customer_data_validate(data)
    if data.external_id and Customer.objects.filter(external_id=data.external_id).exists():
        raise ValidationFailed(f"external id {data.external_id!r} already exists", field="external_id")
    customer = Customer.objects.create(
        external_id=data.external_id or None, kind=data.kind, name=data.name.strip(), id_type=data.id_type,
        id_number=data.id_number, phone=data.phone, email=data.email, address=data.address,
        org_unit=org_unit, industry=data.industry, protected_class=data.protected_class,
        created_at=as_of, updated_at=as_of,
    )
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="customer", object_id=customer.pk,
                 summary="customer created", after=_customer_snapshot(customer), at=as_of)
    return customer


@transaction.atomic
def customer_update(*, customer_id: int, data: CustomerData, actor: User | None, as_of: datetime) -> Customer:
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    org_unit = customer_data_validate(data)
    if data.external_id and Customer.objects.filter(external_id=data.external_id).exclude(pk=customer_id).exists():
        raise ValidationFailed(f"external id {data.external_id!r} already exists", field="external_id")
    before = _customer_snapshot(customer)
    for field in ("kind", "id_type", "id_number", "phone", "email", "address", "industry", "protected_class"):
        setattr(customer, field, getattr(data, field))
    customer.name = data.name.strip()
    customer.org_unit = org_unit
    customer.external_id = data.external_id or customer.external_id
    customer.updated_at = as_of
    customer.save()
    old, new = changed_fields(before, _customer_snapshot(customer))
    if new:
        audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="customer", object_id=customer.pk,
                     summary="customer updated: " + ", ".join(sorted(new)), before=old, after=new, at=as_of)
    return customer


@transaction.atomic
def account_create(*, customer: Customer, number: str, category: str, opened_on: date, tariff_code: str = "",
                   household_members: int = 0, org_unit: OrgUnit | None = None, actor: User | None = None) -> Account:
    _choice(category, CustomerCategory, "category")
    if not number.strip():
        raise ValidationFailed("account number is required", field="number")
    if Account.objects.filter(number=number).exists():
        raise ValidationFailed(f"account {number!r} already exists", field="number")
    account = Account.objects.create(
        number=number, customer=customer, org_unit=org_unit or customer.org_unit, category=category,
        tariff_code=tariff_code, household_members=household_members, opened_on=opened_on,
    )
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="account", object_id=account.pk,
                 summary=f"account {number}", after={"number": number, "category": category, "tariff": tariff_code})
    return account


@transaction.atomic
def service_point_create(*, account: Account, code: str, address: str, voltage_level: str, category: str,
                         basic_charge_basis: str = ServicePoint.BasicChargeBasis.NONE,
                         contracted_capacity_kva: object = 0, contract_demand_kw: object | None = None,
                         industry: str = "", grid_cell: str = "", actor: User | None = None) -> ServicePoint:
    _choice(voltage_level, VoltageLevel, "voltage_level")
    _choice(category, CustomerCategory, "category")
    _choice(basic_charge_basis, ServicePoint.BasicChargeBasis, "basic_charge_basis")
    capacity = _decimal(contracted_capacity_kva, "contracted_capacity_kva")
    demand = None if contract_demand_kw in (None, "") else _decimal(contract_demand_kw, "contract_demand_kw")
    if ServicePoint.objects.filter(code=code).exists():
        raise ValidationFailed(f"service point {code!r} already exists", field="code")
    point = ServicePoint.objects.create(
        account=account, code=code, address=address, voltage_level=voltage_level, category=category,
        basic_charge_basis=basic_charge_basis, contracted_capacity_kva=capacity, contract_demand_kw=demand,
        industry=industry, org_unit=account.org_unit, grid_cell=grid_cell,
    )
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="service_point", object_id=point.pk,
                 summary=f"service point {code}")
    return point


DEFAULT_REGISTERS = ("total", "sharp", "peak", "flat", "valley", "reactive")


@transaction.atomic
def meter_install(*, service_point: ServicePoint, asset_number: str, installed_on: date, ct_ratio: object = 1,
                  pt_ratio: object = 1, digits: int = 6, registers: tuple[str, ...] = DEFAULT_REGISTERS,
                  actor: User | None = None) -> Meter:
    """Install a meter; the multiplier (综合倍率) is CT × PT so the two can never disagree."""
    ct = _decimal(ct_ratio, "ct_ratio", minimum=Decimal(1))
    pt = _decimal(pt_ratio, "pt_ratio", minimum=Decimal(1))
    if not 4 <= int(digits) <= 10:
        raise ValidationFailed("digits must be between 4 and 10", field="digits")
    if Meter.objects.filter(asset_number=asset_number).exists():
        raise ValidationFailed(f"meter {asset_number!r} already exists", field="asset_number")
    for code in registers:
        _choice(code, MeterRegister.Code, "registers")
    meter = Meter.objects.create(
        asset_number=asset_number, service_point=service_point, ct_ratio=ct, pt_ratio=pt, multiplier=ct * pt,
        digits=digits, installed_on=installed_on, status=Meter.Status.INSTALLED,
    )
    MeterRegister.objects.bulk_create([MeterRegister(meter=meter, code=c) for c in registers])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="meter", object_id=meter.pk,
                 summary=f"meter {asset_number} installed at {service_point.code}",
                 after={"ct": ct, "pt": pt, "multiplier": ct * pt})
    return meter


@transaction.atomic
def contact_add(*, customer: Customer, name: str, phone: str = "", email: str = "",
                role: str = Contact.Role.PRIMARY, actor: User | None = None) -> Contact:
    if not name.strip():
        raise ValidationFailed("name is required", field="name")
    if phone and not PHONE_RE.match(phone):
        raise ValidationFailed("not a valid mobile (11 digits) or landline number", field="phone")
    _choice(role, Contact.Role, "role")
    contact = Contact.objects.create(customer=customer, name=name, phone=phone, email=email, role=role)
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="contact", object_id=contact.pk,
                 summary=f"contact for customer {customer.pk}")
    return contact


@transaction.atomic
def authorization_grant(*, person: Customer, account: Account, scope: str, valid_from: date,
                        valid_to: date | None = None, actor: User | None = None) -> Authorization:
    _choice(scope, Authorization.Scope, "scope")
    if person.kind != Customer.Kind.PERSON:
        raise ValidationFailed("only a person can be authorised on an account", field="person")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("valid_to is before valid_from", field="valid_to")
    auth, _created = Authorization.objects.update_or_create(
        person=person, account=account, defaults={"scope": scope, "valid_from": valid_from, "valid_to": valid_to}
    )
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="authorization", object_id=auth.pk,
                 summary=f"customer {person.pk} authorised on account {account.number} ({scope})")
    return auth
