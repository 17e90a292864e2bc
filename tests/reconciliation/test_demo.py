"""The demo loader reconciles the last week and is idempotent."""

from __future__ import annotations

from gridcare.reconciliation.demo import load_demo
from gridcare.reconciliation.models import DailyReport, Statement, StatementLine
from tests.reconciliation.conftest import at


def test_demo_reconciles_the_last_days_once(books):
    summary = load_demo(seed=7, as_of=at(2026, 11, 5, 9))
    assert Statement.objects.filter(source__in=["ICBC", "PSBC"]).count() == 2
    assert DailyReport.objects.get().business_date.isoformat() == "2026-11-02"
    assert "2 statements" in summary and "自动对账率" in summary
    lines = StatementLine.objects.count()
    assert load_demo(seed=7, as_of=at(2026, 11, 5, 10)).startswith("0 statements")
    assert (Statement.objects.count(), StatementLine.objects.count()) == (2, lines)
