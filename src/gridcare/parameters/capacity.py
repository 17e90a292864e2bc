"""计费容量: billing-capacity changes as rating segments, and 私增容量 (unauthorised capacity).

Capacity versions (增容 increase, 减容 decrease, 暂停 suspend, 暂换 temporary replacement, or the
base capacity) cut the billing period into segments; each segment carries the capacity billed and
the capacity sealed, and the rating kernel prorates the basic charge by days the way the tariff
says (``basic.proration``: 1/30 a day per 《供电营业规则》(1996), or actual days) and charges a
suspension shorter than ``suspension_min_days`` in full. Usage is shared over the new segments in
proportion to their days (largest remainder, so nothing is lost); maximum demand is the period's.

私增容量 is not part of the monthly bill: it is back-billed as a case (see backbilling.py) with
``unauthorised_capacity_lines``: two-part users pay the basic charge of the added capacity for the
months used plus a penalty of ``two_part_penalty_multiple`` × that basic charge; other users pay
``other_penalty_yuan_per_kva`` per kVA. Both numbers are configuration with their source.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from gridcare.core.money import rounding_mode
from gridcare.parameters.allocate import largest_remainder
from gridcare.parameters.config import ParametersConfig
from gridcare.parameters.frames import META_COLUMNS
from gridcare.parameters.specs import CAPACITY_CHANGE_ZH, CapacitySpec
from gridcare.rating import SEGMENTS_SCHEMA

PIECES_SCHEMA = {
    "account_id": pl.Int64, "parameter_id": pl.Int64, "change": pl.String, "start_date": pl.Date,
    "end_date": pl.Date, "capacity_va": pl.Int64, "suspended_va": pl.Int64, "suspension_days": pl.Int32,
}
SEG_DTYPES = {name: (dtype if dtype is not None else pl.Int64) for name, (dtype, _d) in SEGMENTS_SCHEMA.items()}


def capacity_pieces(rows: list[tuple[int, int, date, date | None, date, date | None, CapacitySpec]],
                    period_start: date, period_end: date) -> pl.DataFrame:
    """rows: (account, parameter_id, piece start, piece end, version start, version end, spec) →
    PIECES_SCHEMA, clipped to the period. The whole version's length (None if open-ended) is the
    suspension length the kernel checks against the tariff's minimum suspension days."""
    out = []
    for account_id, pid, start, end, v_start, v_end, spec in rows:
        s = max(start, period_start)
        e = min(end or period_end, period_end)
        if s >= e:
            continue
        days = (v_end - v_start).days if spec.change == "suspend" and v_end is not None else None
        out.append((account_id, pid, spec.change, s, e, spec.capacity_va, spec.suspended_va, days))
    return pl.DataFrame(out, orient="row", schema=PIECES_SCHEMA)


def overlay_segments(usage: pl.DataFrame, segments: pl.DataFrame | None, pieces: pl.DataFrame,
                     period_start: date, period_end: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(usage, segments) for the accounts in `pieces`: their existing segments (or the whole period
    as one) cut at the capacity pieces' dates, usage shared by days. `usage` is normalised kernel
    usage of those accounts (multiplier 1); returned frames cover only those accounts."""
    ids = pieces["account_id"].unique().implode()
    own = usage.filter(pl.col("account_id").is_in(ids))
    base = None
    if segments is not None and segments.height:
        base = segments.filter(pl.col("account_id").is_in(ids))
    have = set(base["account_id"].to_list()) if base is not None else set()
    single = [a for a in pieces["account_id"].unique().to_list() if a not in have]
    seg_cols = {c: t for c, t in SEG_DTYPES.items()}
    whole = pl.DataFrame({"account_id": single}, schema={"account_id": pl.Int64}).with_columns(
        pl.lit(1, dtype=pl.Int32).alias("segment"), pl.lit(period_start).alias("start_date"),
        pl.lit(period_end).alias("end_date"))
    parts = [whole]
    if base is not None and base.height:
        parts.append(base)
    base_all = pl.concat([p.select([(pl.col(c) if c in p.columns else pl.lit(None)).cast(t).alias(c)
                                    for c, t in seg_cols.items()]) for p in parts])
    # Accounts without segments: all their usage rows are one segment.
    energy = [c for c in own.columns if c.endswith("_wh")]
    def _sum(c: str) -> pl.Expr:
        return pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).otherwise(None).alias(c)

    pooled_single = own.filter(pl.col("account_id").is_in(single)).group_by("account_id").agg(
        *[_sum(c) for c in (*energy, "reactive_varh", "reverse_reactive_varh")],
        pl.col("max_demand_w").max(),
    ).with_columns(pl.lit(1, dtype=pl.Int32).alias("segment"), pl.lit(1, dtype=pl.Int64).alias("multiplier"))
    own = pl.concat([own.filter(~pl.col("account_id").is_in(single)), pooled_single.select(own.columns)])
    # Cut every base segment at the pieces' boundaries.
    cuts = pieces.select("account_id", pl.col("start_date").alias("d")).vstack(
        pieces.select("account_id", pl.col("end_date").alias("d")))
    rows = []
    cut_map: dict[int, set[date]] = {}
    for a, d in cuts.iter_rows():
        cut_map.setdefault(a, set()).add(d)
    piece_rows = pieces.sort("start_date").rows(named=True)
    for seg in base_all.sort("account_id", "segment").iter_rows(named=True):
        a = seg["account_id"]
        inner = sorted(d for d in cut_map.get(a, ()) if seg["start_date"] < d < seg["end_date"])
        bounds = [seg["start_date"], *inner, seg["end_date"]]
        for s, e in zip(bounds, bounds[1:], strict=False):
            cover = [p for p in piece_rows if p["account_id"] == a and p["start_date"] <= s and e <= p["end_date"]]
            p = cover[-1] if cover else None
            new = dict(seg)
            new["orig_segment"] = seg["segment"]
            new["start_date"], new["end_date"] = s, e
            new["days"] = (e - s).days
            if p is not None:
                if p["capacity_va"] is not None:
                    new["capacity_va"] = p["capacity_va"]
                new["suspended_va"] = p["suspended_va"]
                new["suspension_days"] = p["suspension_days"]
            rows.append(new)
    new_segs = pl.DataFrame(rows, schema={**seg_cols, "orig_segment": pl.Int32, "days": pl.Int64}).sort(
        "account_id", "start_date").with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("account_id").alias("new_segment"))
    # Share each original segment's usage over its new segments by days.
    link = new_segs.select("account_id", pl.col("orig_segment").alias("segment"), "new_segment", "days")
    shared_cols = [c for c in (*energy, "reactive_varh", "reverse_reactive_varh")]
    out = own.join(link, on=["account_id", "segment"], how="inner")
    for c in shared_cols:
        out = out.with_columns(pl.col(c).fill_null(0).alias(f"__{c}"))
        out = largest_remainder(out, by=["account_id", "segment"], amount=f"__{c}", weight="days", out=f"__s_{c}",
                                order="new_segment")
        out = out.with_columns(pl.when(pl.col(c).is_null()).then(None).otherwise(pl.col(f"__s_{c}")).alias(c)).drop(
            f"__{c}", f"__s_{c}")
    new_usage = out.with_columns(pl.col("new_segment").alias("segment")).drop("new_segment", "days").select(
        usage.columns)
    defaults = [pl.col(c).fill_null(d) for c, (_t, d) in SEGMENTS_SCHEMA.items()
                if isinstance(d, int) and not isinstance(d, bool)]
    segs = new_segs.with_columns(pl.col("new_segment").alias("segment")).select(list(seg_cols)).with_columns(defaults)
    assert set(META_COLUMNS) <= set(new_usage.columns)
    return new_usage.sort("account_id", "segment"), segs


def unauthorised_capacity_lines(*, added_kva: Decimal, months: int, basic_price: Decimal | None, two_part: bool,
                                config: ParametersConfig) -> list[dict]:
    """私增容量 charges as line dicts (line_code, quantity, unit, unit_price, amount_fen, explanations).

    Two-part (basic price known): back basic charge = kVA × price × months; penalty = multiple ×
    that. Other users: penalty = kVA × the configured yuan per kVA (no back basic charge)."""
    mode = rounding_mode(config.unauthorised_rounding)

    def fen(yuan: Decimal) -> int:
        return int((yuan * 100).quantize(Decimal(1), rounding=mode))

    if two_part:
        if basic_price is None:
            raise ValueError("a two-part user needs the basic (capacity) price")
        back = fen(added_kva * basic_price * months)
        penalty = fen(Decimal(back) / 100 * config.unauthorised_multiple)
        qty = added_kva * months
        return [
            {"line_code": "capacity.unauthorised_basic", "component": "capacity", "quantity": qty, "unit": "kVA·月",
             "unit_price": basic_price, "amount_fen": back, "rule": config.unauthorised_source,
             "explanation_zh": f"补交私增容量基本电费 {added_kva:f} kVA × {basic_price:f} 元/kVA·月 × {months} 个月",
             "explanation_en": f"Basic charge on unauthorised capacity {added_kva:f} kVA × {basic_price:f} "
                               f"yuan/kVA·month × {months} months"},
            {"line_code": "capacity.unauthorised_penalty", "component": "capacity", "quantity": Decimal(back) / 100,
             "unit": "元", "unit_price": config.unauthorised_multiple, "amount_fen": penalty,
             "rule": config.unauthorised_source,
             "explanation_zh": f"违约使用电费：{config.unauthorised_multiple:f} 倍私增容量基本电费 "
                               f"{Decimal(back) / 100:.2f} 元",
             "explanation_en": f"Penalty: {config.unauthorised_multiple:f} × the basic charge "
                               f"{Decimal(back) / 100:.2f} yuan"},
        ]
    penalty = fen(added_kva * config.unauthorised_per_kva)
    return [
        {"line_code": "capacity.unauthorised_penalty", "component": "capacity", "quantity": added_kva, "unit": "kVA",
         "unit_price": config.unauthorised_per_kva, "amount_fen": penalty, "rule": config.unauthorised_source,
         "explanation_zh": f"违约使用电费：私增容量 {added_kva:f} kVA × {config.unauthorised_per_kva:f} 元/kVA",
         "explanation_en": f"Penalty: unauthorised capacity {added_kva:f} kVA × {config.unauthorised_per_kva:f} "
                           "yuan/kVA"},
    ]


def describe_piece(change: str, capacity_va: int | None, suspended_va: int) -> str:
    """Short zh text for the 360 page and bill explanations."""
    label = CAPACITY_CHANGE_ZH.get(change, change)
    if change == "suspend":
        return f"{label} {suspended_va / 1000:g} kVA"
    return f"{label} {capacity_va / 1000:g} kVA" if capacity_va is not None else label
