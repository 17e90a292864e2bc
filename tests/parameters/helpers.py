"""Frames for the engine tests: the shipped tariff library and small builders."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache

import polars as pl

from gridcare.rating import load_library

JAN = (date(2026, 1, 1), date(2026, 2, 1))


@lru_cache(maxsize=1)
def library():
    return load_library()


def accounts(*rows):
    """rows: (account_id, tariff, category[, capacity_va])"""
    return pl.DataFrame([(r[0], r[1], r[2], r[3] if len(r) > 3 else 0) for r in rows], orient="row",
                        schema={"account_id": pl.Int64, "tariff": pl.String, "category": pl.String,
                                "capacity_va": pl.Int64})


def usage(*rows, **extra_cols):
    """rows: dicts of kernel usage columns (account_id required)."""
    cols = ["account_id", "segment", "multiplier", "total_wh", "sharp_wh", "peak_wh", "flat_wh", "valley_wh",
            "reactive_varh", "max_demand_w"]
    data = {c: [r.get(c) for r in rows] for c in cols}
    schema = {c: pl.Int64 for c in cols}
    schema["segment"] = pl.Int32
    for r in rows:
        r.setdefault("segment", 1)
    data["segment"] = [r.get("segment", 1) for r in rows]
    data["multiplier"] = [r.get("multiplier", 1) for r in rows]
    return pl.DataFrame(data, schema=schema)


def params(*rows):
    """rows: (account_id, parameter_id, kind, spec dict[, start_date, end_date])"""
    return pl.DataFrame(
        [(r[0], r[1], r[2], 1, r[4] if len(r) > 4 else None, r[5] if len(r) > 5 else None, json.dumps(r[3]))
         for r in rows], orient="row",
        schema={"account_id": pl.Int64, "parameter_id": pl.Int64, "kind": pl.String, "version": pl.Int32,
                "start_date": pl.Date, "end_date": pl.Date, "spec": pl.String})


def lines_of(result, account_id):
    return result.lines.filter(pl.col("account_id") == account_id).sort("line_no")
