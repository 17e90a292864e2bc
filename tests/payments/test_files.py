"""Debit files per bank, result import, agency files: row-level errors, nothing posted twice."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.payments.fileformats import FileInvalid
from gridcare.payments.models import DebitBatch, DebitItem, ImportedFile, Payment
from gridcare.payments.selectors import account_balance, charge_outstanding, debit_ratio
from gridcare.payments.services import (
    AlreadyImported,
    agency_file_import,
    debit_batch_generate,
    debit_result_import,
    mandate_sign,
)
from tests.payments.conftest import assert_ledger_invariants, at, bill

pytestmark = pytest.mark.django_db
NOW = at(2026, 11, 18, 8)


@pytest.fixture
def mandated(co):
    bill(co.home, 12345, due=date(2026, 11, 15), n=1)
    bill(co.shop, 500000, due=date(2026, 11, 15), n=2)
    bill(co.flat, 999, due=date(2026, 11, 15), n=3)
    mandate_sign(account_id=co.home.pk, bank_code="ICBC", bank_account="6222020200112233445", holder_name="张小三",
                 signed_on=date(2026, 1, 5), actor=None)
    mandate_sign(account_id=co.shop.pk, bank_code="ICBC", bank_account="6222020200998877665",
                 holder_name="市桥五金店", signed_on=date(2026, 1, 5), actor=None)
    mandate_sign(account_id=co.flat.pk, bank_code="CCB", bank_account="6217000011112222", holder_name="李四",
                 signed_on=date(2026, 1, 5), actor=None)
    return co


def test_icbc_debit_file_in_its_layout(mandated):
    batch = debit_batch_generate(bank_code="ICBC", as_of=NOW)
    text = bytes(batch.content).decode("gbk").splitlines()
    assert batch.number == "ICBC20261118001" and batch.file_name == "DK_ICBC_20261118_ICBC20261118001.txt"
    assert text[0] == "H|ICBC20261118001|20261118|2|5123.45"
    assert text[1] == "ICBC20261118001000001|6222020200112233445|张小三|123.45|1000000001"
    assert text[2] == "ICBC20261118001000002|6222020200998877665|市桥五金店|5000.00|1000000002"
    assert text[3] == "T|2|5123.45"
    assert debit_batch_generate(bank_code="ICBC", as_of=NOW) is None  # items pending: nothing new to send


def test_ccb_fixed_width_file(mandated):
    batch = debit_batch_generate(bank_code="CCB", as_of=NOW)
    lines = bytes(batch.content).decode("gbk").splitlines()
    assert lines[0] == f"{'CCB20261118001':<20}20261118{1:0>8}{999:0>16}"
    assert lines[1] == f"{'CCB20261118001000001':<24}{'6217000011112222':<20}{'999':0>14}{'2000000001':<16}"


def result_file(rows: list[str]) -> bytes:
    return ("H|x\n" + "\n".join(rows) + "\nT|x\n").encode("gbk")


def test_result_import_posts_successes_marks_failures_and_reports_bad_rows(mandated):
    co = mandated
    debit_batch_generate(bank_code="ICBC", as_of=NOW)
    content = result_file([
        "ICBC20261118001000001|123.45|0000|B001|成功",
        "ICBC20261118001000002|5000.00|3001|B002|余额不足",
        "ICBC20261118009999999|1.00|0000|B003|成功",      # unknown item
        "ICBC20261118001000001|12.3x|0000|B004|bad",     # bad amount
        "only|three|fields",
    ])
    report = debit_result_import(bank_code="ICBC", content=content, file_name="r.txt", as_of=at(2026, 11, 19, 9))
    assert (report.posted, report.posted_fen, report.failed) == (1, 12345, 1)
    assert [(e.line, e.field) for e in report.errors] == [(4, "reference"), (5, "amount_yuan"), (6, None)]
    assert account_balance(account_id=co.home.pk).balance_fen == 0
    assert account_balance(account_id=co.shop.pk).balance_fen == 500000
    item = DebitItem.objects.get(reference="ICBC20261118001000002")
    assert (item.status, item.result_code, item.result_message) == ("failed", "3001", "余额不足")
    assert DebitBatch.objects.get().status == "settled"
    p = Payment.objects.get()
    assert (p.channel, p.method, p.source, p.external_ref) == ("bank_debit", "debit", "ICBC", "ICBC20261118001000001")
    with pytest.raises(AlreadyImported):
        debit_result_import(bank_code="ICBC", content=content, file_name="r.txt", as_of=at(2026, 11, 19, 10))
    resent = debit_result_import(bank_code="ICBC", content=result_file(["ICBC20261118001000001|123.45|0000|B001|ok"]),
                                 file_name="r2.txt", as_of=at(2026, 11, 19, 11))
    assert (resent.posted, resent.duplicates) == (0, 1)
    assert Payment.objects.count() == 1 and ImportedFile.objects.count() == 2
    assert debit_batch_generate(bank_code="ICBC", as_of=at(2026, 11, 20, 8)).items_count == 1  # the shop again
    assert_ledger_invariants()


def test_unreadable_file_is_refused_whole(mandated):
    debit_batch_generate(bank_code="ICBC", as_of=NOW)
    with pytest.raises(FileInvalid):
        debit_result_import(bank_code="ICBC", content=b"\xff\xfe\x00garbage\x81", file_name="x", as_of=NOW)
    with pytest.raises(FileInvalid):
        debit_result_import(bank_code="ICBC", content=b"  \n", file_name="x", as_of=NOW)
    assert ImportedFile.objects.count() == 0 and Payment.objects.count() == 0


def test_agency_file(co):
    b = bill(co.home, 8000, due=date(2026, 11, 15), n=1)
    bill(co.home, 2000, due=date(2026, 10, 15), n=2)
    content = (b"txn_ref,account_number,amount_yuan,paid_at,payment_reference\n"
               b"P1,1000000001,80.00,2026-11-17 10:00:00,PR000001\n"
               b"P2,1000000002,10.00,2026-11-17 11:00:00,\n"
               b"P3,9999999999,10.00,2026-11-17 11:00:00,\n"
               b"P4,1000000002,10.001,2026-11-17 25:00:00,\n"
               b"P1,1000000001,80.00,2026-11-17 10:00:00,PR000001\n"
               b"P5,1000000002,10.00,2026-12-30 11:00:00,\n")
    report = agency_file_import(agency_code="PSBC", content=content, file_name="psbc.csv", as_of=NOW)
    assert (report.posted, report.posted_fen, report.duplicates) == (2, 9000, 1)
    assert [(e.line, e.field) for e in report.errors] == [(4, "account_number"), (5, "amount_yuan"), (5, "paid_at"),
                                                          (7, "paid_at")]
    assert charge_outstanding(charge_id=b.pk) == 0  # the named bill first, though another is older
    assert account_balance(account_id=co.shop.pk).credit_fen == 1000
    again = agency_file_import(agency_code="PSBC", content=content.replace(b"psbc", b"PSBC") + b"\n",
                               file_name="psbc2.csv", as_of=NOW)
    assert (again.posted, again.duplicates) == (0, 3)
    assert Payment.objects.count() == 2
    assert_ledger_invariants()


def test_debit_ratio_counts_active_mandates(mandated):
    r = debit_ratio(as_of_date=date(2026, 11, 18))
    assert (r.mandated_accounts, r.total_accounts, str(r.percent)) == (3, 3, "100.00")
    assert debit_ratio(as_of_date=date(2026, 1, 4)).mandated_accounts == 0
