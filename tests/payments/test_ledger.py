"""The ledger's core: charges, payments, allocation order, credit, credit notes, late fees."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import DatabaseError, transaction

from gridcare.core.errors import ValidationFailed
from gridcare.payments.models import Charge, JournalEntry, Ledger, Payment, Posting
from gridcare.payments.selectors import account_balance, charge_outstanding, open_items
from gridcare.payments.services import (
    DuplicatePaymentMismatch,
    bill_charge_post,
    bill_credit_note_post,
    late_fee_charge_post,
    payment_post,
)
from tests.payments.conftest import assert_ledger_invariants, at, bill

pytestmark = pytest.mark.django_db


def pay(account, fen, *, key=None, ref="", when=None, first=None):
    return payment_post(account_id=account.pk, amount_fen=fen, channel="counter", method="cash", source="PY",
                        received_at=when or at(2026, 11, 20), as_of=when or at(2026, 11, 20), idempotency_key=key,
                        external_ref=ref, first_charge_id=first)


def test_bill_posts_a_balanced_open_item_and_is_idempotent(co):
    first = bill_charge_post(account_id=co.home.pk, amount_fen=12345, reference="B1", due_date=date(2026, 11, 15),
                             as_of=at(2026, 11, 1), source="bill:77", bill_id=77)
    again = bill_charge_post(account_id=co.home.pk, amount_fen=12345, reference="B1", due_date=date(2026, 11, 15),
                             as_of=at(2026, 11, 2), source="bill:77", bill_id=77)
    assert first.created is True and again.created is False and again.charge.pk == first.charge.pk
    assert list(Posting.objects.filter(entry=first.charge.entry).order_by("id").values_list("ledger", "amount_fen")) \
        == [(Ledger.AR, 12345), (Ledger.REVENUE, -12345)]
    assert account_balance(account_id=co.home.pk).balance_fen == 12345
    assert JournalEntry.objects.count() == 1
    assert_ledger_invariants()


def test_payment_pays_oldest_first_and_keeps_the_rest_as_credit(co):
    older = bill(co.home, 10000, due=date(2026, 10, 15), n=1)
    newer = bill(co.home, 5000, due=date(2026, 11, 15), n=2)
    posted = pay(co.home, 12000)
    assert posted.created and posted.payment.receipt_number.startswith("R20261120")
    assert charge_outstanding(charge_id=older.pk) == 0
    assert charge_outstanding(charge_id=newer.pk) == 3000
    over = pay(co.home, 4000)
    assert charge_outstanding(charge_id=newer.pk) == 0
    lines = list(over.payment.entry.postings.order_by("id").values_list("ledger", "amount_fen", "charge_id"))
    assert lines == [(Ledger.CLEARING, 4000, None), (Ledger.AR, -3000, newer.pk), (Ledger.CREDIT, -1000, None)]
    bal = account_balance(account_id=co.home.pk)
    assert (bal.owed_fen, bal.credit_fen, bal.balance_fen) == (0, 1000, -1000)
    assert_ledger_invariants()


def test_payer_chosen_bill_goes_first(co):
    older = bill(co.home, 10000, due=date(2026, 10, 15), n=1)
    newer = bill(co.home, 5000, due=date(2026, 11, 15), n=2)
    pay(co.home, 6000, first=newer.pk)
    assert (charge_outstanding(charge_id=older.pk), charge_outstanding(charge_id=newer.pk)) == (9000, 0)


def test_late_fees_last_by_default_and_first_when_configured(co, settings, tmp_path):
    b = bill(co.home, 10000, due=date(2026, 10, 15), n=1)
    fee = late_fee_charge_post(charge_id=b.pk, amount_fen=300, through=date(2026, 10, 31), as_of=at(2026, 11, 1)).charge
    assert fee.kind == Charge.Kind.LATE_FEE and fee.parent_id == b.pk and fee.due_date == date(2026, 10, 31)
    pay(co.home, 5000)
    assert (charge_outstanding(charge_id=b.pk), charge_outstanding(charge_id=fee.pk)) == (5000, 300)

    override = tmp_path / "company.yaml"
    override.write_text("allocation:\n  late_fees: first\n", encoding="utf-8")
    settings.GRIDCARE_PAYMENTS_POLICY = str(override)
    pay(co.home, 1000)
    assert (charge_outstanding(charge_id=b.pk), charge_outstanding(charge_id=fee.pk)) == (4300, 0)
    assert_ledger_invariants()


def test_late_fee_post_is_idempotent_by_bill_and_day(co):
    b = bill(co.home, 10000, due=date(2026, 10, 15), n=1)
    one = late_fee_charge_post(charge_id=b.pk, amount_fen=300, through=date(2026, 10, 31), as_of=at(2026, 11, 1))
    two = late_fee_charge_post(charge_id=b.pk, amount_fen=300, through=date(2026, 10, 31), as_of=at(2026, 11, 2))
    assert one.created and not two.created and one.charge.pk == two.charge.pk
    assert account_balance(account_id=co.home.pk).balance_fen == 10300


def test_credit_is_applied_to_a_new_bill(co):
    pay(co.home, 8000)  # nothing owed: all credit
    posted = bill_charge_post(account_id=co.home.pk, amount_fen=5000, reference="B9", due_date=date(2026, 12, 15),
                              as_of=at(2026, 12, 1), source="bill:9")
    assert posted.credit_applied_fen == 5000
    assert charge_outstanding(charge_id=posted.charge.pk) == 0
    bal = account_balance(account_id=co.home.pk)
    assert (bal.owed_fen, bal.credit_fen) == (0, 3000)
    apply_entry = JournalEntry.objects.get(kind=JournalEntry.Kind.CREDIT_APPLY)
    assert sorted(apply_entry.postings.values_list("ledger", "amount_fen")) == [(Ledger.AR, -5000), (Ledger.CREDIT, 5000)]
    assert_ledger_invariants()


def test_credit_note_reduces_the_bill_and_credits_what_was_already_paid(co):
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    pay(co.home, 7000)
    bill_credit_note_post(charge_id=b.pk, amount_fen=10000, source="bill:credit:1", as_of=at(2026, 11, 21))
    assert charge_outstanding(charge_id=b.pk) == 0
    bal = account_balance(account_id=co.home.pk)
    assert (bal.owed_fen, bal.credit_fen, bal.balance_fen) == (0, 7000, -7000)
    assert_ledger_invariants()


def test_same_key_posts_once_and_a_different_amount_is_refused(co):
    bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    first = pay(co.home, 5000, key="k-1")
    again = pay(co.home, 5000, key="k-1")
    assert first.created and not again.created and again.payment.pk == first.payment.pk
    with pytest.raises(DuplicatePaymentMismatch):
        pay(co.home, 5100, key="k-1")
    by_ref = pay(co.home, 100, ref="BANK-1")
    assert not pay(co.home, 100, ref="BANK-1").created
    assert Payment.objects.count() == 2 and by_ref.payment.external_ref == "BANK-1"
    assert account_balance(account_id=co.home.pk).balance_fen == 10000 - 5100
    assert_ledger_invariants()


@pytest.mark.parametrize("field,kwargs", [
    ("amount_fen", {"amount_fen": 0}),
    ("amount_fen", {"amount_fen": -5}),
    ("channel", {"channel": "pigeon"}),
    ("method", {"method": "barter"}),
    ("source", {"source": ""}),
])
def test_bad_payment_input_names_the_field_and_posts_nothing(co, field, kwargs):
    args = {"account_id": co.home.pk, "amount_fen": 100, "channel": "counter", "method": "cash", "source": "PY",
            "received_at": at(2026, 11, 20), "as_of": at(2026, 11, 20)}
    args.update(kwargs)
    with pytest.raises(ValidationFailed) as err:
        payment_post(**args)
    assert err.value.field == field
    assert JournalEntry.objects.count() == 0 and Payment.objects.count() == 0


def test_postings_cannot_be_updated(co):
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        Posting.objects.filter(charge=b).update(amount_fen=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        JournalEntry.objects.filter(pk=b.entry_id).update(description="edited")
    assert charge_outstanding(charge_id=b.pk) == 10000


def test_open_items_report_overdue_days(co):
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    [item] = open_items(account_id=co.home.pk, as_of_date=date(2026, 11, 20))
    assert (item.charge.pk, item.outstanding_fen, item.overdue_days) == (b.pk, 10000, 5)
