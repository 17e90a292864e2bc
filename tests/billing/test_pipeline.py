"""Billing pipeline: annual tier cycles (the kernel's ytd_wh comes from the issued bills of the tier year).

The Zhejiang residential tariff (zj-residential, tariffs.md §1.1–1.2) has annual tiers:
year ≤ 2760 kWh 0.538, 2760–4800 kWh 0.588, above 0.838 元/kWh, and no other component, so a
bill is its tier lines and nothing else. Amounts are worked by hand in each test.
"""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.billing import services
from gridcare.billing.models import Bill, BillException, BillingRun, BillingRunSkip
from gridcare.metering.services import billing_calendar_set
from tests.billing.conftest import AS_OF, residential
from tests.metering.helpers import at, seed_read

pytestmark = pytest.mark.django_db

ZJ = "zj-residential"


def _bill_and_issue(staff, period: str) -> Bill:
    """Run the period, confirm its exceptions, approve and issue; the run's one bill."""
    run = services.billing_run_start(period_code=period, org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    run = services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    assert (run.billed_accounts, run.skipped_accounts) == (1, 0), list(BillingRunSkip.objects.filter(run=run).values_list("reason", flat=True))
    for exc in BillException.objects.filter(run=run, status="open"):
        services.bill_exception_confirm(exception_id=exc.pk, actor=staff["auditor"], as_of=AS_OF, note="ok")
    assert services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF) == 1
    services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    return Bill.objects.get(run=run)


def _lines(bill: Bill) -> list[tuple[str, str, int]]:
    return [(ln.line_code, str(ln.quantity), ln.amount_fen) for ln in bill.lines.order_by("line_no")]


def test_annual_tiers_accumulate_over_the_tier_year_and_restart_in_january(org, tariffs, staff):
    acct, m = residential(org["PY1"], "0", "2900", tariff=ZJ, start_on=date(2025, 12, 1), end_on=date(2026, 1, 1))
    seed_read(m, "total", date(2026, 2, 1), "3900")
    seed_read(m, "total", date(2026, 3, 1), "4900")
    seed_read(m, "total", date(2026, 4, 1), "5900")

    # 2025-12: nothing billed earlier in 2025 → 2760 × 0.538 = 1484.88; 140 × 0.588 = 82.32.
    dec = _bill_and_issue(staff, "2025-12")
    assert _lines(dec) == [("energy.tier1", "2760.000", 148488), ("energy.tier2", "140.000", 8232)]
    assert (dec.energy_wh, dec.total_fen) == (2_900_000, 156720)
    # 2026-01 starts a new tier year: December's 2900 kWh do not count → 1000 × 0.538 = 538.00.
    jan = _bill_and_issue(staff, "2026-01")
    assert _lines(jan) == [("energy.tier1", "1000.000", 53800)]
    # 2026-02: 1000 kWh earlier this year, 1000 + 1000 ≤ 2760 → 1000 × 0.538 = 538.00.
    feb = _bill_and_issue(staff, "2026-02")
    assert _lines(feb) == [("energy.tier1", "1000.000", 53800)]
    # 2026-03: 2000 kWh earlier; the year crosses 2760 in this month:
    #   2760 − 2000 = 760 × 0.538 = 408.88; 1000 − 760 = 240 × 0.588 = 141.12; total 550.00.
    mar = _bill_and_issue(staff, "2026-03")
    assert _lines(mar) == [("energy.tier1", "760.000", 40888), ("energy.tier2", "240.000", 14112)]
    assert mar.total_fen == 55000
    assert "年累计" in mar.lines.get(line_code="energy.tier2").explanation_zh


def test_a_corrected_month_counts_once_with_its_rebill(org, tariffs, staff):
    acct, m = residential(org["PY1"], "0", "1000", tariff=ZJ, start_on=date(2026, 1, 1), end_on=date(2026, 2, 1))
    seed_read(m, "total", date(2026, 3, 1), "2000")  # misread: the meter showed 1800
    seed_read(m, "total", date(2026, 4, 1), "3000")
    _bill_and_issue(staff, "2026-01")  # 1000 × 0.538 = 538.00
    feb = _bill_and_issue(staff, "2026-02")
    assert _lines(feb) == [("energy.tier1", "1000.000", 53800)]
    corr = services.bill_correct(bill_id=feb.pk, reason="closing read misread (2000 → 1800)",
                                 reads={(m.pk, "total"): "1800"}, actor=staff["clerk"], as_of=at(2026, 11, 10))
    # Rebill: 800 kWh with January's 1000 kWh before it → 800 × 0.538 = 430.40.
    assert _lines(corr.rebill) == [("energy.tier1", "800.000", 43040)]
    services.bill_correction_approve(rebill_id=corr.rebill.pk, actor=staff["approver"], as_of=at(2026, 11, 11))
    # 2026-03 opens at the corrected 1800: 1200 kWh. Earlier this year: January 1000 + February's
    # rebill 800 = 1800 (not 1000 + 1000 + 800, nor the original 1000 + 1000):
    #   2760 − 1800 = 960 × 0.538 = 516.48; 1200 − 960 = 240 × 0.588 = 141.12; total 657.60.
    mar = _bill_and_issue(staff, "2026-03")
    assert _lines(mar) == [("energy.tier1", "960.000", 51648), ("energy.tier2", "240.000", 14112)]
    assert (mar.energy_wh, mar.total_fen) == (1_200_000, 65760)
    # Only issued versions count: a pending correction of March changes nothing for April yet.
    assert Bill.objects.filter(account=acct, kind="credit").count() == 1


def test_a_december_period_across_new_year_is_not_split_when_the_read_day_is_not_the_first(org, tariffs, staff):
    """With read day 25 the tier year is the periods 2026-01 … 2026-12, i.e. 25 January to 25
    January: 2025-12 (25 Dec – 25 Jan) closes the 2025 tier year and 2026-01 opens the next one."""
    billing_calendar_set(org_unit=org["GD"], read_day=25, due_days=15, actor=None, as_of=AS_OF)
    acct, m = residential(org["PY1"], "0", "2900", tariff=ZJ, start_on=date(2025, 12, 25),
                          end_on=date(2026, 1, 25))
    seed_read(m, "total", date(2026, 2, 25), "3900")
    dec = _bill_and_issue(staff, "2025-12")
    assert (dec.start_date, dec.end_date) == (date(2025, 12, 25), date(2026, 1, 25))
    # 2760 × 0.538 = 1484.88; 140 × 0.588 = 82.32.
    assert _lines(dec) == [("energy.tier1", "2760.000", 148488), ("energy.tier2", "140.000", 8232)]
    jan = _bill_and_issue(staff, "2026-01")
    assert _lines(jan) == [("energy.tier1", "1000.000", 53800)]
    assert BillingRun.objects.filter(skipped_accounts__gt=0).count() == 0
