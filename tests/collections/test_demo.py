"""The demo loader dunns the days its stages fell due, assesses late fees on a sample and is idempotent."""

from __future__ import annotations

from datetime import date

from gridcare.collections.demo import load_demo
from gridcare.collections.models import Notice
from tests.collections.conftest import at
from tests.collections.ledger_helpers import bill


def test_demo_runs_the_job_and_twice_changes_nothing(co):
    bill(co.home, 12_345, due=date(2026, 11, 18))
    bill(co.home, 4_321, due=date(2026, 11, 19))
    # Stage days in the look-back: 11-16 (before_due of the 11-18 bill: SMS + e-mail), 11-17
    # (before_due of the 11-19 bill: SMS + e-mail) and 11-18 (due_today of the first bill: SMS);
    # the later stages (+3, +10, +25 days) are still to come.
    summary = load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert "dunning on 3 stage days: 5 messages" in summary
    assert sorted(Notice.objects.values_list("stage", flat=True)) == [
        "before_due", "before_due", "before_due", "before_due", "due_today"]
    count = Notice.objects.count()
    load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert Notice.objects.count() == count
