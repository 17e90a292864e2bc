"""A small world shared by the customer, access, API, web and browser tests (import the fixtures by name).

GD ─┬─ GZ ── PY ── PY1        zhang (person, PY1) holds A1; li (person, GZ) is authorised on A1
    └─ SZ                     wang (person, SZ) holds A2; org (organisation, GZ) holds A3
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from gridcare.access.models import User
from gridcare.customers.models import Account, Customer, Meter, OrgUnit
from gridcare.customers.services import authorization_grant, contact_add, resident_id_check_digit
from tests.factories import account, customer, meter, org_tree, service_point, user

ZHANG_ID = "11010119900307123" + resident_id_check_digit("11010119900307123")


@pytest.fixture
def fast_passwords(settings):
    """PBKDF2 would cost ~0.3 s per test user; the hash strength is not under test here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class World:
    units: dict[str, OrgUnit]
    zhang: Customer
    wang: Customer
    org: Customer
    li: Customer
    a1: Account
    a2: Account
    a3: Account
    m1: Meter
    clerk: User  # billing clerk, GZ
    agent_sz: User  # agent, SZ
    manager: User  # account manager, GZ
    admin: User  # administrator, whole company
    portal_zhang: User
    portal_li: User


def build_world() -> World:
    units = org_tree()
    zhang = customer(units["PY1"], name="张小三", phone="13812345678", id_number=ZHANG_ID,
                     address="广州市番禺区市桥街道光明北路1号3栋2单元1502室", external_id="C-ZHANG")
    wang = customer(units["SZ"], name="王五", phone="13900001111", address="深圳市南山区蛇口望海路8号",
                    external_id="C-WANG")
    org = customer(units["GZ"], name="广州市恒达五金制品有限公司", kind="organisation", phone="020-88881234",
                   id_type="uscc", address="广州市天河区中山大道西100号", external_id="C-ORG")
    li = customer(units["GZ"], name="李四", phone="13700002222", external_id="C-LI")
    a1 = account(zhang, number="0500000010", tariff_code="gz-residential")
    a2 = account(wang, number="0500000020", tariff_code="sz-residential")
    a3 = account(org, number="0500000030", category="general_ci", tariff_code="gd-ci-tou-lt1kv")
    p1 = service_point(a1, code="SP-A1", address="广州市番禺区市桥街道光明北路1号3栋2单元1502室")
    p3 = service_point(a3, code="SP-A3", address="广州市天河区中山大道西100号", voltage_level="380V",
                       contracted_capacity_kva="100")
    m1 = meter(p1, asset_number="M-A1", registers=("total", "peak", "flat", "valley"))
    meter(p3, asset_number="M-A3", ct_ratio="40", pt_ratio="1")
    contact_add(customer=org, name="陈大文", phone="13611112222", role="billing")
    authorization_grant(person=li, account=a1, scope="pay", valid_from=date(2026, 1, 1))
    return World(
        units=units, zhang=zhang, wang=wang, org=org, li=li, a1=a1, a2=a2, a3=a3, m1=m1,
        clerk=user("billing_clerk", org_unit=units["GZ"], username="clerk"),
        agent_sz=user("agent", org_unit=units["SZ"], username="agent_sz"),
        manager=user("account_manager", org_unit=units["GZ"], username="manager"),
        admin=user("administrator", username="admin"),
        portal_zhang=user("customer", customer=zhang, username="zhang"),
        portal_li=user("customer", customer=li, username="li"),
    )


@pytest.fixture
def world(db, fast_passwords) -> World:
    return build_world()
