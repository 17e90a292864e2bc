"""Input and output frame schemas of the rating kernel (the contract billing codes against).

All quantities are scaled integers named by their unit, so nothing is ever a float:

* energy ``*_wh``: watt-hours (1 kWh = 1000 Wh); reactive ``*_varh``: var-hours (1 kvarh = 1000);
* demand ``*_w``: watts (1 kW = 1000); capacity ``*_va``: volt-amperes (1 kVA = 1000);
* money ``*_fen``: Int64 fen; prices in outputs: ``Decimal(38, 8)`` yuan per unit.

Columns marked optional may be left out; the default is filled in. docs/rating.md has the same
tables with explanations and examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from gridcare.rating.errors import UnableToRate
from gridcare.rating.model import BUCKETS

ID = "account_id"  # Int64 or String; the same dtype in every frame of one run

# name: (dtype, default). default None = nullable with no default; REQUIRED = must be present.
REQUIRED = object()

ACCOUNTS_SCHEMA: Mapping[str, tuple[Any, Any]] = {
    "account_id": (None, REQUIRED),
    "tariff": (pl.String, REQUIRED),  # tariff code (Schedule.code)
    "category": (pl.String, None),  # e.g. residential, general_ci, large_industry, agriculture
    "household_members": (pl.Int32, None),  # persons in the household (tier allowance)
    "households": (pl.Int32, 1),  # households behind the meter (合表): tier thresholds × households
    "combined_meter": (pl.Boolean, False),  # 合表 user
    "capacity_va": (pl.Int64, 0),  # contracted transformer capacity (+ HV motors, kW as kVA), VA
    "contract_demand_w": (pl.Int64, None),  # contract maximum demand, W
    "basic_basis": (pl.String, None),  # capacity | demand; None = tariff default_basis
    "pf_standard": (pl.String, None),  # "0.90" | "0.85" | "0.80" | "none"; None = tariff default
    "exemptions": (pl.List(pl.String), []),  # component ids / "funds.<code>" not charged
    "ytd_wh": (pl.Int64, 0),  # annual-cycle usage billed before period_start (annual tiers)
    "annual_cycle_start": (pl.Date, None),  # first day of the account's annual tier cycle
}

USAGE_SCHEMA: Mapping[str, tuple[Any, Any]] = {
    "account_id": (None, REQUIRED),
    "segment": (pl.Int32, 1),  # meter segment (meter change = a second segment)
    "multiplier": (pl.Int64, 1),  # 综合倍率 CT × PT; every quantity of the row is multiplied
    "total_wh": (pl.Int64, None),  # None = sum of buckets
    **{f"{b}_wh": (pl.Int64, None) for b in BUCKETS},  # TOU registers; flat = total − others if None
    "reactive_varh": (pl.Int64, None),  # needed when power-factor adjustment applies
    "reverse_reactive_varh": (pl.Int64, 0),  # 倒送无功, added as absolute value
    "max_demand_w": (pl.Int64, None),  # needed for demand-based basic charge
}

INTERVALS_SCHEMA: Mapping[str, tuple[Any, Any]] = {
    "account_id": (None, REQUIRED),
    "date": (pl.Date, REQUIRED),
    "point": (pl.Int16, REQUIRED),  # 0..23 (hourly) or 0..95 (15-minute); point i starts at i × interval
    "wh": (pl.Int64, REQUIRED),  # active energy in the interval, multiplier applied
    "varh": (pl.Int64, None),  # reactive energy in the interval (optional)
}

SEGMENTS_SCHEMA: Mapping[str, tuple[Any, Any]] = {
    "account_id": (None, REQUIRED),
    "segment": (pl.Int32, REQUIRED),
    "start_date": (pl.Date, REQUIRED),  # inclusive
    "end_date": (pl.Date, REQUIRED),  # exclusive
    "tariff": (pl.String, None),  # None = the account's tariff
    "capacity_va": (pl.Int64, None),  # None = the account's
    "contract_demand_w": (pl.Int64, None),  # None = the account's
    "suspended_va": (pl.Int64, 0),  # capacity sealed (暂停) during the segment
    "suspension_days": (pl.Int32, None),  # length of the whole suspension; None = segment days
    "transformer_loss_wh": (pl.Int64, 0),  # fixed monthly active loss (变损), prorated by days
    "transformer_loss_varh": (pl.Int64, 0),  # fixed monthly reactive loss, prorated by days
    "loss_ppm": (pl.Int64, 0),  # active loss as parts per million of metered kWh (线损/变损 %)
    "reactive_loss_ppm": (pl.Int64, 0),  # reactive loss as ppm of metered kvarh
}

# The six columns that repeat the same few values on every line of a kind (tariff, version,
# component, line code, unit, rule) are Categorical: a line stores a 4-byte code into one shared
# dictionary instead of its own copy of the text (docs/decisions/0006). They read, compare, join and
# write (CSV, JSON, COPY) as strings; cast to pl.String before using the ``.str`` namespace.
LINES_SCHEMA: Mapping[str, Any] = {
    "account_id": None,
    "line_no": pl.Int32,  # 1-based order within the account
    "tariff": pl.Categorical(),
    "version": pl.Categorical(),
    "start_date": pl.Date,  # part of the period the line covers, [start, end)
    "end_date": pl.Date,
    "component": pl.Categorical(),  # component id in the tariff file
    "line_code": pl.Categorical(),  # e.g. energy.tier2, energy.peak, basic.demand, pf.adjustment, funds.renewable
    "quantity": pl.Decimal(38, 3),  # in `unit`
    "unit": pl.Categorical(),  # kWh | kvarh | kVA·月 | kW·月 | 元
    "unit_price": pl.Decimal(38, 8),  # yuan per unit (for pf.adjustment: the rate, e.g. -0.0075)
    "amount_fen": pl.Int64,
    "rule": pl.Categorical(),  # rule reference (document number)
    "explanation_zh": pl.String,  # e.g. "第一档 200 kWh × 0.5283 元/kWh"
    "explanation_en": pl.String,
}

TOTALS_SCHEMA: Mapping[str, Any] = {
    "account_id": None,
    "amount_fen": pl.Int64,  # = sum of the account's lines, always
    "billed_wh": pl.Int64,  # billed active energy incl. losses
    "line_count": pl.UInt32,
    "cos_phi": pl.Decimal(38, 2),  # rounded monthly power factor, None when not assessed
    "pf_rate": pl.Decimal(38, 8),  # adjustment rate applied, e.g. -0.0075
}

REJECTED_SCHEMA: Mapping[str, Any] = {
    "account_id": None,
    "field": pl.String,  # the input column or frame at fault
    "reason": pl.String,
}


@dataclass(frozen=True)
class RatingResult:
    """Bill lines, per-account totals, and the accounts that could not be rated (with reasons).

    A rejected account has no lines and no total: nothing is half-rated."""

    lines: pl.DataFrame
    totals: pl.DataFrame
    rejected: pl.DataFrame


def normalise(frame: pl.DataFrame, schema: Mapping[str, tuple[Any, Any]], name: str) -> pl.DataFrame:
    """Check columns and dtypes, fill optional columns with their defaults; never drop a row."""
    if not isinstance(frame, pl.DataFrame):
        raise UnableToRate(f"{name} must be a polars DataFrame", field=name)
    unknown = [c for c in frame.columns if c not in schema]
    if unknown:
        raise UnableToRate(f"{name}: unknown column(s) {unknown}", field=f"{name}.{unknown[0]}")
    out = []
    for column, (dtype, default) in schema.items():
        if column in frame.columns:
            actual = frame.schema[column]
            if column == ID:
                if actual not in (pl.Int64, pl.String, pl.Int32):
                    raise UnableToRate(f"{name}.{column} must be Int64 or String; got {actual}", field=f"{name}.{column}")
                out.append(pl.col(column).cast(pl.Int64) if actual == pl.Int32 else pl.col(column))
                continue
            if actual == dtype:
                expr = pl.col(column)
            elif actual == pl.Null:
                expr = pl.col(column).cast(dtype)
            elif dtype.is_integer() and actual.is_integer():
                expr = pl.col(column).cast(dtype, strict=True)
            else:
                raise UnableToRate(f"{name}.{column} must be {dtype}; got {actual}", field=f"{name}.{column}")
            # a null in a column with a default means "the default", as when the column is absent
            if default is not None and default is not REQUIRED and frame[column].null_count():
                expr = expr.fill_null(pl.lit(default, dtype=dtype))
            out.append(expr.alias(column))
        elif default is REQUIRED:
            raise UnableToRate(f"{name}: column {column!r} is required", field=f"{name}.{column}")
        elif isinstance(default, list):
            out.append(pl.lit(default, dtype=dtype).alias(column) if default else pl.lit(None, dtype=dtype).alias(column))
        else:
            out.append(pl.lit(default, dtype=dtype).alias(column))
    return frame.select(out)


def kwh_to_wh(value: Decimal | int | str) -> int:
    """kWh (exact decimal, at most 3 places) → Wh."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    wh = number * 1000
    if wh != wh.to_integral_value():
        raise ValueError(f"{value} kWh has more than 3 decimal places")
    return int(wh)
