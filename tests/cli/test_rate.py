"""`gridcare rate`: files in, bill lines out, no database; clear errors with exit status 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import gridcare.cli.rate  # noqa: F401 - registers the command
from gridcare.cli.app import app

runner = CliRunner(env={"COLUMNS": "250"})


def _csv(tmp_path, text: str, name: str = "u.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_rates_a_csv_and_prints_lines(tmp_path):
    usage = _csv(tmp_path, "account_id,household_members,total_kwh\nA1,,450\nA2,5,700\n")
    r = runner.invoke(app, ["rate", "--tariff", "gz-residential", "--usage", usage, "--period", "2025-09"])
    assert r.exit_code == 0, r.output
    assert "account A1 · 2025-09-01–2025-10-01 · total 274.49 元" in r.output
    assert "第一档（0–260 kWh）260 kWh × 0.5802 元/kWh" in r.output
    assert "第二档（360–700 kWh）340 kWh × 0.6302 元/kWh" in r.output
    assert "2 accounts rated, 6 lines, 703.70 元; 0 accounts not rated" in r.output


def test_json_output_is_exact_text(tmp_path):
    usage = _csv(tmp_path, "account_id,peak_kwh,flat_kwh,valley_kwh\nS,100,100,100\n")
    r = runner.invoke(app, ["rate", "-t", "sz-residential-tou", "-u", usage, "--start", "2025-09-01", "--end", "2025-10-01",
                            "--json", "--lang", "en"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["totals"] == [{"account_id": "S", "amount_fen": 20349, "billed_wh": 300000, "line_count": 4,
                              "cos_phi": None, "pf_rate": None, "amount_yuan": "203.49"}]
    assert [(x["line_code"], x["quantity"], x["unit_price"], x["amount_fen"]) for x in out["lines"]] == [
        ("energy.peak", "100.000", "1.11210000", 11121), ("energy.flat", "100.000", "0.65420000", 6542),
        ("energy.valley", "100.000", "0.24860000", 2486), ("energy.tier2_adder", "40.000", "0.05000000", 200)]


def test_tariff_from_a_yaml_file_and_intervals_with_daily_settlement(tmp_path):
    tariff = _csv(tmp_path, """
code: my-flat
version: "1"
name_zh: 测试
name_en: Test
effective_from: 2020-01-01
sources: ["test"]
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, price: 0.5}
""", name="t.yaml")
    iv = _csv(tmp_path, "account_id,date,point,kwh\nX,2026-01-02,0,1.5\nX,2026-01-03,5,2.5\n", name="iv.csv")
    r = runner.invoke(app, ["rate", "-t", tariff, "--intervals", iv, "--period", "2026-01", "--daily", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [(x["line_code"], x["amount_fen"]) for x in out["lines"]] == [("energy", 200)]  # 4 kWh × 0.5
    assert [(x["date"], x["amount_fen"]) for x in out["daily"]] == [("2026-01-02", 75), ("2026-01-03", 125)]
    assert out["reconciliation"][0]["diff_fen"] == 0


def test_bad_rows_exit_2_naming_line_and_column(tmp_path):
    usage = _csv(tmp_path, "account_id,household_members,total_kwh\nA,,1\nB,x,12.3456\n")
    r = runner.invoke(app, ["rate", "-t", "gz-residential", "-u", usage, "--period", "2025-09"])
    assert r.exit_code == 2
    assert "line 3: household_members: 'x' is not a whole number (and 1 more)" in r.output
    assert "total_kwh: '12.3456' is not a non-negative number with at most 3 decimal places" in r.output
    assert "Traceback" not in r.output


def test_invalid_tariff_file_exits_2_with_the_path(tmp_path):
    tariff = _csv(tmp_path, """
code: bad
version: "1"
name_zh: 测试
name_en: Test
effective_from: 2020-01-01
sources: ["test"]
components:
  - {id: energy, kind: energy, label_zh: 电, label_en: E, tiers: [{upto: 200, price: 0.5}, {upto: 100, price: 0.6}, {price: 1}]}
""", name="bad.yaml")
    r = runner.invoke(app, ["rate", "-t", tariff, "-u", _csv(tmp_path, "account_id,total_kwh\nA,1\n"), "--period", "2025-09"])
    assert r.exit_code == 2
    assert "components[0].tiers[1].upto: must be greater than 200" in r.output


def test_argument_errors_exit_2(tmp_path):
    usage = _csv(tmp_path, "account_id,total_kwh\nA,1\n")
    cases = [
        (["-t", "nope", "-u", usage, "--period", "2025-09"], "--tariff: unknown tariff 'nope'"),
        (["-t", "gz-residential", "-u", usage], "give the billing period"),
        (["-t", "gz-residential", "-u", usage, "--period", "2025-13"], "--period: '2025-13' is not a month YYYY-MM"),
        (["-t", "gz-residential", "-u", usage, "--start", "2025-09-02", "--end", "2025-09-01"], "must be after --start"),
        (["-t", "gz-residential", "-u", str(tmp_path / "missing.csv"), "--period", "2025-09"], "cannot read"),
        (["-t", "gz-residential", "--period", "2025-09"], "give --usage FILE"),
        (["-t", "gz-residential", "-u", usage, "--period", "2025-09", "--points", "48"], "--points: must be 24 or 96"),
    ]
    for args, message in cases:
        r = runner.invoke(app, ["rate", *args])
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output.replace("\n", " "), (args, r.output)


def test_accounts_that_cannot_be_rated_exit_1_and_the_rest_print(tmp_path):
    usage = _csv(tmp_path, "account_id,tariff,total_kwh\nA,gz-residential,100\nB,sz-residential-tou,100\n")
    r = runner.invoke(app, ["rate", "-u", usage, "--period", "2025-09"])
    assert r.exit_code == 1
    assert "account A · 2025-09-01–2025-10-01 · total 58.89 元" in r.output  # 100 × 0.5802 + 100 × 0.00866875
    assert "tariff sz-residential-tou is time-of-use" in r.output


def test_list_shipped_tariffs():
    r = runner.invoke(app, ["rate", "--list"])
    assert r.exit_code == 0
    assert "hubei-agency-2part-10kv" in r.output and "广州市居民生活用电" in r.output
