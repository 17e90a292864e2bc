"""The bulk charge writer (charges_post_many, late_fee_charges_post): the same entries as one at a time."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.payments.models import Charge, JournalEntry, Ledger, Posting
from gridcare.payments.selectors import account_balance, charge_outstanding
from gridcare.payments.services import (
    ChargeIn,
    LateFeeIn,
    charges_post_many,
    late_fee_charge_post,
    late_fee_charges_post,
    payment_post,
)
from tests.payments.conftest import assert_ledger_invariants, at, bill

pytestmark = pytest.mark.django_db


def _lines(charge: Charge) -> list[tuple]:
    return list(Posting.objects.filter(entry=charge.entry).order_by("id")
                .values_list("ledger", "amount_fen", "charge_id"))


def test_bills_and_late_fees_in_bulk_are_balanced_open_items_and_idempotent(co):
    items = [
        ChargeIn(account_id=co.home.pk, kind="bill", source="bill:ext:1", amount_fen=12_345, reference="B1",
                 due_date=date(2026, 11, 15), business_date=date(2026, 11, 1), payment_reference="P1",
                 period_code="2026-10", bill_id=901, description="电费 2026-10 B1"),
        ChargeIn(account_id=co.shop.pk, kind="bill", source="bill:ext:2", amount_fen=500_000, reference="B2",
                 due_date=date(2026, 11, 15), business_date=date(2026, 11, 1)),
        ChargeIn(account_id=co.home.pk, kind="bill", source="bill:ext:1", amount_fen=1, reference="dup",
                 due_date=date(2026, 11, 15), business_date=date(2026, 11, 1)),  # same source: ignored
    ]
    first = charges_post_many(items=items, as_of=at(2026, 11, 1))
    assert first.created == {"bill:ext:1", "bill:ext:2"} and first.posted_fen == 512_345
    b1 = Charge.objects.get(pk=first.charge_ids["bill:ext:1"])
    assert (b1.kind, b1.account_id, b1.amount_fen, b1.reference, b1.payment_reference, b1.period_code, b1.bill_id,
            b1.due_date) == ("bill", co.home.pk, 12_345, "B1", "P1", "2026-10", 901, date(2026, 11, 15))
    assert (b1.entry.kind, b1.entry.source, b1.entry.description, b1.entry.business_date) == (
        "charge", "bill:ext:1", "电费 2026-10 B1", date(2026, 11, 1))
    assert _lines(b1) == [(Ledger.AR, 12_345, b1.pk), (Ledger.REVENUE, -12_345, None)]

    fees = late_fee_charges_post(items=[LateFeeIn(charge_id=b1.pk, amount_fen=300, through=date(2026, 11, 30)),
                                        LateFeeIn(charge_id=first.charge_ids["bill:ext:2"], amount_fen=15_000,
                                                  through=date(2026, 11, 30), description="违约金 B2")],
                                 as_of=at(2026, 11, 30, 23))
    assert fees.created == {f"latefee:{b1.pk}:2026-11-30", f"latefee:{first.charge_ids['bill:ext:2']}:2026-11-30"}
    fee = Charge.objects.get(pk=fees.charge_ids[f"latefee:{b1.pk}:2026-11-30"])
    assert (fee.kind, fee.parent_id, fee.reference, fee.payment_reference, fee.period_code, fee.due_date) == (
        "late_fee", b1.pk, "B1-LF20261130", "P1", "2026-10", date(2026, 11, 30))
    assert (fee.entry.kind, fee.entry.business_date, fee.entry.description) == (
        "late_fee", date(2026, 11, 30), "违约金 B1（截至 2026-11-30）")
    assert _lines(fee) == [(Ledger.AR, 300, fee.pk), (Ledger.LATE_FEE_INCOME, -300, None)]
    assert account_balance(account_id=co.home.pk).balance_fen == 12_645
    assert account_balance(account_id=co.shop.pk).balance_fen == 515_000

    entries = JournalEntry.objects.count()
    again = charges_post_many(items=items, as_of=at(2026, 11, 2))
    fees_again = late_fee_charges_post(items=[LateFeeIn(charge_id=b1.pk, amount_fen=300, through=date(2026, 11, 30))],
                                       as_of=at(2026, 12, 1))
    single = late_fee_charge_post(charge_id=b1.pk, amount_fen=300, through=date(2026, 11, 30), as_of=at(2026, 12, 1))
    assert (again.created, fees_again.created, single.created) == (set(), set(), False)
    assert again.charge_ids == first.charge_ids
    assert fees_again.charge_ids[f"latefee:{b1.pk}:2026-11-30"] == fee.pk == single.charge.pk
    assert JournalEntry.objects.count() == entries
    assert_ledger_invariants()


def test_credit_held_pays_the_new_late_fee_at_once(co):
    b = bill(co.home, 10_000, due=date(2026, 10, 15), n=1)
    payment_post(account_id=co.home.pk, amount_fen=10_500, channel="counter", method="cash", source="PY",
                 received_at=at(2026, 11, 20), as_of=at(2026, 11, 20))  # 5.00 元 left as credit
    posted = late_fee_charges_post(items=[LateFeeIn(charge_id=b.pk, amount_fen=300, through=date(2026, 11, 30))],
                                   as_of=at(2026, 11, 30, 23))
    fee_id = posted.charge_ids[f"latefee:{b.pk}:2026-11-30"]
    assert posted.credit_applied_fen == {co.home.pk: 300}
    assert charge_outstanding(charge_id=fee_id) == 0
    balance = account_balance(account_id=co.home.pk)
    assert (balance.owed_fen, balance.credit_fen) == (0, 200)
    assert_ledger_invariants()


def test_bad_items_post_nothing(co):
    b = bill(co.home, 10_000, due=date(2026, 10, 15), n=1)
    good = ChargeIn(account_id=co.home.pk, kind="bill", source="bill:ext:9", amount_fen=100, reference="B9",
                    due_date=date(2026, 11, 15), business_date=date(2026, 11, 1))
    for bad, field in ((ChargeIn(**{**good.__dict__, "kind": "payment_return"}), "kind"),
                       (ChargeIn(**{**good.__dict__, "source": "bill:ext:10", "amount_fen": 0}), "amount_fen"),
                       (ChargeIn(**{**good.__dict__, "source": " "}), "source"),
                       (ChargeIn(**{**good.__dict__, "source": "bill:ext:11", "reference": ""}), "reference")):
        with pytest.raises(ValidationFailed) as error:
            charges_post_many(items=[good, bad], as_of=at(2026, 11, 1))
        assert error.value.field == field
    with pytest.raises(NotFound):
        late_fee_charges_post(items=[LateFeeIn(charge_id=b.pk, amount_fen=300, through=date(2026, 11, 30)),
                                     LateFeeIn(charge_id=b.pk + 999, amount_fen=300, through=date(2026, 11, 30))],
                              as_of=at(2026, 11, 30))
    assert Charge.objects.count() == 1 and JournalEntry.objects.count() == 1
