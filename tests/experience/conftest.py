"""Experience tests share the KPI tests' small company (two cities, three accounts, staff) and add
bills, a late fee, work orders, an auto-debit agreement, a prepaid account and an e-mail contact."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.customers.models import Contact
from gridcare.customers.services import contact_add
from gridcare.experience.policy import reset_rules
from gridcare.payments.services import late_fee_charge_post, prepay_configure
from gridcare.service.services import WorkOrderInput, work_order_create
from tests.collections.ledger_helpers import bill, pay
from tests.kpi import conftest as kpi_fixtures
from tests.kpi.conftest import at, sign_mandate

co = kpi_fixtures.co
_fresh = kpi_fixtures._fresh

AS_OF = at(2026, 11, 5, 9)


@pytest.fixture(autouse=True)
def _fresh_rules():
    reset_rules()
    yield
    reset_rules()


def _order(company, *, category: str, created, account=None):
    data = WorkOrderInput(channel="hotline", description="电费账单有疑问，请核实", category=category,
                          account_number=(account or company.home).number, contact_phone="13812345678")
    return work_order_create(actor=company.agent, data=data, as_of=created)


@pytest.fixture
def world(co):
    # home: 6 000 yuan billed this year, 1 000 yuan overdue, a late fee, three contacts (one complaint)
    bill(co.home, 500_000, due=date(2026, 6, 15))
    pay(co.home, 500_000, on=date(2026, 6, 10))
    overdue = bill(co.home, 100_000, due=date(2026, 10, 15))
    late_fee_charge_post(charge_id=overdue.pk, amount_fen=500, through=date(2026, 10, 31), as_of=at(2026, 11, 1))
    _order(co, category="inquiry.tariff.bill", created=at(2026, 9, 1))
    _order(co, category="inquiry.payment", created=at(2026, 10, 1))
    _order(co, category="complaint.business.billing", created=at(2026, 10, 20))
    # shop: auto-debit and prepaid
    sign_mandate(co.shop, date(2026, 1, 1), co.admin)
    prepay_configure(account_id=co.shop.pk, prepaid=True, low_balance_fen=None, actor=co.admin, as_of=AS_OF)
    # flat: an e-mail contact
    contact = contact_add(customer=co.flat.customer, name="李四", email="li@example.com", actor=co.admin)
    Contact.objects.filter(pk=contact.pk).update(preferred_channel="email")
    return co


