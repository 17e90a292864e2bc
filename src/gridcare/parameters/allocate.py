"""Exact integer sharing in Polars (largest-remainder / Hamilton method).

Every split and allocation in this app goes through :func:`largest_remainder`, so a quantity that
is shared out is never lost or doubled: the parts of one group always add up to the amount.
Rounding each part on its own would create or drop a watt-hour (the same reason
:func:`gridcare.core.money.allocate_fen` exists for fen).
"""

from __future__ import annotations

import polars as pl

_ROW = "__lr_row"


def largest_remainder(
    frame: pl.DataFrame,
    *,
    by: list[str],
    amount: str,
    weight: str,
    out: str,
    order: str | None = None,
) -> pl.DataFrame:
    """Share ``amount`` (the same value on every row of a group) over the rows of each ``by`` group
    in proportion to ``weight`` (integers ≥ 0), adding column ``out`` (Int64).

    Each row first gets ``floor(|amount| × weight / Σweight)``; the units left over go one each to
    the rows with the largest remainders, ties to the smaller ``order`` value (then input order).
    A group whose weights are all zero is shared equally. A negative amount is shared as its
    magnitude and negated, so parts never have mixed signs. Products are computed in Int128.
    """
    if frame.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.Int64).alias(out))
    # Group sums first (Int64 windows are cheap), then the Int128 products on plain columns.
    work = frame.with_row_index(_ROW).with_columns(
        pl.col(weight).cast(pl.Int64).sum().over(by).alias("__lr_tw"),
        pl.len().over(by).cast(pl.Int64).alias("__lr_n"),
    )
    zero = pl.col("__lr_tw") == 0
    eff_w = pl.when(zero).then(1).otherwise(pl.col(weight)).cast(pl.Int128)
    eff_total = pl.when(zero).then(pl.col("__lr_n")).otherwise(pl.col("__lr_tw")).cast(pl.Int128)
    mag = pl.col(amount).cast(pl.Int128).abs()
    work = work.with_columns(
        (mag * eff_w // eff_total).alias("__lr_base"),
        (mag * eff_w % eff_total).alias("__lr_frac"),
        mag.alias("__lr_mag"),
    )
    sort_cols = [*by, "__lr_frac"] + ([order] if order else []) + [_ROW]
    descending = [False] * len(by) + [True] + ([False] if order else []) + [False]
    # Rank within the group after sorting: the row's position minus the group's first position
    # (a broadcast min is much cheaper than a per-group int_range window).
    work = work.sort(sort_cols, descending=descending).with_row_index("__lr_pos").with_columns(
        (pl.col("__lr_pos") - pl.col("__lr_pos").min().over(by) + 1).cast(pl.Int64).alias("__lr_rank"),
        (pl.col("__lr_mag").cast(pl.Int64) - pl.col("__lr_base").cast(pl.Int64).sum().over(by)).alias("__lr_left"),
    )
    sign = pl.when(pl.col(amount) < 0).then(-1).otherwise(1)
    return (
        work.with_columns(
            (
                (pl.col("__lr_base").cast(pl.Int64) + (pl.col("__lr_rank") <= pl.col("__lr_left")).cast(pl.Int64))
                * sign
            ).alias(out)
        )
        .sort(_ROW)
        .drop(_ROW, "__lr_pos", "__lr_tw", "__lr_n", "__lr_base", "__lr_frac", "__lr_mag", "__lr_rank", "__lr_left")
    )
