"""Statement import and matching against the books, discrepancies with supervision orders,
day close, manual resolution, idempotency and all-or-nothing imports."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.payments.fileformats import FileInvalid
from gridcare.reconciliation.models import DailyReport, Discrepancy, Statement, StatementLine
from gridcare.reconciliation.selectors import auto_reconciliation_rate
from gridcare.reconciliation.services import (
    StatementRejected,
    discrepancy_resolve,
    reconciliation_day_close,
    statement_import,
)
from gridcare.service.models import WorkOrder
from tests.reconciliation.conftest import D, at, icbc_file, psbc_file


def _icbc_statement(books) -> bytes:
    a = [acct.number for acct in books.accounts]
    return icbc_file([
        ("B001", "20261102", "100.00", "DK20261102000", a[0], "客户0"),  # matched by reference
        ("B002", "20261103", "200.00", "", a[1], "客户1"),  # no reference: account + amount + date (T+1)
        ("B003", "20261102", "305.00", "DK20261102002", a[2], "客户2"),  # amount differs (books: 300.00)
        ("B004", "20261102", "400.00", "DK20261102003", a[3], "客户3"),  # matched
        ("B005", "20261102", "400.00", "DK20261102003", a[3], "客户3"),  # debited twice: 重复扣费
        ("B006", "20261102", "88.00", "UNKNOWN-REF", "", "路人"),  # money nobody recorded
    ])  # DK20261102004 (500.00) is not on the statement: 资金未到账 at day close


def test_import_matches_and_opens_a_supervision_order_for_each_discrepancy(books):
    result = statement_import(source="ICBC", kind="bank", content=_icbc_statement(books), file_name="icbc.txt",
                              actor=books.approver, as_of=at(2026, 11, 3, 9))
    assert result.created and result.lines == 6
    assert result.counts == {"matched": 3, "mismatched": 1, "duplicate": 1, "unmatched": 1}
    lines = {line.txn_ref: line for line in StatementLine.objects.all()}
    assert (lines["B001"].payment, lines["B001"].method, lines["B001"].auto) == (books.icbc[0], "reference", True)
    assert (lines["B002"].payment, lines["B002"].method) == (books.icbc[1], "account_amount_date")
    assert (lines["B003"].status, lines["B003"].reason) == ("mismatched", "amount")
    assert (lines["B005"].status, lines["B005"].payment) == ("duplicate", books.icbc[3])
    kinds = sorted(Discrepancy.objects.values_list("kind", flat=True))
    assert kinds == ["amount", "duplicate", "unrecorded"]
    amount = Discrepancy.objects.get(kind="amount")
    assert (amount.difference_fen, amount.account, amount.amount_fen) == (500, books.accounts[2], 30_500)
    for discrepancy in Discrepancy.objects.all():
        order = discrepancy.work_order
        assert order is not None and order.status in WorkOrder.OPEN_STATUSES
        assert order.category == "business.other" and order.subject.startswith("对账异常督办")
        assert order.external_ref == f"reconciliation:{discrepancy.key}"
        assert (order.channel, order.account) == ("system", discrepancy.account)
    assert "差额 5.00 元" in amount.work_order.description


def test_many_problems_of_one_customer_do_not_look_like_repeated_calls(books):
    from gridcare.service.models import NegativeListEntry

    a0 = books.accounts[0].number
    content = icbc_file([(f"X{i}", "20261102", f"{i + 1}.00", f"NOPE{i}", a0, "客户0") for i in range(5)])
    statement_import(source="ICBC", content=content, file_name="x.txt", actor=None, as_of=at(2026, 11, 3, 9))
    orders = WorkOrder.objects.filter(customer=books.accounts[0].customer)
    assert orders.count() == 5
    assert not orders.filter(repeat_contact=True).exists() and not NegativeListEntry.objects.exists()


def test_reimporting_the_same_file_changes_nothing_and_overlapping_files_skip_known_lines(books):
    content = _icbc_statement(books)
    statement_import(source="ICBC", content=content, file_name="icbc.txt", actor=None, as_of=at(2026, 11, 3, 9))
    again = statement_import(source="ICBC", content=content, file_name="icbc-again.txt", actor=None,
                             as_of=at(2026, 11, 3, 10))
    assert not again.created
    assert (Statement.objects.count(), StatementLine.objects.count(), Discrepancy.objects.count(),
            WorkOrder.objects.count()) == (1, 6, 3, 3)
    a = books.accounts
    overlap = icbc_file([("B001", "20261102", "100.00", "DK20261102000", a[0], "客户0"),
                         ("B007", "20261102", "500.00", "DK20261102004", a[4], "客户4")])
    result = statement_import(source="ICBC", content=overlap, file_name="icbc-2.txt", actor=None,
                              as_of=at(2026, 11, 3, 11))
    assert (result.lines, result.skipped, result.counts["matched"]) == (2, 1, 1)
    assert StatementLine.objects.filter(payment=books.icbc[0]).count() == 1  # never matched twice


def test_a_malformed_row_rejects_the_whole_statement(books):
    a = books.accounts
    content = icbc_file([
        ("B001", "20261102", "100.00", "DK20261102000", a[0], "客户0"),
        ("B002", "2026-13-45", "200.00", "", a[1], "客户1"),
        ("B003", "20261102", "-5", "DK20261102002", a[2], "客户2"),
        ("B004", "20261102", "400.00", "DK20261102003"),
        ("B001", "20261102", "100.00", "X", a[0], "客户0"),
    ])
    with pytest.raises(StatementRejected) as rejected:
        statement_import(source="ICBC", content=content, file_name="bad.txt", actor=None, as_of=at(2026, 11, 3))
    assert [(e.line, e.field) for e in rejected.value.errors] == [
        (3, "value_date"), (4, "amount_yuan"), (5, None), (6, "txn_ref")]
    assert rejected.value.as_dict()["errors"][0] == {
        "line": 3, "field": "value_date", "message": "'2026-13-45' is not a date (YYYY-MM-DD or YYYYMMDD)"}
    assert not (Statement.objects.exists() or StatementLine.objects.exists() or Discrepancy.objects.exists()
                or WorkOrder.objects.exists())


def test_unreadable_files_unknown_sources_and_roles(books):
    with pytest.raises(FileInvalid):
        statement_import(source="ICBC", content=b"", file_name="empty.txt", actor=None, as_of=at(2026, 11, 3))
    with pytest.raises(FileInvalid):
        statement_import(source="ICBC", content=b"H|x\n\x80\xff\n", file_name="binary.txt", actor=None,
                         as_of=at(2026, 11, 3))
    with pytest.raises(NotFound) as unknown:
        statement_import(source="NOPE", kind="bank", content=b"x", file_name="x", actor=None, as_of=at(2026, 11, 3))
    assert unknown.value.field == "bank"
    with pytest.raises(NotFound):  # PSBC is an agency, not a bank
        statement_import(source="PSBC", kind="bank", content=b"x", file_name="x", actor=None, as_of=at(2026, 11, 3))
    with pytest.raises(PermissionDenied):
        statement_import(source="ICBC", content=_icbc_statement(books), file_name="x", actor=books.cashier,
                         as_of=at(2026, 11, 3))
    assert not Statement.objects.exists()


def test_dry_run_reports_without_writing(books):
    result = statement_import(source="ICBC", content=_icbc_statement(books), file_name="icbc.txt", actor=None,
                              as_of=at(2026, 11, 3), dry_run=True)
    assert result.dry_run and result.counts["matched"] == 3 and result.discrepancies == 3
    assert not (Statement.objects.exists() or Discrepancy.objects.exists() or WorkOrder.objects.exists())


def test_day_close_flags_money_not_received_and_a_later_statement_clears_it(books):
    statement_import(source="ICBC", content=_icbc_statement(books), file_name="icbc.txt", actor=None,
                     as_of=at(2026, 11, 3, 9))
    report = reconciliation_day_close(business_date=D, actor=books.approver, as_of=at(2026, 11, 3, 18))
    missing = Discrepancy.objects.get(kind="missing")
    assert (missing.payment, missing.amount_fen, missing.difference_fen) == (books.icbc[4], 50_000, -50_000)
    icbc = report.data["sources"]["ICBC"]
    assert icbc["payments"] == {"count": 5, "amount_fen": 150_000}
    assert icbc["lines"]["matched"] == {"count": 2, "amount_fen": 50_000}  # value date D (B002 is T+1)
    assert (icbc["missing"], icbc["auto_matched"], icbc["total_lines"]) == (1, 2, 5)
    assert report.data["statements_missing"] == ["PSBC"]  # agency money on D, no agency file yet
    # closing again changes nothing
    reconciliation_day_close(business_date=D, actor=None, as_of=at(2026, 11, 3, 19))
    assert Discrepancy.objects.filter(kind="missing").count() == 1 and DailyReport.objects.count() == 1
    # the money shows up on the next day's statement
    late = icbc_file([("B100", "20261103", "500.00", "DK20261102004", books.accounts[4].number, "客户4")])
    result = statement_import(source="ICBC", content=late, file_name="icbc-1103.txt", actor=None,
                              as_of=at(2026, 11, 4, 9))
    assert result.resolved_missing == 1
    missing.refresh_from_db()
    assert (missing.status, missing.resolution) == ("resolved", "auto_matched")
    assert missing.work_order.status == "resolved"


def test_agency_statement_matches_on_its_own_transaction_numbers(books):
    content = psbc_file([("PS0001", books.accounts[0].number, "30.00", "2026-11-02 10:11:12"),
                         ("PS0002", books.accounts[1].number, "45.00", "2026-11-02 15:00:00")])
    result = statement_import(source="PSBC", kind="agency", content=content, file_name="psbc.csv", actor=None,
                              as_of=at(2026, 11, 3))
    assert result.counts["matched"] == 2
    assert StatementLine.objects.get(txn_ref="PS0002").payment == books.psbc[1]


def test_manual_resolution_links_line_and_payment_and_closes_both_problems(books):
    statement_import(source="ICBC", content=_icbc_statement(books), file_name="icbc.txt", actor=None,
                     as_of=at(2026, 11, 3, 9))
    reconciliation_day_close(business_date=D, actor=None, as_of=at(2026, 11, 3, 18))
    unrecorded = Discrepancy.objects.get(kind="unrecorded")
    with pytest.raises(ValidationFailed) as wrong_amount:
        discrepancy_resolve(actor=books.approver, discrepancy_id=unrecorded.pk, resolution="matched_manually",
                            note="", payment_id=books.icbc[4].pk, as_of=at(2026, 11, 4))
    assert wrong_amount.value.field == "payment_id"  # 88.00 vs 500.00
    with pytest.raises(ValidationFailed):
        discrepancy_resolve(actor=books.approver, discrepancy_id=unrecorded.pk, resolution="accepted", note=" ",
                            as_of=at(2026, 11, 4))
    discrepancy_resolve(actor=books.approver, discrepancy_id=unrecorded.pk, resolution="refunded",
                        note="已原路退回付款人", as_of=at(2026, 11, 4))
    unrecorded.refresh_from_db()
    assert (unrecorded.status, unrecorded.resolved_by, unrecorded.work_order.status) == (
        "resolved", books.approver, "resolved")
    # a human match of a missing payment with a statement line that the bank mis-keyed
    a = books.accounts
    statement_import(source="ICBC", content=icbc_file([("B200", "20261102", "500.00", "TYPO", "", "客户4")]),
                     file_name="icbc-b.txt", actor=None, as_of=at(2026, 11, 4, 9))
    line = StatementLine.objects.get(txn_ref="B200")
    missing = Discrepancy.objects.get(kind="missing")
    discrepancy_resolve(actor=books.approver, discrepancy_id=missing.pk, resolution="matched_manually", note="",
                        line_id=line.pk, as_of=at(2026, 11, 4, 10))
    line.refresh_from_db()
    assert (line.status, line.payment, line.auto, line.matched_by, line.account) == (
        "matched", books.icbc[4], False, books.approver, a[4])
    assert Discrepancy.objects.get(line=line).status == "resolved"
    assert not Discrepancy.objects.filter(status="open").exclude(kind__in=["amount", "duplicate"]).exists()


def test_auto_reconciliation_rate(books):
    statement_import(source="ICBC", content=_icbc_statement(books), file_name="icbc.txt", actor=None,
                     as_of=at(2026, 11, 3, 9))
    reconciliation_day_close(business_date=D, actor=None, as_of=at(2026, 11, 3, 18))
    rate = auto_reconciliation_rate(start=date(2026, 11, 1), end=date(2026, 12, 1))
    # 3 lines matched automatically out of 6 statement lines + 1 payment the bank never showed
    assert (rate.auto, rate.total) == (3, 7)
    assert str(rate.rate.quantize(rate.rate.__class__("0.0001"))) == "0.4286"
