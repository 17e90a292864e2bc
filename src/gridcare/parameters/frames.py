"""Frame schemas of the billing-parameter engine and the conversions between the rating kernel's
wide usage rows and the long (account, segment, register, Wh) form the parameter steps work on.

Long form makes every step a group-by: a register is ``total`` for a meter without time-of-use
registers, else a bucket name (sharp, peak, flat, valley, deep_valley). Quantities are Wh
(Int64), multiplier already applied, so rows of several meters can be pooled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from gridcare.core.errors import GridcareError
from gridcare.rating import USAGE_SCHEMA
from gridcare.rating.model import BUCKETS

ENERGY_COLUMNS = ("total_wh", *(f"{b}_wh" for b in BUCKETS))
META_COLUMNS = ("reactive_varh", "reverse_reactive_varh", "max_demand_w")
REGISTERS = ("total", *BUCKETS)


class UnableToApplyParameters(GridcareError):
    """The run as a whole cannot be processed (bad frame). Problems of one account never raise:
    they are exceptions in the outcome."""

    code = "unable_to_apply_parameters"


PARAMS_SCHEMA: Mapping[str, Any] = {
    "account_id": pl.Int64,  # the account the parameter belongs to
    "parameter_id": pl.Int64,  # the approved version's id (traceability)
    "kind": pl.String,  # split | deduction | sharing | free_allowance | capacity
    "version": pl.Int32,
    "start_date": pl.Date,  # part of the period this version is in force, [start, end)
    "end_date": pl.Date,
    "spec": pl.String,  # JSON
}

EXCEPTIONS_SCHEMA: Mapping[str, Any] = {
    "account_id": pl.Int64,
    "parameter_id": pl.Int64,
    "kind": pl.String,
    "code": pl.String,  # e.g. negative_deduction, quantity_capped, pool_allocated, related_usage_missing
    "blocking": pl.Boolean,  # True: the account must not be billed this run (billing skips it)
    "message": pl.String,  # English sentence with the figures
    "data": pl.String,  # JSON with the figures
}

TRACE_SCHEMA: Mapping[str, Any] = {
    "account_id": pl.Int64,
    "parameter_id": pl.Int64,
    "kind": pl.String,
    "target": pl.String,  # main | part:<n> | from:<account> | to:<account>
    "register": pl.String,
    "delta_wh": pl.Int64,  # change to the account's (or part's) usage in this register
    "note": pl.String,
}

LONG_SCHEMA: Mapping[str, Any] = {"account_id": pl.Int64, "register": pl.String, "wh": pl.Int64}

PART_COLUMNS: Mapping[str, Any] = {
    "account_id": pl.Int64,
    "part_no": pl.Int32,
    "parameter_id": pl.Int64,
    "tariff": pl.String,
    "category": pl.String,
    "label": pl.String,
}


def empty(schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


def conform(frame: pl.DataFrame, schema: Mapping[str, Any]) -> pl.DataFrame:
    """Select and cast to a schema (missing columns as nulls)."""
    return frame.select([
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items()
    ])


def normalise_usage(usage: pl.DataFrame) -> pl.DataFrame:
    """Every USAGE_SCHEMA column present with its dtype and default; account ids Int64."""
    if not isinstance(usage, pl.DataFrame):
        raise UnableToApplyParameters("usage must be a polars DataFrame", field="usage")
    unknown = [c for c in usage.columns if c not in USAGE_SCHEMA]
    if unknown:
        raise UnableToApplyParameters(f"usage: unknown column(s) {unknown}", field=f"usage.{unknown[0]}")
    if "account_id" not in usage.columns:
        raise UnableToApplyParameters("usage: column 'account_id' is required", field="usage.account_id")
    if not usage.schema["account_id"].is_integer():
        raise UnableToApplyParameters("usage.account_id must be an integer account id", field="usage.account_id")
    cols = [pl.col("account_id").cast(pl.Int64)]
    for name, (dtype, default) in USAGE_SCHEMA.items():
        if name == "account_id":
            continue
        if name in usage.columns:
            actual = usage.schema[name]
            if actual != dtype and not (actual == pl.Null or (actual.is_integer() and dtype.is_integer())):
                raise UnableToApplyParameters(f"usage.{name} must be {dtype}; got {actual}", field=f"usage.{name}")
            cols.append(pl.col(name).cast(dtype))
        else:
            cols.append(pl.lit(default, dtype=dtype).alias(name))
    return usage.select(cols)


def _is_tou() -> pl.Expr:
    return pl.any_horizontal([pl.col(f"{b}_wh").is_not_null() for b in BUCKETS])


def usage_to_long(usage: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(long, meta) from normalised usage: long = account_id, segment, register, wh (multiplier
    applied; a TOU row's missing flat register is total − other buckets, as the kernel reads it);
    meta = account_id, segment, reactive/reverse/demand (multiplied)."""
    m = pl.col("multiplier")
    others = pl.sum_horizontal([pl.col(f"{b}_wh").fill_null(0) for b in BUCKETS if b != "flat"])
    rows = usage.with_columns(
        _is_tou().alias("__tou"),
    ).with_columns(
        pl.when(pl.col("__tou") & pl.col("flat_wh").is_null() & pl.col("total_wh").is_not_null())
        .then(pl.col("total_wh") - others).otherwise(pl.col("flat_wh")).alias("flat_wh"),
    )
    parts = []
    for reg in REGISTERS:
        col = f"{reg}_wh"
        cond = ~pl.col("__tou") if reg == "total" else pl.col("__tou")
        parts.append(rows.filter(cond & pl.col(col).is_not_null()).select(
            "account_id", "segment", pl.lit(reg).alias("register"), (pl.col(col) * m).alias("wh")))
    long = pl.concat(parts).sort("account_id", "segment", "register")
    meta = usage.select(
        "account_id", "segment",
        *[(pl.col(c) * m).alias(c) for c in META_COLUMNS],
    )
    return long, meta


def long_to_usage(long: pl.DataFrame, meta: pl.DataFrame) -> pl.DataFrame:
    """Wide kernel usage rows (multiplier 1) from long rows and meta. A row with any bucket register
    is a TOU row (total_wh null, flat 0 when absent); else total_wh carries the energy."""
    keys = pl.concat([long.select("account_id", "segment"), meta.select("account_id", "segment")]).unique()
    wide = keys
    if long.height:
        pivot = long.pivot(on="register", index=["account_id", "segment"], values="wh", aggregate_function="sum")
        wide = keys.join(pivot, on=["account_id", "segment"], how="left")
    for reg in REGISTERS:
        if reg not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Int64).alias(reg))
    tou = pl.any_horizontal([pl.col(b).is_not_null() for b in BUCKETS])
    out = wide.join(meta, on=["account_id", "segment"], how="left").select(
        "account_id",
        pl.col("segment").cast(pl.Int32),
        pl.lit(1, dtype=pl.Int64).alias("multiplier"),
        pl.when(tou).then(None).otherwise(pl.col("total").fill_null(0)).cast(pl.Int64).alias("total_wh"),
        *[(pl.when(tou).then(pl.col(b).fill_null(0) if b == "flat" else pl.col(b)).otherwise(None))
          .cast(pl.Int64).alias(f"{b}_wh") for b in BUCKETS],
        *[pl.col(c).cast(USAGE_SCHEMA[c][0]) for c in META_COLUMNS],
    )
    return out.with_columns(pl.col("reverse_reactive_varh").fill_null(0)).sort("account_id", "segment")


def pooled(long: pl.DataFrame) -> pl.DataFrame:
    """account_id, register, wh summed over segments."""
    return long.group_by("account_id", "register").agg(pl.col("wh").sum()).sort("account_id", "register")


def account_tou(long: pl.DataFrame) -> pl.DataFrame:
    """account_id, tou (Boolean): whether the account's usage has time-of-use registers."""
    return long.group_by("account_id").agg((pl.col("register") != "total").any().alias("tou"))
