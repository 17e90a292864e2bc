"""A time-of-use account without bucket registers is rated from its 24-point interval data
(imported as CSV, stored as Parquet); incomplete interval data is not used."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gridcare.billing import services
from gridcare.billing.models import Bill, BillingRunSkip
from gridcare.metering.services import reads_import
from tests.billing import conftest as billing_fixtures
from tests.billing.conftest import AS_OF, NOV1, OCT1
from tests.metering.helpers import metered_account, seed_read

pytestmark = pytest.mark.django_db
staff, tariffs = billing_fixtures.staff, billing_fixtures.tariffs


def _wide_csv(rows: list[tuple[str, date]], kwh_per_hour: str = "0.5") -> bytes:
    header = "asset_number,read_date," + ",".join(f"p{i}" for i in range(1, 25))
    lines = [header] + [f"{asset},{d.isoformat()}," + ",".join([kwh_per_hour] * 24) for asset, d in rows]
    return ("\n".join(lines) + "\n").encode()


def test_tou_account_is_rated_from_its_interval_file(org, tariffs, staff, settings, tmp_path):
    settings.INTERVAL_DATA_DIR = tmp_path
    full, m_full = metered_account(org["PY1"], tariff_code="gz-residential-tou")
    gap, m_gap = metered_account(org["PY1"], tariff_code="gz-residential-tou")
    for m in (m_full, m_gap):
        seed_read(m, "total", OCT1, "1000")
        seed_read(m, "total", NOV1, "1372")
    days = [OCT1 + timedelta(days=i) for i in range(31)]
    rows = [(m_full.asset_number, d) for d in days] + [(m_gap.asset_number, d) for d in days[:-1]]
    report = reads_import(content=_wide_csv(rows), filename="oct-24.csv", actor=None, as_of=AS_OF)
    assert (report.kind, report.accepted) == ("interval", 61 * 24)

    run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    run = services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    bill = Bill.objects.get(account=full)
    lines = [(ln.line_code, str(ln.quantity)) for ln in bill.lines.order_by("line_no")]
    # Guangzhou TOU: peak 10–12 and 14–19 (7 h), valley 0–8 (8 h), flat the other 9 h; 0.5 kWh an hour.
    assert lines == [("energy.peak", "108.500"), ("energy.flat", "139.500"), ("energy.valley", "124.000"),
                     ("energy.tier2_adder", "112.000"), ("funds.all", "372.000")]
    assert bill.energy_wh == 372_000
    # One day missing: the interval data is not used, and a TOU tariff needs buckets.
    assert not Bill.objects.filter(account=gap).exists()
    assert BillingRunSkip.objects.get(account=gap).stage == "rating"
