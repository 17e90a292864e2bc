"""Gaps in 24/96-point interval data: linear between neighbours, same weekday from history, left for
the clerk; flagged per point, reported by method and reason, reconciled with the total register."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from gridcare.metering import services
from gridcare.metering.config import metering_config
from gridcare.metering.errors import ReadFileInvalid
from gridcare.metering.intervals import fill_day
from gridcare.metering.models import IntervalFile
from tests.metering.helpers import at, metered_account, seed_read

pytestmark = pytest.mark.django_db
AS_OF = at(2026, 11, 2)
MON1, MON2 = date(2026, 10, 5), date(2026, 10, 12)


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.INTERVAL_DATA_DIR = tmp_path


def _wide(rows: list[tuple[str, date, list[str]]]) -> bytes:
    lines = ["asset_number,read_date," + ",".join(f"p{i}" for i in range(1, len(rows[0][2]) + 1))]
    lines += [f"{a},{d.isoformat()}," + ",".join(values) for a, d, values in rows]
    return ("\n".join(lines) + "\n").encode()


def _stored(report) -> pl.DataFrame:
    path = IntervalFile.objects.get(read_import_id=report.import_id).path
    from django.conf import settings

    return pl.read_parquet(Path(settings.INTERVAL_DATA_DIR) / path).sort("read_date", "point")


def test_fill_day_methods_and_limits():
    config = metering_config()
    values = [100, None, None, None, None, 600] + [50] * 90
    filled, quality = fill_day(values, history={}, minutes_per_point=15, config=config)
    assert filled[:6] == [100, 200, 300, 400, 500, 600]  # four quarter-hours = 60 min: linear
    assert quality[:6] == ["actual", "linear", "linear", "linear", "linear", "actual"]
    # A leading gap has one neighbour only: same weekday history (mean, half up), else left missing.
    filled, quality = fill_day([None, None, 7] + [7] * 21, history={0: [10, 11]}, minutes_per_point=60,
                               config=config)
    assert (filled[:2], quality[:2]) == ([11, None], ["history", "missing"])
    # More than half of the day missing: nothing is estimated, even with history.
    day = [None] * 13 + [5] * 11
    filled, quality = fill_day(day, history={i: [9] for i in range(24)}, minutes_per_point=60, config=config)
    assert filled == day and quality.count("missing") == 13


def test_wide_24_point_gaps_filled_flagged_reported_and_reconciled(org):
    _, m = metered_account(org["PY1"])
    seed_read(m, "total", MON2, "1000")
    seed_read(m, "total", MON2 + timedelta(days=1), "1030.5")  # the register says 30.5 kWh on MON2
    shape = [f"{i / 10:.1f}" for i in range(1, 25)]  # 0.1 … 2.4 kWh an hour = 30 kWh a day
    rows = [(m.asset_number, MON1 + timedelta(days=i), list(shape)) for i in range(8)]
    rows[1][2][0:3] = ["", "-", ""]  # Tuesday 00–03: no neighbour before, no Tuesday a week earlier
    rows[7][2][4] = ""  # Monday 04–05: one hour between two reads → linear
    rows[7][2][9:13] = ["", "null", "", ""]  # Monday 09–13: four hours → last Monday's points
    report = services.reads_import(content=_wide(rows), filename="oct.csv", actor=None, as_of=AS_OF)

    assert (report.rows_total, report.accepted, report.estimated, report.quarantined) == (192, 189, 5, 3)
    assert report.estimated_by_method == {"history": 4, "linear": 1}
    assert report.by_reason == {"interval_gap": 3}
    assert report.register_check == {"incomplete": 1, "reconciled": 1}
    assert [(d["read_date"], d["linear"], d["history"], d["missing"], d["register"]) for d in report.gap_days] == [
        ("2026-10-06", 0, 0, 3, "incomplete"), ("2026-10-12", 1, 4, 0, "reconciled")]
    assert [(r["line"], r["reason"], r["detail"]) for r in report.quarantined_rows] == [
        (3, "interval_gap", "3 of 24 points missing and not estimated")]

    data = _stored(report)
    tuesday = data.filter(pl.col("read_date") == MON1 + timedelta(days=1))
    assert tuesday["point"].to_list() == list(range(4, 25))  # the gap is not stored
    monday = data.filter(pl.col("read_date") == MON2)
    # Linear 500 and history 1000/1100/1200/1300 Wh, scaled by 5600/5100 so the day is 30.5 kWh;
    # largest remainders take the last 2 Wh.
    est = monday.filter(pl.col("quality") != "actual")
    assert est.select("point", "quality", "wh").rows() == [
        (5, "linear", 549), (10, "history", 1098), (11, "history", 1208), (12, "history", 1318),
        (13, "history", 1427)]
    assert monday["wh"].sum() == 30_500
    assert data.filter(pl.col("read_date") == MON1)["quality"].unique().to_list() == ["actual"]


def test_long_96_point_absent_rows_and_a_register_mismatch(org):
    _, m = metered_account(org["PY1"])
    seed_read(m, "total", MON1, "500")
    seed_read(m, "total", MON1 + timedelta(days=1), "510")  # 10 kWh, but the points alone say 23.25
    lines = ["asset_number,read_date,point,value"]
    lines += [f"{m.asset_number},{MON1},{p},0.25" for p in range(1, 97) if p not in (20, 21, 22)]
    report = services.reads_import(content=("\n".join(lines) + "\n").encode(), filename="q.csv", actor=None,
                                   as_of=AS_OF)
    assert (report.rows_total, report.accepted, report.estimated) == (96, 96, 3)
    assert report.register_check == {"register_mismatch": 1}
    data = _stored(report)
    assert data.filter(pl.col("quality") == "linear")["wh"].to_list() == [250, 250, 250]
    assert data["points_per_day"].unique().to_list() == [96]


def test_a_repeated_point_refuses_the_file(org):
    _, m = metered_account(org["PY1"])
    content = f"asset_number,read_date,point,value\n{m.asset_number},{MON1},1,1\n{m.asset_number},{MON1},1,2\n"
    with pytest.raises(ReadFileInvalid) as err:
        services.reads_import(content=content.encode(), filename="d.csv", actor=None, as_of=AS_OF)
    assert err.value.problems == [(3, f"meter {m.asset_number} on 2026-10-05: point 1 appears 2 times (lines 2, 3)")]
    assert not IntervalFile.objects.exists()
