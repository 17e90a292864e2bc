"""The same statement imported by several workers at once is imported once; overlapping statements
imported at once never reconcile a payment twice (PostgreSQL, real concurrent connections)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from gridcare.reconciliation.models import Discrepancy, Statement, StatementLine
from gridcare.reconciliation.services import statement_import
from gridcare.service.models import WorkOrder
from tests.reconciliation.conftest import at, icbc_file

pytestmark = [pytest.mark.pg, pytest.mark.django_db(transaction=True)]
WORKERS = 4


def _race(contents: list[bytes]) -> list[object]:
    barrier = threading.Barrier(len(contents))
    results: list[object] = [None] * len(contents)

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = statement_import(source="ICBC", content=contents[i], file_name=f"f{i}.txt", actor=None,
                                          as_of=at(2026, 11, 3, 9))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(contents))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _lines(books, refs: list[tuple[str, int]]) -> bytes:
    return icbc_file([(txn, "20261102", f"{(i + 1) * 100}.00", f"DK2026110200{i}", books.accounts[i].number, "x")
                      for txn, i in refs])


def test_the_same_file_at_once_is_imported_once(books):
    content = _lines(books, [("B001", 0), ("B002", 1), ("B003", 2)])
    results = _race([content] * WORKERS)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.created for r in results) == 1
    assert (Statement.objects.count(), StatementLine.objects.count()) == (1, 3)


def test_overlapping_files_at_once_reconcile_each_payment_once(books):
    # every worker's file has its own transaction numbers for the same three payments (as if the
    # bank debited six times): whoever commits first matches them, every other file finds duplicates
    contents = [_lines(books, [(f"W{w}-{k}", k) for k in range(3)]) for w in range(WORKERS)]
    results = _race(contents)
    assert not [r for r in results if isinstance(r, Exception)], results  # losers retried against the winner
    imported = [r for r in results if r.created]
    assert len(imported) == WORKERS
    reconciled = StatementLine.objects.filter(status__in=["matched", "mismatched"])
    assert reconciled.count() == 3
    assert sorted(reconciled.values_list("payment_id", flat=True)) == sorted(p.pk for p in books.icbc[:3])
    duplicates = StatementLine.objects.filter(status="duplicate").count()
    assert duplicates == 3 * (len(imported) - 1)
    assert Discrepancy.objects.filter(kind="duplicate").count() == duplicates
    assert WorkOrder.objects.count() == duplicates
