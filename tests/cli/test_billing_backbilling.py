"""`gridcare billing issue-backbilling`: an approved case becomes its adjustment bill once."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import gridcare.cli.billing  # noqa: F401 - registers the commands
from gridcare.billing.models import Bill
from gridcare.cli.app import app
from tests.billing.backbilling_world import adjust_world, approved_case
from tests.parameters import fixtures

pytestmark = pytest.mark.django_db
pworld, fast_passwords = fixtures.pworld, fixtures.fast_passwords


def test_issue_backbilling_once(pworld):
    case = approved_case(adjust_world(pworld))
    args = ["billing", "issue-backbilling", case.number, "--user", pworld.approver.username,
            "--as-of", "2026-03-06"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    bill = Bill.objects.get(kind="adjust")
    assert f"{case.number}: adjustment bill {bill.number} issued, 140.60 yuan (补收 to collect), 4 lines, " \
           "due 2026-03-21" in " ".join(r.output.split())
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "不能重复开具" in again.output
    assert CliRunner().invoke(app, ["billing", "issue-backbilling", "TB-nope", "--user", "x"]).exit_code == 2
    assert Bill.objects.filter(kind="adjust").count() == 1
