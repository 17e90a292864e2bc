"""Payments booked through three sources and the statements the bank and the agency send back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from gridcare.access.models import User
from gridcare.customers.models import Account
from gridcare.notifications.backends import RecordingBackend
from gridcare.notifications.policy import reset_caches as reset_outbox
from gridcare.payments.models import Channel, Payment
from gridcare.reconciliation.policy import reset_caches as reset_reconciliation
from gridcare.service.policy import reset_policy_cache
from tests import factories as f
from tests.collections.conftest import at  # noqa: F401 - re-exported for the tests
from tests.collections.ledger_helpers import bill, pay

D = date(2026, 11, 2)


@pytest.fixture(autouse=True)
def _fresh_policies(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    for reset in (reset_reconciliation, reset_outbox, reset_policy_cache):
        reset()
    RecordingBackend.reset()
    yield
    for reset in (reset_reconciliation, reset_outbox, reset_policy_cache):
        reset()


@dataclass
class Books:
    approver: User
    cashier: User
    accounts: list[Account]
    icbc: list[Payment]  # five ICBC debits on D
    psbc: list[Payment]  # two agency collections on D


def icbc_file(rows: list[tuple], *, trailer: bool = True) -> bytes:
    """ICBC layout: txn_ref|value_date|amount_yuan|reference|account_number|payer_name (GBK)."""
    lines = [f"H|ICBC|{D:%Y%m%d}|{len(rows)}"]
    lines += ["|".join(str(c) for c in row) for row in rows]
    if trailer:
        lines.append(f"T|{len(rows)}")
    return ("\n".join(lines) + "\n").encode("gbk")


def psbc_file(rows: list[tuple]) -> bytes:
    lines = ["txn_ref,account_number,amount_yuan,paid_at"] + [",".join(str(c) for c in r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def books(org) -> Books:
    accounts = []
    for i in range(5):
        customer = f.customer(org["PY1"], name=f"客户{i}", phone=f"1380000000{i}")
        accounts.append(f.account(customer, number=f"20000000{i:02d}"))
    icbc = []
    for i, account in enumerate(accounts):
        bill(account, 10_000 * (i + 1), due=date(2026, 11, 15))
        icbc.append(pay(account, 10_000 * (i + 1), on=D, source="ICBC", external_ref=f"DK2026110200{i}"))
    psbc = [pay(accounts[0], 3_000, on=D, source="PSBC", channel=Channel.AGENCY, external_ref="PS0001"),
            pay(accounts[1], 4_500, on=D, source="PSBC", channel=Channel.AGENCY, external_ref="PS0002")]
    return Books(approver=f.user("approver", org["GD"], username="recon1"),
                 cashier=f.user("cashier", org["PY"], username="cash9"), accounts=accounts, icbc=icbc, psbc=psbc)
