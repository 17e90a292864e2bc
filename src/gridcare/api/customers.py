"""Customers, accounts and meters: /api/v1/customers, /accounts, /meters.

Thin handlers: parse, one selector or service call, render. Scope comes from the caller (staff:
org-unit subtree; portal customer: own and authorised accounts); an object outside it is a 404.
Personal fields are masked unless revealed with POST /customers/{id}/reveal (audited).
"""

from __future__ import annotations

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from gridcare.api.schemas.common import ERRORS, page
from gridcare.api.schemas.customers import (
    AccountDetailOut,
    AccountPage,
    CustomerDetailOut,
    CustomerIn,
    CustomerPage,
    CustomerPatch,
    MeterOut,
    MeterPage,
    RevealIn,
    RevealOut,
)
from gridcare.core.errors import NotFound
from gridcare.core.masking import MASKERS
from gridcare.customers import selectors, services
from gridcare.customers.models import Account, Customer, Meter, ServicePoint

router = Router()


class Paging(Schema):
    limit: int = Field(50, ge=1, le=500, description="page size (1-500)")
    offset: int = Field(0, ge=0, description="rows to skip")


class CustomerFilter(Paging):
    q: str = Field("", max_length=100, description="name (contains), phone, external id, account or meter number")
    category: str = Field("", description="residential | general_ci | large_industry | agriculture")
    org_unit: str = Field("", description="org unit code; its whole subtree matches")
    kind: str = Field("", description="person | organisation")


class AccountFilter(Paging):
    q: str = Field("", max_length=100, description="account number, or customer name (contains)")
    category: str = ""
    status: str = ""
    customer_id: int | None = None
    org_unit: str = ""
    tariff_code: str = ""


class MeterFilter(Paging):
    q: str = Field("", max_length=64, description="asset number")
    account_id: int | None = None
    status: str = ""


# --- rendering --------------------------------------------------------------------------------------


def _customer(user, c: Customer) -> dict:
    shown = {f: selectors.shown(user=user, record=c, field=f) for f in MASKERS}
    return {
        "id": c.pk, "external_id": c.external_id, "kind": c.kind, "id_type": c.id_type,
        "industry": c.industry, "protected_class": c.protected_class,
        "org_unit": {"code": c.org_unit.code, "name": c.org_unit.name, "level": c.org_unit.level},
        **{f: s.text for f, s in shown.items()},
        "masked": [f for f, s in shown.items() if s.masked],
    }


def _account(user, a: Account) -> dict:
    return {
        "id": a.pk, "number": a.number, "customer_id": a.customer_id,
        "customer_name": selectors.shown(user=user, record=a.customer, field="name").text,
        "org_unit": a.org_unit.code, "status": a.status, "category": a.category, "tariff_code": a.tariff_code,
        "household_members": a.household_members, "opened_on": a.opened_on, "closed_on": a.closed_on,
    }


def _meter(m: Meter, point: ServicePoint | None = None, account: Account | None = None) -> dict:
    point = point or m.service_point
    account = account or (point.account if point else None)
    return {
        "id": m.pk, "asset_number": m.asset_number, "service_point_code": point.code if point else None,
        "account_number": account.number if account else None, "ct_ratio": m.ct_ratio, "pt_ratio": m.pt_ratio,
        "multiplier": m.multiplier, "digits": m.digits, "status": m.status, "installed_on": m.installed_on,
        "registers": [r.code for r in m.registers.all()],
    }


def _account_detail(user, view) -> dict:
    a = view.account
    return {
        **_account(user, a),
        "service_points": [{
            "id": p.point.pk, "code": p.point.code, "address": p.address.text,
            "voltage_level": p.point.voltage_level, "category": p.point.category,
            "basic_charge_basis": p.point.basic_charge_basis,
            "contracted_capacity_kva": p.point.contracted_capacity_kva,
            "contract_demand_kw": p.point.contract_demand_kw, "grid_cell": p.point.grid_cell,
            "meters": [_meter(mv.meter, p.point, a) for mv in p.meters],
        } for p in view.service_points],
    }


def _customer_detail(request, customer_id: int) -> dict:
    view = selectors.customer_360(user=request.user, customer_id=customer_id)
    if view is None:
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    return {
        **_customer(request.user, view.customer),
        "accounts": [_account_detail(request.user, a) for a in view.accounts],
        "contacts": [{"id": c.contact.pk, "role": c.contact.role, "name": c.name.text, "phone": c.phone.text,
                      "email": c.email.text, "preferred_channel": c.contact.preferred_channel}
                     for c in view.contacts],
    }


# --- customers -----------------------------------------------------------------------------------------


@router.get("/customers", response={200: CustomerPage, **ERRORS}, summary="Search customers")
def customer_search(request, filters: Query[CustomerFilter]):
    qs = selectors.customer_list(user=request.user, q=filters.q, category=filters.category,
                                 org_unit_code=filters.org_unit, kind=filters.kind)
    return page(qs, limit=filters.limit, offset=filters.offset, render=lambda c: _customer(request.user, c))


@router.get("/customers/{customer_id}", response={200: CustomerDetailOut, **ERRORS}, summary="Customer detail")
def customer_detail(request, customer_id: int):
    return _customer_detail(request, customer_id)


@router.post("/customers", response={201: CustomerDetailOut, **ERRORS}, summary="Create a customer")
def customer_create(request, body: CustomerIn):
    customer = services.customer_create(data=services.CustomerData(**body.model_dump()), actor=request.user,
                                        as_of=timezone.now())
    return Status(201, _customer_detail(request, customer.pk))


@router.patch("/customers/{customer_id}", response={200: CustomerDetailOut, **ERRORS},
              summary="Update a customer (only the fields sent)")
def customer_update(request, customer_id: int, body: CustomerPatch):
    services.customer_patch(customer_id=customer_id, changes=body.model_dump(exclude_unset=True),
                            actor=request.user, as_of=timezone.now())
    return _customer_detail(request, customer_id)


@router.post("/customers/{customer_id}/reveal", response={200: RevealOut, **ERRORS},
             summary="Show personal fields in clear (audited)")
def customer_reveal(request, customer_id: int, body: RevealIn):
    now = timezone.now()
    return {"values": {f: services.personal_data_reveal(user=request.user, object_type="customer",
                                                        object_id=customer_id, field=f, as_of=now)
                       for f in dict.fromkeys(body.fields)}}


# --- accounts and meters ----------------------------------------------------------------------------------


@router.get("/accounts", response={200: AccountPage, **ERRORS}, summary="Search accounts")
def account_search(request, filters: Query[AccountFilter]):
    qs = selectors.account_list(user=request.user, q=filters.q, category=filters.category, status=filters.status,
                                customer_id=filters.customer_id, org_unit_code=filters.org_unit,
                                tariff_code=filters.tariff_code)
    return page(qs, limit=filters.limit, offset=filters.offset, render=lambda a: _account(request.user, a))


@router.get("/accounts/{account_id}", response={200: AccountDetailOut, **ERRORS}, summary="Account detail")
def account_detail(request, account_id: int):
    account = selectors.account_get(user=request.user, account_id=account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found", field="account_id")
    view = selectors.account_view(user=request.user, account=account)
    return _account_detail(request.user, view)


@router.get("/meters", response={200: MeterPage, **ERRORS}, summary="Search meters")
def meter_search(request, filters: Query[MeterFilter]):
    qs = selectors.meter_list(user=request.user, q=filters.q, account_id=filters.account_id, status=filters.status)
    return page(qs, limit=filters.limit, offset=filters.offset, render=_meter)


@router.get("/meters/{meter_id}", response={200: MeterOut, **ERRORS}, summary="Meter detail")
def meter_detail(request, meter_id: int):
    meter = selectors.meter_get(user=request.user, meter_id=meter_id)
    if meter is None:
        raise NotFound(f"meter {meter_id} not found", field="meter_id")
    return _meter(meter)
