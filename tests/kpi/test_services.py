"""KPI values on small constructed data, exact to the cent of a percent, and the alerts they raise."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.kpi.models import KpiAlert, KpiSnapshot
from gridcare.kpi.services import kpi_alert_acknowledge, kpi_compute
from gridcare.service.services import (
    WorkOrderInput,
    work_order_close,
    work_order_create,
    work_order_resolve,
    work_order_transfer,
)
from gridcare.service.services.visits import return_visit_answer_survey
from tests.collections.ledger_helpers import bill, pay
from tests.kpi.conftest import at, sign_mandate

pytestmark = pytest.mark.django_db
AS_OF = at(2026, 11, 5, 9)


def snap(code: str, unit: str, period: str = "2026-10") -> KpiSnapshot:
    return KpiSnapshot.objects.get(kpi_code=code, org_unit__code=unit, period_code=period)


def test_collection_rate_and_debit_ratio_per_subtree(co):
    bill(co.home, 10_000, due=date(2026, 10, 15))
    bill(co.shop, 20_000, due=date(2026, 10, 20))
    bill(co.flat, 5_000, due=date(2026, 10, 25))
    bill(co.flat, 7_000, due=date(2026, 11, 25))  # due next month: not in October's figure
    pay(co.home, 10_000, on=date(2026, 10, 10))
    pay(co.shop, 5_000, on=date(2026, 10, 21))
    pay(co.flat, 5_000, on=date(2026, 11, 6))  # after as_of: not collected yet
    sign_mandate(co.home, date(2026, 9, 1), co.admin)

    result = kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["collection_rate", "debit_ratio"])

    assert result.snapshots == 2 * 5  # 5 org units
    py1 = snap("collection_rate", "PY1")
    assert (py1.numerator, py1.denominator, py1.value) == (Decimal(15_000), Decimal(30_000), Decimal("50.00"))
    assert snap("collection_rate", "GZ").value == Decimal("50.00")
    assert snap("collection_rate", "SZ").value == Decimal("0.00")
    gd = snap("collection_rate", "GD")
    assert (gd.numerator, gd.denominator, gd.value) == (Decimal(15_000), Decimal(35_000), Decimal("42.86"))
    assert snap("debit_ratio", "PY1").value == Decimal("50.00")
    assert snap("debit_ratio", "GD").value == Decimal("33.33")
    assert snap("debit_ratio", "SZ").value == Decimal("0.00")


def test_compute_is_idempotent_and_alerts_follow_thresholds(co):
    bill(co.home, 10_000, due=date(2026, 10, 15))
    pay(co.home, 9_700, on=date(2026, 10, 10))  # 97.00 %: below warn 98.00, above alert 95.00

    kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["collection_rate"])
    kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["collection_rate"])

    assert KpiSnapshot.objects.filter(kpi_code="collection_rate").count() == 5
    alerts = {a.org_unit.code: a for a in KpiAlert.objects.filter(kpi_code="collection_rate")}
    assert sorted(alerts) == ["GD", "GZ", "PY", "PY1"]  # SZ has nothing receivable: no value, no alert
    assert snap("collection_rate", "SZ").value is None
    assert {(a.level, a.status, a.value, a.threshold) for a in alerts.values()} == {
        ("warning", "open", Decimal("97.00"), Decimal("98.00"))}

    kpi_alert_acknowledge(alert_id=alerts["PY"].pk, actor=co.sup_gz, as_of=AS_OF, note="催费已安排")
    pay(co.home, 300, on=date(2026, 11, 1))  # now fully paid: the alerts clear
    later = at(2026, 11, 6)
    result = kpi_compute(period_code="2026-10", as_of=later, codes=["collection_rate"])
    assert result.alerts_cleared == 4
    assert set(KpiAlert.objects.values_list("status", flat=True)) == {"cleared"}
    assert snap("collection_rate", "GD").value == Decimal("100.00")


def test_acknowledged_alert_reopens_when_it_gets_worse(co):
    bill(co.home, 10_000, due=date(2026, 10, 15))
    pay(co.home, 9_700, on=date(2026, 10, 10))
    kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["collection_rate"], org_unit_code="PY1")
    alert = KpiAlert.objects.get(org_unit__code="PY1")
    kpi_alert_acknowledge(alert_id=alert.pk, actor=co.sup_gz, as_of=AS_OF)
    kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["collection_rate"], org_unit_code="PY1")
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", co.sup_gz)

    bill(co.home, 10_000, due=date(2026, 10, 28))  # 9 700 / 20 000 = 48.50 %: critical
    kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["collection_rate"], org_unit_code="PY1")
    alert.refresh_from_db()
    assert (alert.level, alert.status, alert.value, alert.acknowledged_by) == (
        "critical", "open", Decimal("48.50"), None)
    assert KpiSnapshot.objects.filter(kpi_code="collection_rate").count() == 1  # only the PY1 subtree


def test_acknowledge_is_scoped_to_the_org_subtree(co):
    bill(co.home, 10_000, due=date(2026, 10, 15))
    kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["collection_rate"])
    py1 = KpiAlert.objects.get(org_unit__code="PY1")
    with pytest.raises(NotFound):
        kpi_alert_acknowledge(alert_id=py1.pk, actor=co.sup_sz, as_of=AS_OF)
    with pytest.raises(PermissionDenied):
        kpi_alert_acknowledge(alert_id=py1.pk, actor=co.agent, as_of=AS_OF)
    py1.refresh_from_db()
    assert (py1.status, py1.acknowledged_at) == ("open", None)


def test_bad_input_is_refused_before_anything_is_written(co):
    with pytest.raises(ValidationFailed) as bad_period:
        kpi_compute(period_code="2026-13", as_of=AS_OF)
    assert bad_period.value.field == "period"
    with pytest.raises(ValidationFailed):
        kpi_compute(period_code="2026-12", as_of=AS_OF)  # not started yet
    with pytest.raises(ValidationFailed) as bad_kpi:
        kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["nope"])
    assert bad_kpi.value.field == "kpi"
    with pytest.raises(NotFound):
        kpi_compute(period_code="2026-10", as_of=AS_OF, org_unit_code="XX")
    assert KpiSnapshot.objects.count() == 0


def _order(co, *, category: str, created, account=None):
    data = WorkOrderInput(channel="hotline", description="电费账单有疑问，请核实", category=category,
                          account_number=(account or co.home).number, contact_phone="13812345678")
    return work_order_create(actor=co.agent, data=data, as_of=created)


def test_service_kpis_from_resolved_orders_and_return_visits(co):
    first = _order(co, category="business.other", created=at(2026, 10, 9, 9))
    work_order_close(actor=co.agent, number=first.number, as_of=at(2026, 10, 9, 12), resolution="已处理")
    second = _order(co, category="business.other", created=at(2026, 10, 12, 9))
    work_order_transfer(actor=co.agent, number=second.number, org_unit_code="PY", reason="需县公司处理",
                        as_of=at(2026, 10, 12, 10))
    work_order_resolve(actor=co.admin, number=second.number, resolution="已处理", as_of=at(2026, 10, 12, 14))
    _order(co, category="business.other", created=at(2026, 10, 20, 9))  # still open

    visit = first.return_visits.get()
    return_visit_answer_survey(token=visit.token, answers={"resolved": "yes", "satisfaction": 5, "attitude": 5},
                               as_of=at(2026, 10, 9, 13))

    kpi_compute(period_code="2026-10", as_of=AS_OF,
                codes=["avg_handling_hours", "first_contact_resolution", "satisfaction_rate"])

    hours = snap("avg_handling_hours", "GD")
    assert (hours.numerator, hours.denominator, hours.value) == (Decimal("8.0000"), Decimal(2), Decimal("4.00"))
    assert snap("avg_handling_hours", "PY1").value == Decimal("3.00")  # the transferred one now sits at PY
    assert snap("avg_handling_hours", "PY").value == Decimal("4.00")
    assert snap("first_contact_resolution", "GD").value == Decimal("50.00")
    assert snap("satisfaction_rate", "PY1").value == Decimal("100.00")
    assert snap("satisfaction_rate", "SZ").value is None


def _bill(account, n: int, *, status="issued", estimated=False, version=1, kind="invoice", corrects=None):
    from gridcare.billing.models import Bill

    return Bill.objects.create(number=f"K{n}", account=account, org_unit=account.org_unit, period_code="2026-10",
                               kind=kind, status=status, version=version, start_date=date(2026, 10, 1),
                               end_date=date(2026, 11, 1), tariff_code="x", total_fen=10_000, estimated=estimated,
                               corrects=corrects, issued_at=at(2026, 11, 3) if status == "issued" else None,
                               payment_reference=f"PR{n}", created_at=at(2026, 11, 2))


def test_billing_kpis_from_bills_exceptions_and_corrections(co):
    """Bills as billing's run writes them (a full rating run is billing's own test subject)."""
    from gridcare.billing.models import BillException

    home = _bill(co.home, 1, estimated=True)
    _bill(co.shop, 2, status="held")  # flagged and held: not issued
    _bill(co.flat, 3)
    _bill(co.home, 4, kind="credit", version=2, corrects=home)
    for b, rule in ((home, "jump"), (home, "zero"), (_bill_by("K2"), "jump")):
        BillException.objects.create(bill=b, rule=rule, message="x", created_at=at(2026, 11, 2))

    kpi_compute(period_code="2026-10", as_of=AS_OF,
                codes=["bill_issue_rate", "bill_error_rate", "review_rate", "estimated_read_share"])

    assert (snap("bill_issue_rate", "GD").value, snap("bill_issue_rate", "PY1").value) == (
        Decimal("66.67"), Decimal("50.00"))
    assert snap("bill_error_rate", "GD").value == Decimal("50.00")  # 1 of 2 issued bills corrected
    assert snap("bill_error_rate", "SZ").value == Decimal("0.00")
    review = snap("review_rate", "GD")
    assert (review.numerator, review.denominator, review.value) == (Decimal(2), Decimal(3), Decimal("66.67"))
    assert snap("estimated_read_share", "PY1").value == Decimal("100.00")


def _bill_by(number: str):
    from gridcare.billing.models import Bill

    return Bill.objects.get(number=number)


def test_company_wide_kpi_only_on_the_root(co):
    result = kpi_compute(period_code="2026-10", as_of=AS_OF, codes=["auto_reconciliation_rate"])
    assert result.snapshots == 1
    assert snap("auto_reconciliation_rate", "GD").value is None  # no statement lines: nothing to measure


def test_levels_limit_the_units_and_billing_kpis_wait_for_the_month_to_end(co):
    _bill(co.home, 1)
    result = kpi_compute(period_code="2026-11", as_of=at(2026, 11, 20), codes=["bill_issue_rate", "debit_ratio"],
                         levels=["province", "city"])
    assert result.snapshots == 2 * 3  # GD, GZ, SZ
    assert snap("bill_issue_rate", "GD", "2026-11").value is None  # November is not over: no alert
    assert snap("debit_ratio", "GD", "2026-11").value == Decimal("0.00")
    assert not KpiAlert.objects.filter(kpi_code="bill_issue_rate").exists()
    with pytest.raises(ValidationFailed) as bad:
        kpi_compute(period_code="2026-11", as_of=at(2026, 11, 20), levels=["planet"])
    assert bad.value.field == "level"
