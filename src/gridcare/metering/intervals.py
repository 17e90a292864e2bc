"""Gaps in 24/96-point interval data: fill, flag (估抄), reconcile with the register.

Pure Polars and Python, no database: the import service hands in the day's points, the history it
loaded and the register advances, and stores what comes back. Only days with a gap go through the
Python loop; complete days pass untouched (they are the bulk of every file).

Per missing point, in this order (configuration `interval_gaps` in defaults.yaml):

1. **linear** — a gap of at most `linear_max_minutes` with a read point on both sides on the same
   day: straight line between the two neighbouring intervals' energies.
2. **history** — the mean of the same point on the same weekday over the last `history_weeks`
   weeks (actual points only: from earlier imports and from this file).
3. **missing** — nothing to go on, or the day misses more than `max_fill_share` of its points:
   the point is not stored; the import quarantines it as `interval_gap` for the clerk, and the
   day stays incomplete (a billing run does not use incomplete interval days).

Reconciliation: when the meter's total register has actual reads at 00:00 of the day and of the
next day, the day's energy is known exactly (advance × 1, both in Wh at the meter, before the
multiplier). The estimated points are then scaled so that actual + estimated = the advance,
keeping their shape (largest-remainder rounding to whole Wh, so the sum is exact). When the actual
points alone already exceed the advance, the estimates are kept unscaled and the day is reported
as `register_mismatch` for the clerk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from django.utils.translation import gettext as _

from gridcare.metering.config import MeteringConfig

ACTUAL, LINEAR, HISTORY, MISSING = "actual", "linear", "history", "missing"
POINT_SCHEMA = {"meter_id": pl.Int64, "read_date": pl.Date, "point": pl.Int16, "wh": pl.Int64}
REGISTER_DAY_SCHEMA = {"meter_id": pl.Int64, "read_date": pl.Date, "day_wh": pl.Int64}


@dataclass(frozen=True)
class GapDay:
    """One meter-day that had a gap: what was filled how, and how it ended against the register."""

    asset_number: str
    read_date: date
    line_no: int
    points_per_day: int
    linear: int
    history: int
    missing: int
    register: str  # reconciled | register_mismatch | no_register | incomplete

    def as_dict(self) -> dict:
        return {"asset_number": self.asset_number, "read_date": self.read_date.isoformat(), "line": self.line_no,
                "points_per_day": self.points_per_day, "linear": self.linear, "history": self.history,
                "missing": self.missing, "register": self.register}


def interval_labels() -> dict[str, str]:
    """Display names of the gap reason, fill methods and register outcomes (active language)."""
    return {
        "interval_gap": _("Interval gap left for the clerk"),
        LINEAR: _("Linear between neighbouring points"), HISTORY: _("Same point, same weekday, from history"),
        "reconciled": _("Scaled to the register's advance"), "register_mismatch": _("Points exceed the register's advance"),
        "no_register": _("No register reads for the day"), "incomplete": _("Points still missing"),
    }


def _half_up(num: int, den: int) -> int:
    """round(num / den) half up, for non-negative integers."""
    return (2 * num + den) // (2 * den)


def _linear(a: int, b: int, gap: int) -> list[int]:
    return [_half_up(a * (gap + 1 - k) + b * k, gap + 1) for k in range(1, gap + 1)]


def _runs(values: Sequence[int | None]) -> list[tuple[int, int]]:
    """[start, end) of every run of missing points."""
    runs, start = [], None
    for i, v in enumerate(values):
        if v is None and start is None:
            start = i
        elif v is not None and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(values)))
    return runs


def _scale_to(estimates: dict[int, int], target: int) -> dict[int, int]:
    """Scale the estimates to sum exactly to `target` (≥ 0), largest remainder first."""
    keys = sorted(estimates)
    weights = [estimates[k] for k in keys]
    total = sum(weights)
    if total == 0:
        weights, total = [1] * len(keys), len(keys)
    shares = [target * w for w in weights]
    out = [s // total for s in shares]
    rest = target - sum(out)
    order = sorted(range(len(keys)), key=lambda i: (-(shares[i] % total), i))
    for i in order[:rest]:
        out[i] += 1
    return dict(zip(keys, out, strict=True))


def fill_day(values: list[int | None], *, history: dict[int, list[int]], minutes_per_point: int,
             config: MeteringConfig) -> tuple[list[int | None], list[str]]:
    """One day's points (None = missing) → (filled values, quality per point). `history` maps a
    0-based point to the actual values of the same point on earlier same weekdays."""
    quality = [ACTUAL if v is not None else MISSING for v in values]
    filled = list(values)
    missing = quality.count(MISSING)
    if not missing or missing > config.gap_max_fill_share * len(values):
        return filled, quality
    max_linear = config.gap_linear_max_minutes // minutes_per_point
    for start, end in _runs(values):
        gap = end - start
        if 0 < start and end < len(values) and gap <= max_linear:
            filled[start:end] = _linear(values[start - 1], values[end], gap)
            quality[start:end] = [LINEAR] * gap
            continue
        for i in range(start, end):
            seen = history.get(i)
            if seen:
                filled[i] = _half_up(sum(seen), len(seen))
                quality[i] = HISTORY
    return filled, quality


def fill_gaps(points: pl.DataFrame, *, history: pl.DataFrame, register_days: pl.DataFrame,
              config: MeteringConfig) -> tuple[pl.DataFrame, list[GapDay]]:
    """`points`: line_no, asset_number, meter_id, read_date, point (1-based), points_per_day,
    value_milli (null = missing), one row per point of every day. Returns the same rows with `wh`
    (null where still missing) and `quality`, and a GapDay per day that had a gap.

    `history`: POINT_SCHEMA, actual points of earlier imports; `register_days`: REGISTER_DAY_SCHEMA,
    the total register's advance over a day where both reads are actual."""
    key = ["meter_id", "read_date"]
    gap_keys = points.filter(pl.col("value_milli").is_null()).select(key).unique()
    out = points.with_columns(pl.col("value_milli").alias("wh"), pl.lit(ACTUAL).alias("quality"))
    if gap_keys.height == 0:
        return out, []
    # History pool: earlier imports plus this file's actual points, same weekday within the window.
    own = points.filter(pl.col("value_milli").is_not_null()).select(
        "meter_id", "read_date", "point", pl.col("value_milli").alias("wh"))
    pool = pl.concat([history.select(list(POINT_SCHEMA)).cast(POINT_SCHEMA), own.cast(POINT_SCHEMA)]).unique(
        subset=["meter_id", "read_date", "point"], keep="last")
    wanted = gap_keys.join(pl.DataFrame({"weeks": list(range(1, config.gap_history_weeks + 1))},
                                        schema={"weeks": pl.Int64}), how="cross").select(
        "meter_id", pl.col("read_date").alias("gap_date"),
        (pl.col("read_date") - pl.duration(weeks=pl.col("weeks"))).alias("read_date"))
    seen = wanted.join(pool, on=["meter_id", "read_date"], how="inner")
    hist: dict[tuple[int, date], dict[int, list[int]]] = {}
    for meter_id, gap_date, point, wh in seen.select("meter_id", "gap_date", "point", "wh").iter_rows():
        hist.setdefault((meter_id, gap_date), {}).setdefault(point - 1, []).append(wh)
    registers = {(m, d): wh for m, d, wh in register_days.select("meter_id", "read_date", "day_wh").iter_rows()}

    gap_rows = points.join(gap_keys, on=key, how="inner").sort(*key, "point")
    days: list[GapDay] = []
    patches: list[tuple[int, date, int, int | None, str]] = []
    for (meter_id, day), frame in gap_rows.group_by(key, maintain_order=True):
        ppd = int(frame["points_per_day"][0])
        values = [None] * ppd
        for point, value in zip(frame["point"].to_list(), frame["value_milli"].to_list(), strict=True):
            values[point - 1] = value
        filled, quality = fill_day(values, history=hist.get((meter_id, day), {}),
                                   minutes_per_point=1440 // ppd, config=config)
        state = "incomplete" if MISSING in quality else "no_register"
        advance = registers.get((meter_id, day))
        estimated = {i: filled[i] for i, q in enumerate(quality) if q in (LINEAR, HISTORY)}
        if state == "no_register" and advance is not None and config.gap_reconcile_with_register:
            actual = sum(v for v, q in zip(filled, quality, strict=True) if q == ACTUAL)
            if advance >= actual:
                for i, v in _scale_to(estimated, advance - actual).items():
                    filled[i] = v
                state = "reconciled"
            else:
                state = "register_mismatch"
        for i, q in enumerate(quality):
            if q != ACTUAL:
                patches.append((meter_id, day, i + 1, filled[i], q))
        days.append(GapDay(str(frame["asset_number"][0]), day, int(frame["line_no"].min()), ppd,
                           quality.count(LINEAR), quality.count(HISTORY), quality.count(MISSING), state))
    patch = pl.DataFrame(patches, schema={"meter_id": pl.Int64, "read_date": pl.Date, "point": pl.Int16,
                                          "_wh": pl.Int64, "_quality": pl.Utf8}, orient="row")
    out = out.join(patch, on=[*key, "point"], how="left").with_columns(
        pl.when(pl.col("_quality").is_not_null()).then(pl.col("_wh")).otherwise(pl.col("wh")).alias("wh"),
        pl.coalesce("_quality", "quality").alias("quality"),
    ).drop("_wh", "_quality")
    return out, days


def register_days_frame(reads: pl.DataFrame) -> pl.DataFrame:
    """From actual total-register reads (meter_id, read_date, value_milli): the advance of each day
    whose next day also has a read. A decrease (rollover, meter change) gives no advance."""
    nxt = reads.select("meter_id", (pl.col("read_date") - timedelta(days=1)).alias("read_date"),
                       pl.col("value_milli").alias("next_value"))
    return (reads.join(nxt, on=["meter_id", "read_date"], how="inner")
            .filter(pl.col("next_value") >= pl.col("value_milli"))
            .select("meter_id", "read_date", (pl.col("next_value") - pl.col("value_milli")).alias("day_wh"))
            .cast(REGISTER_DAY_SCHEMA))
