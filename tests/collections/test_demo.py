"""The demo loader runs the nightly job for the last days and is idempotent."""

from __future__ import annotations

from datetime import date

from gridcare.collections.demo import load_demo
from gridcare.collections.models import Notice
from tests.collections.conftest import at
from tests.collections.ledger_helpers import bill


def test_demo_runs_the_job_and_twice_changes_nothing(co):
    bill(co.home, 12_345, due=date(2026, 11, 15))
    summary = load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert "6 nightly runs" in summary
    assert sorted(Notice.objects.values_list("stage", flat=True)) == [
        "before_due", "before_due", "due_today", "overdue_1", "overdue_1"]
    count = Notice.objects.count()
    load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert Notice.objects.count() == count
