"""免费电: a monthly free kWh allowance, shown on the bill as its own credit line.

The account is rated on its full usage (the free kWh still count towards tier thresholds); then a
credit line ``allowance.free_kwh`` is added: quantity = min(allowance, energy billed), unit price =
minus the price of the account's lowest tier (``energy.tier1``), else its flat-period price
(``energy.flat``), else its first energy line — each taken from the rated lines, so the credit
follows the tariff version in force. With ``include_funds`` the fund rates are credited too.
The credit is rounded once with the configured rounding; it can never exceed the energy billed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from gridcare.core.money import rounding_mode
from gridcare.parameters.config import ParametersConfig
from gridcare.rating import LINES_SCHEMA

ALLOWANCE_SCHEMA = {
    "account_id": pl.Int64, "parameter_id": pl.Int64, "scheme": pl.String, "allowance_wh": pl.Int64,
    "label_zh": pl.String, "label_en": pl.String,
}
_Q3 = Decimal("0.001")


def _price_line(lines: list[dict]) -> dict | None:
    """The line whose price values the free kWh: latest-dated tier 1, else flat, else the first."""
    for suffix in (".tier1", ".flat"):
        picked = [ln for ln in lines if ln["line_code"].endswith(suffix)]
        if picked:
            return max(picked, key=lambda ln: (ln["end_date"], -ln["line_no"]))
    return lines[0] if lines else None


def allowance_lines(lines: pl.DataFrame, allowances: pl.DataFrame, *, config: ParametersConfig,
                    period_start: date, period_end: date) -> pl.DataFrame:
    """Credit lines (LINES_SCHEMA, line_no after the account's last line) for `allowances`
    (ALLOWANCE_SCHEMA) of accounts that have rated `lines`. Accounts without energy get none."""
    out = []
    if allowances.height == 0 or lines.height == 0:
        return pl.DataFrame(schema=_lines_schema(lines))
    mode = rounding_mode(config.allowance_rounding)
    wanted = set(allowances["account_id"].to_list())
    rated = lines.filter(pl.col("account_id").is_in(list(wanted)))
    by_account: dict[int, list[dict]] = {}
    for row in rated.sort("account_id", "line_no").iter_rows(named=True):
        by_account.setdefault(row["account_id"], []).append(row)
    for a in allowances.iter_rows(named=True):
        acc_lines = by_account.get(a["account_id"])
        if not acc_lines:
            continue
        energy = [ln for ln in acc_lines if ln["component"] in config.allowance_components and ln["unit"] == "kWh"
                  and not ln["line_code"].endswith("_adder") and ln["unit_price"] is not None]
        billed_kwh = sum((ln["quantity"] for ln in energy), Decimal(0))
        source = _price_line(energy)
        if source is None or billed_kwh <= 0:
            continue
        price = Decimal(source["unit_price"])
        fund_note_zh, fund_note_en = "", ""
        if config.allowance_include_funds:
            funds: dict[str, Decimal] = {}
            for ln in acc_lines:
                if ln["component"] == "funds" and ln["unit"] == "kWh":
                    funds[ln["line_code"]] = Decimal(ln["unit_price"])
            if funds:
                price += sum(funds.values(), Decimal(0))
                fund_note_zh, fund_note_en = "（含基金及附加）", " (incl. funds)"
        qty = min(Decimal(a["allowance_wh"]) / 1000, billed_kwh).quantize(_Q3)
        amount = -int((qty * price * 100).quantize(Decimal(1), rounding=mode))
        last = max(ln["line_no"] for ln in acc_lines)
        out.append({
            "account_id": a["account_id"], "line_no": last + 1, "tariff": source["tariff"],
            "version": source["version"], "start_date": period_start, "end_date": period_end,
            "component": "allowance", "line_code": "allowance.free_kwh", "quantity": qty, "unit": "kWh",
            "unit_price": -price, "amount_fen": amount, "rule": config.allowance_source[:255],
            "explanation_zh": f"免费电（{a['label_zh']}）{qty.normalize():f} kWh × {price.normalize():f} 元/kWh"
                              f"{fund_note_zh} = −{Decimal(-amount) / 100:.2f} 元",
            "explanation_en": f"Free allowance ({a['label_en']}) {qty.normalize():f} kWh × {price.normalize():f} "
                              f"yuan/kWh{fund_note_en} = −{Decimal(-amount) / 100:.2f} yuan",
        })
    return pl.DataFrame(out, schema=_lines_schema(lines)) if out else pl.DataFrame(schema=_lines_schema(lines))


def _lines_schema(lines: pl.DataFrame) -> dict:
    schema = {c: (t if t is not None else pl.Int64) for c, t in LINES_SCHEMA.items()}
    if "account_id" in lines.columns:
        schema["account_id"] = lines.schema["account_id"]
    return schema
