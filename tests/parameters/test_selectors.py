"""Timelines of versions and the parameter frame billing reads."""

import json
from datetime import date, timedelta

from gridcare.parameters import services
from gridcare.parameters.selectors import Piece, account_parameters, billing_parameters, resolve_timeline
from tests.parameters.fixtures import AS_OF

D = date


def test_later_approval_wins_on_the_days_it_covers():
    # base 315 kVA from 2026-01-01 (approved first), a suspension 03-10..05-20 approved later.
    versions = [(1, D(2026, 1, 1), None, False), (2, D(2026, 3, 10), D(2026, 5, 20), False)]
    assert resolve_timeline(versions) == [Piece(D(2026, 1, 1), D(2026, 3, 10), 1), Piece(D(2026, 3, 10), D(2026, 5, 20), 2),
                                          Piece(D(2026, 5, 20), None, 1)]


def test_an_earlier_approval_does_not_override_a_later_one():
    versions = [(2, D(2026, 3, 10), D(2026, 5, 20), False), (1, D(2026, 1, 1), None, False)]
    assert resolve_timeline(versions) == [Piece(D(2026, 1, 1), None, 1)]


def test_cleared_versions_leave_a_gap_and_adjacent_pieces_merge():
    versions = [(1, D(2026, 1, 1), None, False), (2, D(2026, 6, 1), None, True), (3, D(2026, 9, 1), None, False)]
    assert resolve_timeline(versions) == [Piece(D(2026, 1, 1), D(2026, 6, 1), 1), Piece(D(2026, 9, 1), None, 3)]
    assert resolve_timeline([]) == []


def approve(pw, **kw):
    p = services.parameter_propose(actor=pw.clerk, as_of=AS_OF, reason="合同约定", **kw)
    return services.parameter_approve(parameter_id=p.pk, actor=pw.approver, as_of=AS_OF + timedelta(minutes=p.pk))


def test_billing_parameters_include_parameters_that_refer_to_the_accounts(pworld):
    pw = pworld
    ded = approve(pw, account_id=pw.shop.pk, kind="deduction", spec={"parent_account_id": pw.park.pk},
                  effective_from=D(2026, 1, 1))
    allowance = approve(pw, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"},
                        effective_from=D(2026, 1, 1))
    pending = services.parameter_propose(account_id=pw.park.pk, kind="free_allowance", spec={"scheme": "subsistence"},
                                         effective_from=D(2026, 1, 1), reason="x", actor=pw.clerk, as_of=AS_OF)
    frame = billing_parameters(account_ids=[pw.park.pk], start=D(2026, 2, 1), end=D(2026, 3, 1))
    # The park's own parameters (none approved) and the shop's deduction that names the park.
    assert frame.select("account_id", "parameter_id", "kind", "start_date", "end_date").rows() == [
        (pw.shop.pk, ded.pk, "deduction", D(2026, 1, 1), None)]
    assert json.loads(frame["spec"][0]) == {"parent_account_id": pw.park.pk}
    assert pending.status == "pending"
    flat = billing_parameters(account_ids=[pw.flat.pk], start=D(2026, 2, 1), end=D(2026, 3, 1))
    assert flat["parameter_id"].to_list() == [allowance.pk]
    assert billing_parameters(account_ids=[pw.flat.pk], start=D(2025, 1, 1), end=D(2025, 2, 1)).height == 0
    assert billing_parameters(account_ids=[], start=D(2025, 1, 1), end=D(2025, 2, 1)).height == 0


def test_capacity_versions_come_as_pieces_of_the_period(pworld):
    pw = pworld
    base = approve(pw, account_id=pw.park.pk, kind="capacity", spec={"change": "base", "capacity_kva": "630"},
                   effective_from=D(2026, 1, 1))
    susp = approve(pw, account_id=pw.park.pk, kind="capacity", spec={"change": "suspend", "suspended_kva": "315"},
                   effective_from=D(2026, 3, 10), effective_to=D(2026, 5, 20))
    frame = billing_parameters(account_ids=[pw.park.pk], start=D(2026, 3, 1), end=D(2026, 4, 1))
    assert frame.select("parameter_id", "start_date", "end_date").rows() == [
        (base.pk, D(2026, 1, 1), D(2026, 3, 10)), (susp.pk, D(2026, 3, 10), D(2026, 5, 20))]


def test_account_parameters_for_the_360_page(pworld):
    pw = pworld
    now = approve(pw, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"},
                  effective_from=D(2026, 1, 1), effective_to=D(2026, 7, 1))
    later = approve(pw, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "five_guarantee"},
                    effective_from=D(2026, 7, 1))
    view = account_parameters(user=pw.clerk, account_id=pw.flat.pk, as_of=D(2026, 3, 5))
    assert [(i.kind, i.parameter.pk) for i in view.in_force] == [("free_allowance", now.pk)]
    assert [(i.parameter.pk, i.start) for i in view.upcoming] == [(later.pk, D(2026, 7, 1))]
    assert account_parameters(user=pw.sz_clerk, account_id=pw.flat.pk, as_of=D(2026, 3, 5)) is None


def test_nothing_for_unknown_accounts(pworld):
    assert account_parameters(user=pworld.clerk, account_id=999999, as_of=D(2026, 3, 5)) is None
