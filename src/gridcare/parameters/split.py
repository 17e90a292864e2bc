"""定量定比: one meter's usage split across tariff categories by fixed quantities and fixed ratios.

Step order (documented in docs/billing-parameters.md, configurable per parameter):

* ``quantity_first`` (default): each fixed quantity, in the order listed, is taken from what is
  left; then the fixed ratios share the rest.
* ``ratio_first``: the fixed ratios share the whole usage; then each fixed quantity is taken from
  the share that stays on the account's own tariff.

Registers: a fixed quantity is drawn from the time-of-use registers in proportion to what they
hold (``proportional``) or from one register (e.g. ``flat``); a fixed ratio is applied to every
register. A quantity larger than what is left takes all that is left and is reported
(``quantity_capped``, not blocking). Every share is computed with the largest-remainder method,
so for every register: main + Σ parts = input, exactly — nothing lost or doubled.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from gridcare.parameters.allocate import largest_remainder
from gridcare.parameters.frames import EXCEPTIONS_SCHEMA, PART_COLUMNS, TRACE_SCHEMA, conform, empty
from gridcare.parameters.specs import SplitSpec

PART_LONG_SCHEMA = {"account_id": pl.Int64, "part_no": pl.Int32, "register": pl.String, "wh": pl.Int64}


@dataclass(frozen=True)
class SplitResult:
    main: pl.DataFrame  # account_id, register, wh: what stays on the account's own tariff
    part_usage: pl.DataFrame  # account_id, part_no, register, wh
    parts: pl.DataFrame  # PART_COLUMNS: one row per part (tariff, category, label)
    exceptions: pl.DataFrame
    trace: pl.DataFrame


def _plan(rules: list[tuple[int, int, SplitSpec]]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(quantity steps, ratio steps, parts), each step with its position in the account's order.

    Accounts sharing one spec object (the engine parses identical specs once) share one template,
    joined to their (account, parameter) pairs, so planning costs per distinct spec, not per account."""
    by_spec: dict[int, tuple[SplitSpec, list[tuple[int, int]]]] = {}
    for account_id, parameter_id, spec in rules:
        by_spec.setdefault(id(spec), (spec, []))[1].append((account_id, parameter_id))
    q_parts, r_parts, p_parts = [], [], []
    for spec, owners in by_spec.values():
        q_rows, r_rows, part_rows = [], [], []
        part_no = 0
        q_offset = 1 if spec.order == "ratio_first" and spec.ratios else 0
        for i, q in enumerate(spec.quantities):
            part_no += 1
            q_rows.append((i + 1 + q_offset, part_no, q.wh, q.registers))
            part_rows.append((part_no, q.tariff, q.category, q.label or f"定量 {q.wh / 1000:g} kWh"))
        if spec.ratios:
            step = 1 if spec.order == "ratio_first" else len(spec.quantities) + 1
            for i, r in enumerate(spec.ratios):
                if r.tariff is None:
                    r_rows.append((step, 0, r.ppm, i))
                    continue
                part_no += 1
                r_rows.append((step, part_no, r.ppm, i))
                part_rows.append((part_no, r.tariff, r.category, r.label or f"定比 {r.ppm / 10_000:g}%"))
            if all(r.tariff is not None for r in spec.ratios):
                # No share stays on the own tariff: the main part still takes part (weight 0) so
                # the registers it keeps are explicit zeros.
                r_rows.append((step, 0, 0, len(spec.ratios)))
        who = pl.DataFrame(owners, orient="row", schema={"account_id": pl.Int64, "parameter_id": pl.Int64})
        if q_rows:
            q_parts.append(who.join(pl.DataFrame(q_rows, orient="row", schema={
                "step": pl.Int32, "part_no": pl.Int32, "q_wh": pl.Int64, "registers": pl.String}), how="cross"))
        if r_rows:
            r_parts.append(who.join(pl.DataFrame(r_rows, orient="row", schema={
                "step": pl.Int32, "part_no": pl.Int32, "ppm": pl.Int64, "pos": pl.Int32}), how="cross"))
        if part_rows:
            p_parts.append(who.join(pl.DataFrame(part_rows, orient="row", schema={
                "part_no": pl.Int32, "tariff": pl.String, "category": pl.String, "label": pl.String}), how="cross"))
    q = pl.concat(q_parts) if q_parts else pl.DataFrame(schema={
        "account_id": pl.Int64, "parameter_id": pl.Int64, "step": pl.Int32, "part_no": pl.Int32, "q_wh": pl.Int64,
        "registers": pl.String})
    r = pl.concat(r_parts) if r_parts else pl.DataFrame(schema={
        "account_id": pl.Int64, "parameter_id": pl.Int64, "step": pl.Int32, "part_no": pl.Int32, "ppm": pl.Int64,
        "pos": pl.Int32})
    parts = pl.concat(p_parts).select(list(PART_COLUMNS)) if p_parts else pl.DataFrame(schema=dict(PART_COLUMNS))
    return q, r, parts.sort("account_id", "part_no")


def _take_quantities(remaining: pl.DataFrame, steps: pl.DataFrame, tou: pl.DataFrame
                     ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Apply one fixed-quantity step per account; returns (remaining, part usage, exceptions)."""
    prop = steps.filter(pl.col("registers") == "proportional")
    single = steps.filter(pl.col("registers") != "proportional")
    takes = []
    capped = []
    if prop.height:
        j = remaining.join(prop, on="account_id", how="inner").with_columns(
            pl.col("wh").sum().over("account_id").alias("avail"))
        j = j.with_columns(pl.min_horizontal("q_wh", "avail").alias("take"))
        j = largest_remainder(j, by=["account_id"], amount="take", weight="wh", out="take_r", order="register")
        takes.append(j.select("account_id", "part_no", "register", pl.col("take_r").alias("wh")))
        capped.append(j.group_by("account_id", "parameter_id", "part_no").agg(
            pl.col("q_wh").first(), pl.col("avail").first(), pl.col("take").first(), pl.lit("all registers").alias("src")))
    if single.height:
        s = single.join(tou, on="account_id", how="left").with_columns(
            pl.when(pl.col("tou").fill_null(False)).then(pl.col("registers")).otherwise(pl.lit("total")).alias("register"))
        s = s.join(remaining, on=["account_id", "register"], how="left").with_columns(
            pl.col("wh").fill_null(0).alias("avail"))
        s = s.with_columns(pl.min_horizontal("q_wh", "avail").alias("take"))
        takes.append(s.filter(pl.col("take") > 0).select("account_id", "part_no", "register", pl.col("take").alias("wh")))
        capped.append(s.select("account_id", "parameter_id", "part_no", "q_wh", "avail", "take",
                               pl.format("register {}", pl.col("register")).alias("src")))
    taken = pl.concat(takes) if takes else empty(PART_LONG_SCHEMA)
    taken = taken.with_columns(pl.col("part_no").cast(pl.Int32))
    per_reg = taken.group_by("account_id", "register").agg(pl.col("wh").sum().alias("t"))
    remaining = remaining.join(per_reg, on=["account_id", "register"], how="left").with_columns(
        (pl.col("wh") - pl.col("t").fill_null(0)).alias("wh")).drop("t")
    exc = empty(EXCEPTIONS_SCHEMA)
    if capped:
        c = pl.concat(capped).filter(pl.col("take") < pl.col("q_wh"))
        if c.height:
            exc = conform(c.select(
                "account_id", "parameter_id", pl.lit("split").alias("kind"), pl.lit("quantity_capped").alias("code"),
                pl.lit(False).alias("blocking"),
                pl.format("fixed quantity of part {} is {} Wh but only {} Wh are left in {}; {} Wh taken",
                          "part_no", "q_wh", "avail", "src", "take").alias("message"),
                pl.struct(pl.col("part_no"), pl.col("q_wh").alias("quantity_wh"), pl.col("avail").alias("available_wh"),
                          pl.col("take").alias("taken_wh")).struct.json_encode().alias("data"),
            ), EXCEPTIONS_SCHEMA)
    return remaining, taken, exc


def _share_ratios(remaining: pl.DataFrame, steps: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply one fixed-ratio group per account to every register; returns (remaining, part usage)."""
    j = remaining.join(steps, on="account_id", how="inner")
    j = largest_remainder(j, by=["account_id", "register"], amount="wh", weight="ppm", out="share", order="pos")
    main = j.filter(pl.col("part_no") == 0).select("account_id", "register", pl.col("share").alias("new"))
    parts = j.filter(pl.col("part_no") != 0).select("account_id", "part_no", "register", pl.col("share").alias("wh"))
    remaining = remaining.join(main, on=["account_id", "register"], how="left").with_columns(
        pl.coalesce("new", "wh").alias("wh")).drop("new")
    return remaining, parts


def split_usage(pooled: pl.DataFrame, rules: list[tuple[int, int, SplitSpec]], tou: pl.DataFrame) -> SplitResult:
    """Split the pooled usage (account_id, register, wh) of the accounts in `rules`
    ((account_id, parameter_id, spec), at most one per account). `tou`: account_id, tou."""
    q, r, parts = _plan(rules)
    ids = pl.Series([a for a, _, _ in rules], dtype=pl.Int64)
    remaining = pooled.filter(pl.col("account_id").is_in(ids.implode()))
    part_usage, excs = [], []
    last = max([*q["step"].to_list(), *r["step"].to_list(), 0])
    for step in range(1, last + 1):
        qs = q.filter(pl.col("step") == step)
        if qs.height:
            remaining, taken, exc = _take_quantities(remaining, qs, tou)
            part_usage.append(taken)
            excs.append(exc)
        rs = r.filter(pl.col("step") == step)
        if rs.height:
            remaining, shared = _share_ratios(remaining, rs)
            part_usage.append(shared)
    usage = pl.concat([conform(p, PART_LONG_SCHEMA) for p in part_usage]) if part_usage else empty(PART_LONG_SCHEMA)
    usage = usage.group_by("account_id", "part_no", "register").agg(pl.col("wh").sum()).sort(
        "account_id", "part_no", "register")
    pid = parts.select("account_id", "part_no", "parameter_id")
    trace_parts = usage.join(pid, on=["account_id", "part_no"], how="left").select(
        "account_id", "parameter_id", pl.lit("split").alias("kind"), pl.format("part:{}", "part_no").alias("target"),
        "register", pl.col("wh").alias("delta_wh"), pl.lit("").alias("note"))
    trace_main = usage.group_by("account_id", "register").agg((-pl.col("wh").sum()).alias("delta_wh")).join(
        parts.group_by("account_id").agg(pl.col("parameter_id").first()), on="account_id", how="left").select(
        "account_id", "parameter_id", pl.lit("split").alias("kind"), pl.lit("main").alias("target"), "register",
        "delta_wh", pl.lit("").alias("note"))
    trace = conform(pl.concat([trace_parts, trace_main]), TRACE_SCHEMA)
    return SplitResult(
        main=remaining.sort("account_id", "register"),
        part_usage=usage,
        parts=parts,
        exceptions=pl.concat([empty(EXCEPTIONS_SCHEMA), *excs]),
        trace=trace,
    )
