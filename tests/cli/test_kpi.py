"""`gridcare kpi compute/alerts`: a Rich table of the month's values, idempotent, exit 2 on bad input."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

import gridcare.cli.kpi  # noqa: F401 - registers the command family
from gridcare.cli.app import app
from gridcare.kpi.models import KpiSnapshot
from tests.collections.ledger_helpers import bill, pay
from tests.kpi import conftest as fixtures

pytestmark = pytest.mark.django_db(transaction=False)
runner = CliRunner(env={"COLUMNS": "200"})
co = fixtures.co
_fresh = fixtures._fresh


def test_compute_prints_values_and_is_idempotent(co):
    bill(co.home, 10_000, due=date(2026, 10, 15))
    pay(co.home, 9_700, on=date(2026, 10, 10))
    args = ["kpi", "compute", "--period", "2026-10", "--as-of", "2026-11-05", "--kpi", "collection_rate"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "电费回收率" in first.output and "97.00%" in first.output and "warning" in first.output
    assert "5 snapshots, 4 alerts open, 0 cleared" in first.output
    assert runner.invoke(app, args).exit_code == 0
    assert KpiSnapshot.objects.count() == 5
    listed = runner.invoke(app, ["kpi", "alerts"])
    assert listed.exit_code == 0 and "98.00%" in listed.output


def test_bad_period_exits_2_and_writes_nothing(co):
    r = runner.invoke(app, ["kpi", "compute", "--period", "2026-1"])
    assert r.exit_code == 2 and "period" in r.output
    assert KpiSnapshot.objects.count() == 0
