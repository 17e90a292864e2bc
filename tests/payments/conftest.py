"""A supply company with residential and commercial accounts, a cashier and two approvers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum

from gridcare.access.models import User
from gridcare.customers.models import Account, OrgUnit
from gridcare.notifications.backends import RecordingBackend
from gridcare.notifications.policy import reset_caches as reset_outbox
from gridcare.payments.models import CUSTOMER_LEDGERS, AccountLedger, JournalEntry, Ledger, Posting
from gridcare.payments.policy import reset_caches as reset_payments
from tests import factories as f

TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@dataclass
class Company:
    org: dict[str, OrgUnit]
    cashier: User
    cashier2: User
    approver: User
    approver2: User
    agent: User
    admin: User
    home: Account
    shop: Account
    flat: Account


@pytest.fixture(autouse=True)
def _fresh_policies(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {
        "sms": "gridcare.notifications.backends.RecordingBackend",
        "email": "gridcare.notifications.backends.RecordingBackend",
    }
    reset_payments()
    reset_outbox()
    RecordingBackend.reset()
    yield
    reset_payments()
    reset_outbox()


@pytest.fixture
def co(org) -> Company:
    resident = f.customer(org["PY1"], name="张小三", phone="13812345678")
    home = f.account(resident, number="1000000001", category="residential")
    owner = f.customer(org["PY1"], name="市桥五金店", phone="13900000002", kind="organisation")
    shop = f.account(owner, number="1000000002", category="general_ci", tariff_code="")
    other = f.customer(org["SZ"], name="李四", phone="13700000003")
    flat = f.account(other, number="2000000001", category="residential")
    return Company(
        org=org, cashier=f.user("cashier", org["PY"], username="cash1"),
        cashier2=f.user("cashier", org["PY"], username="cash2"),
        approver=f.user("approver", org["GZ"], username="appr1"),
        approver2=f.user("approver", org["GZ"], username="appr2"),
        agent=f.user("agent", org["PY"], username="agent1"),
        admin=f.user("administrator", org["GD"], username="admin1"),
        home=home, shop=shop, flat=flat,
    )


def assert_ledger_invariants() -> None:
    """Every entry balances; every header equals the sum of its account's customer-side postings."""
    unbalanced = list(JournalEntry.objects.annotate(s=Sum("postings__amount_fen")).exclude(s=0).values_list("pk", "s"))
    assert unbalanced == []
    assert not JournalEntry.objects.filter(postings__isnull=True).exists()
    sums = dict(Posting.objects.filter(ledger__in=CUSTOMER_LEDGERS).values("account_id")
                .annotate(s=Sum("amount_fen")).values_list("account_id", "s"))
    headers = dict(AccountLedger.objects.values_list("account_id", "balance_fen"))
    for account_id, total in sums.items():
        assert headers.get(account_id) == total, account_id
    for account_id, balance in headers.items():
        assert sums.get(account_id, 0) == balance, account_id
    # An open item is never overpaid: the receivable postings of a charge sum to ≥ 0.
    negative = (Posting.objects.filter(ledger=Ledger.AR, charge__isnull=False).values("charge_id")
                .annotate(s=Sum("amount_fen")).filter(s__lt=0))
    assert list(negative) == []


def bill(account: Account, amount_fen: int, *, due: date, n: int, issued: datetime | None = None):
    from gridcare.payments.services import bill_charge_post

    return bill_charge_post(account_id=account.pk, amount_fen=amount_fen, reference=f"B{n:06d}",
                            due_date=due, as_of=issued or at(due.year, due.month, 1), source=f"bill:test:{n}",
                            period_code=f"{due:%Y-%m}", payment_reference=f"PR{n:06d}").charge
