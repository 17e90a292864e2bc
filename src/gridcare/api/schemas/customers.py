"""Customers, accounts, service points and meters as the API shows them.

Personal fields (name, phone, id_number, address, email) are masked for staff unless explicitly
revealed through POST /customers/{id}/reveal, which is audited.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema
from pydantic import ConfigDict


class OrgUnitOut(Schema):
    code: str
    name: str
    level: str


class CustomerOut(Schema):
    id: int
    external_id: str | None
    kind: str
    name: str
    id_type: str
    id_number: str
    phone: str
    email: str
    address: str
    industry: str
    protected_class: str
    org_unit: OrgUnitOut
    masked: list[str] = Field(description="fields shown masked; reveal them with POST /customers/{id}/reveal")


class ContactOut(Schema):
    id: int
    role: str
    name: str
    phone: str
    email: str
    preferred_channel: str


class RegisterOut(Schema):
    code: str


class MeterOut(Schema):
    id: int
    asset_number: str
    service_point_code: str | None
    account_number: str | None
    ct_ratio: Decimal
    pt_ratio: Decimal
    multiplier: Decimal
    digits: int
    status: str
    installed_on: date | None
    registers: list[str]


class ServicePointOut(Schema):
    id: int
    code: str
    address: str
    voltage_level: str
    category: str
    basic_charge_basis: str
    contracted_capacity_kva: Decimal
    contract_demand_kw: Decimal | None
    grid_cell: str
    meters: list[MeterOut]


class AccountOut(Schema):
    id: int
    number: str
    customer_id: int
    customer_name: str
    org_unit: str
    status: str
    category: str
    tariff_code: str
    household_members: int
    opened_on: date
    closed_on: date | None


class AccountDetailOut(AccountOut):
    service_points: list[ServicePointOut]


class CustomerDetailOut(CustomerOut):
    accounts: list[AccountDetailOut]
    contacts: list[ContactOut]


class CustomerPage(Schema):
    items: list[CustomerOut]
    total: int
    limit: int
    offset: int


class AccountPage(Schema):
    items: list[AccountOut]
    total: int
    limit: int
    offset: int


class MeterPage(Schema):
    items: list[MeterOut]
    total: int
    limit: int
    offset: int


Kind = Literal["person", "organisation"]
IdType = Literal["resident_id", "passport", "uscc", "other"]


class CustomerIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=128)
    org_unit_code: str = Field(..., min_length=1, max_length=32)
    kind: Kind = "person"
    id_type: IdType = "resident_id"
    id_number: str = Field("", max_length=32)
    phone: str = Field("", max_length=20)
    email: str = Field("", max_length=254)
    address: str = Field("", max_length=255)
    industry: str = Field("", max_length=64)
    protected_class: str = Field("", max_length=32)
    external_id: str | None = Field(None, max_length=64)


class CustomerPatch(Schema):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=128)
    org_unit_code: str | None = Field(None, min_length=1, max_length=32)
    kind: Kind | None = None
    id_type: IdType | None = None
    id_number: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=254)
    address: str | None = Field(None, max_length=255)
    industry: str | None = Field(None, max_length=64)
    protected_class: str | None = Field(None, max_length=32)
    external_id: str | None = Field(None, max_length=64)


PersonalField = Literal["name", "phone", "id_number", "address", "email"]


class RevealIn(Schema):
    model_config = ConfigDict(extra="forbid")

    fields: list[PersonalField] = Field(..., min_length=1)


class RevealOut(Schema):
    values: dict[str, str]
