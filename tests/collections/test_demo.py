"""The demo loader dunns the last days, assesses late fees on a sample and is idempotent."""

from __future__ import annotations

from datetime import date

from gridcare.collections.demo import load_demo
from gridcare.collections.models import Notice
from tests.collections.conftest import at
from tests.collections.ledger_helpers import bill


def test_demo_runs_the_job_and_twice_changes_nothing(co):
    bill(co.home, 12_345, due=date(2026, 11, 18))
    bill(co.home, 4_321, due=date(2026, 11, 19))
    # 11-17 run: both bills are within the 2-day reminder window (SMS + e-mail each);
    # 11-18 run: the first bill is due today (one notice per account and stage a day).
    summary = load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert "2 days of dunning" in summary
    assert sorted(Notice.objects.values_list("stage", flat=True)) == [
        "before_due", "before_due", "before_due", "before_due", "due_today"]
    count = Notice.objects.count()
    load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert Notice.objects.count() == count
