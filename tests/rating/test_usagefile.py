"""Usage files (CSV/Parquet in kWh) → kernel frames, with every bad row named by line and column."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from gridcare.rating import UsageFileInvalid
from gridcare.rating.usagefile import read_intervals_file, read_usage_file


def _write(tmp_path, text: str, name: str = "u.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_kwh_text_becomes_exact_wh(tmp_path):
    path = _write(tmp_path, "account_id,tariff,capacity_kva,peak_kwh,valley_kwh,reactive_kvarh,exemptions,combined_meter\n"
                            "A1,gz-residential-tou,0.5,100.125,0.001,,pf; funds.renewable,是\n")
    f = read_usage_file(path)
    assert f.accounts.to_dicts() == [{"account_id": "A1", "tariff": "gz-residential-tou", "capacity_va": 500,
                                      "exemptions": ["pf", "funds.renewable"], "combined_meter": True}]
    assert f.usage.to_dicts() == [{"account_id": "A1", "peak_wh": 100_125, "valley_wh": 1, "reactive_varh": None,
                                   "segment": 1}]


def test_default_tariff_fills_blank_cells_and_segments_share_account_columns(tmp_path):
    path = _write(tmp_path, "account_id,tariff,segment,multiplier,total_kwh\nA,,1,200,3.5\nA,,2,20,15\nB,zj-residential,1,1,7\n")
    f = read_usage_file(path, default_tariff="sz-residential")
    assert f.accounts.rows() == [("A", "sz-residential"), ("B", "zj-residential")]
    assert f.usage.select("account_id", "segment", "multiplier", "total_wh").rows() == [
        ("A", 1, 200, 3500), ("A", 2, 20, 15000), ("B", 1, 1, 7000)]


def test_every_bad_row_is_reported_with_line_and_column(tmp_path):
    path = _write(tmp_path, "account_id,household_members,total_kwh,basic_basis,annual_cycle_start\n"
                            "A,2,1.5,,\n"
                            ",x,1.23456,monthly,2025-02-30\n"
                            "C,1,-3,,\n")
    with pytest.raises(UsageFileInvalid) as err:
        read_usage_file(path, default_tariff="t")
    assert err.value.problems == [
        (3, "household_members: 'x' is not a whole number"),
        (3, "total_kwh: '1.23456' is not a non-negative number with at most 3 decimal places"),
        (3, "basic_basis: must be one of capacity, demand; got 'monthly'"),
        (3, "annual_cycle_start: '2025-02-30' is not a date YYYY-MM-DD"),
        (3, "account_id: is required"),
        (4, "total_kwh: '-3' is not a non-negative number with at most 3 decimal places"),
    ]
    assert str(err.value).endswith("u.csv: line 3: household_members: 'x' is not a whole number (and 5 more)")
    assert err.value.field == "household_members"


def test_account_columns_must_agree_across_segments(tmp_path):
    path = _write(tmp_path, "account_id,tariff,segment,capacity_kva,total_kwh\nA,t,1,315,1\nA,t,2,630,1\nA,t,2,630,1\n")
    with pytest.raises(UsageFileInvalid) as err:
        read_usage_file(path)
    assert err.value.problems == [
        (3, "segment: account A has segment 2 twice"),
        (3, "capacity_kva: differs from the account's first row (account A)"),
        (4, "segment: account A has segment 2 twice"),
        (4, "capacity_kva: differs from the account's first row (account A)"),
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("account_id,kwh\nA,1\n", "unknown column 'kwh'"),
    ("total_kwh\n1\n", "column 'account_id' is required"),
    ("", "the file is empty"),
    ("account_id,total_kwh\nA,1\n", "line 2: tariff: is required (a tariff column or --tariff)"),
])
def test_unusable_files(tmp_path, text, message):
    with pytest.raises(UsageFileInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_usage_file(_write(tmp_path, text))


def test_gbk_and_bom_are_read(tmp_path):
    f = read_usage_file(_write(tmp_path, "account_id,tariff,category,total_kwh\n甲,t,居民,1\n", encoding="gbk"))
    assert f.accounts["category"].to_list() == ["居民"]
    f = read_usage_file(_write(tmp_path, "\ufeffaccount_id,tariff,total_kwh\nA,t,1\n"))
    assert f.accounts["account_id"].to_list() == ["A"]


def test_parquet_rows_are_numbered_from_one(tmp_path):
    path = tmp_path / "u.parquet"
    pl.DataFrame({"account_id": ["A", "B"], "tariff": ["t", "t"], "total_kwh": ["1", "1.0001"]}).write_parquet(path)
    with pytest.raises(UsageFileInvalid) as err:
        read_usage_file(path)
    assert err.value.problems == [(2, "total_kwh: '1.0001' is not a non-negative number with at most 3 decimal places")]
    assert "u.parquet: row 2:" in str(err.value)
    not_parquet = _write(tmp_path, "junk", name="x.parquet")
    with pytest.raises(UsageFileInvalid, match="not a readable Parquet file"):
        read_usage_file(not_parquet)


def test_intervals_file(tmp_path):
    path = _write(tmp_path, "account_id,date,point,kwh\nA,2026-01-02,0,1.25\nA,2026-01-02,1,0\n")
    assert read_intervals_file(path).rows() == [("A", date(2026, 1, 2), 0, 1250), ("A", date(2026, 1, 2), 1, 0)]
    bad = _write(tmp_path, "account_id,date,point,kwh\nA,2026-01-02,0,1\nA,2026-01-02,0,1\nA,2026-01-02,96,1\n")
    with pytest.raises(UsageFileInvalid) as err:
        read_intervals_file(bad)
    assert err.value.problems == [(2, "point: the same account, date and point appear twice"),
                                  (3, "point: the same account, date and point appear twice"),
                                  (4, "point: 96 is outside 0..95")]
