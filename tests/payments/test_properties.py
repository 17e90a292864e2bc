"""Property tests: allocation never over- or under-pays, and any sequence of ledger operations
keeps every invariant (entries balance, header = postings, no item overpaid, balance = history)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcare.core.errors import GridcareError
from gridcare.payments.allocation import OpenItem, allocate
from gridcare.payments.models import Charge, Payment
from gridcare.payments.selectors import account_balance, ledger_check
from gridcare.payments.services import (
    approval_decide,
    approval_request,
    bill_charge_post,
    bill_credit_note_post,
    credit_apply,
    discount_post,
    late_fee_charge_post,
    payment_post,
)
from tests.payments.conftest import assert_ledger_invariants, at

items_st = st.lists(st.builds(OpenItem, charge_id=st.integers(1, 10_000), kind=st.sampled_from(["bill", "late_fee"]),
                              due_date=st.dates(date(2025, 1, 1), date(2027, 1, 1)),
                              outstanding_fen=st.integers(0, 1_000_000)),
                    max_size=12, unique_by=lambda i: i.charge_id)


@given(amount=st.integers(0, 5_000_000), items=items_st, order=st.sampled_from(["oldest_due_first", "newest_due_first"]),
       late=st.sampled_from(["first", "last"]))
def test_allocation_pays_exactly_the_amount_and_never_more_than_owed(amount, items, order, late):
    alloc = allocate(amount, items, order=order, late_fees=late)
    owed = {i.charge_id: i.outstanding_fen for i in items}
    assert alloc.applied_fen + alloc.remainder_fen == amount
    assert all(0 < fen <= owed[cid] for cid, fen in alloc.parts)
    assert len({cid for cid, _ in alloc.parts}) == len(alloc.parts)
    assert alloc.remainder_fen == 0 or alloc.applied_fen == sum(owed.values())
    # Order: every item paid before another item is fully paid (no skipping).
    assert all(fen == owed[cid] for cid, fen in alloc.parts[:-1])


class _Rollback(Exception):
    pass


op_st = st.one_of(
    st.tuples(st.just("bill"), st.integers(0, 1), st.integers(1, 200_000), st.integers(-40, 40)),
    st.tuples(st.just("pay"), st.integers(0, 1), st.integers(1, 300_000), st.sampled_from(["", "dup"])),
    st.tuples(st.just("fee"), st.integers(0, 1), st.integers(1, 5_000), st.integers(0, 3)),
    st.tuples(st.just("discount"), st.integers(0, 1), st.integers(1, 20_000), st.integers(0, 3)),
    st.tuples(st.just("credit_note"), st.integers(0, 1), st.integers(1, 100_000), st.integers(0, 3)),
    st.tuples(st.just("reverse"), st.integers(0, 1), st.integers(0, 5), st.integers(0, 0)),
    st.tuples(st.just("refund"), st.integers(0, 1), st.integers(1, 50_000), st.integers(0, 0)),
    st.tuples(st.just("apply"), st.integers(0, 1), st.integers(0, 0), st.integers(0, 0)),
)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=14))
def test_any_sequence_of_operations_keeps_the_ledger_consistent(co, ops):
    try:
        with transaction.atomic():
            _run(co, ops)
            raise _Rollback
    except _Rollback:
        pass


def _run(co, ops):
    accounts = [co.home, co.shop]
    expected = {a.pk: 0 for a in accounts}  # balance = what each successful operation should move
    now = at(2026, 11, 1)
    for n, (op, who, amount, extra) in enumerate(ops):
        account = accounts[who]
        now += timedelta(hours=1)
        try:
            if op == "bill":
                bill_charge_post(account_id=account.pk, amount_fen=amount, reference=f"B{n}", as_of=now,
                                 due_date=date(2026, 11, 15) + timedelta(days=extra), source=f"bill:p:{n}")
                expected[account.pk] += amount
            elif op == "pay":
                key = "dup-key" if extra == "dup" else f"k{n}"
                posted = payment_post(account_id=account.pk, amount_fen=amount, channel="online", method="gateway",
                                      source="testpay", received_at=now, as_of=now, idempotency_key=key)
                if posted.created:
                    expected[account.pk] -= amount
            elif op in ("fee", "discount", "credit_note"):
                bills = list(Charge.objects.filter(account=account, kind="bill").order_by("id"))
                if not bills:
                    continue
                target = bills[extra % len(bills)]
                if op == "fee":
                    if late_fee_charge_post(charge_id=target.pk, amount_fen=amount, as_of=now,
                                            through=date(2026, 11, 20) + timedelta(days=n)).created:
                        expected[account.pk] += amount
                elif op == "discount":
                    discount_post(account_id=account.pk, kind="red_packet", reference=f"RP{n}", amount_fen=amount,
                                  as_of=now)
                    expected[account.pk] -= amount
                else:
                    bill_credit_note_post(charge_id=target.pk, amount_fen=min(amount, target.amount_fen),
                                          source=f"cn:{n}", as_of=now)
                    expected[account.pk] -= min(amount, target.amount_fen)
            elif op == "reverse":
                payments = list(Payment.objects.filter(account=account, status="posted").order_by("id"))
                if not payments:
                    continue
                p = payments[amount % len(payments)]
                req = approval_request(kind="payment_reversal", account_id=account.pk, payment_id=p.pk,
                                       amount_fen=p.amount_fen, reason="r", actor=co.admin, as_of=now)
                approval_decide(request_id=req.pk, approve=True, actor=co.approver, as_of=now)
                expected[account.pk] += p.amount_fen
            elif op == "refund":
                req = approval_request(kind="refund", account_id=account.pk, amount_fen=amount, reason="r",
                                       actor=co.admin, as_of=now)
                approval_decide(request_id=req.pk, approve=True, actor=co.approver, as_of=now)
                expected[account.pk] += amount
            elif op == "apply":
                credit_apply(account_id=account.pk, as_of=now)
        except GridcareError:
            pass  # refused (e.g. refund above the credit): must have changed nothing, checked below
        for a in accounts:
            assert account_balance(account_id=a.pk).balance_fen == expected[a.pk]
    assert_ledger_invariants()
    assert ledger_check().ok
