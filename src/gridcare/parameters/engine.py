"""The billing-parameter engine: usage frame + parameter frame → adjusted frames + exceptions.

Pure Polars (no Django, no clock). Billing calls :func:`rate_with_parameters` in place of
``gridcare.rating.rate`` (or :func:`apply_billing_parameters` and rates the frames itself).

Order of the steps (docs/billing-parameters.md):

1. 扣减 deduction: parents net of their direct children's metered usage (multi-level trees);
2. 公用分摊 sharing: pools shared out to members (by ratio, or by consumption after step 1);
3. 定量定比 split: each account's usage (after 1 and 2) split into fixed-quantity / fixed-ratio
   parts rated on other tariffs;
4. 计费容量 capacity: the period cut into capacity segments, usage shared by days;
5. rating (gridcare.rating) of the main usage and of each part;
6. 免费电 free allowance: a credit line after rating.

Which version applies: capacity versions are applied day by day (segments); every other kind uses
the version in force on the last day of the billing period.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from gridcare.core.errors import GridcareError
from gridcare.parameters.allocate import largest_remainder
from gridcare.parameters.allowances import ALLOWANCE_SCHEMA, allowance_lines
from gridcare.parameters.capacity import PIECES_SCHEMA, capacity_pieces, overlay_segments
from gridcare.parameters.config import ParametersConfig, default_config
from gridcare.parameters.deduction import deduct, share
from gridcare.parameters.frames import (
    EXCEPTIONS_SCHEMA,
    PARAMS_SCHEMA,
    PART_COLUMNS,
    TRACE_SCHEMA,
    UnableToApplyParameters,
    account_tou,
    conform,
    empty,
    long_to_usage,
    normalise_usage,
    pooled,
    usage_to_long,
)
from gridcare.parameters.specs import (
    AllowanceSpec,
    CapacitySpec,
    DeductionSpec,
    SharingSpec,
    SplitSpec,
    parse_spec,
)
from gridcare.parameters.split import split_usage
from gridcare.rating import ACCOUNTS_SCHEMA, REJECTED_SCHEMA, TOTALS_SCHEMA, RatingResult, ScheduleSet, rate

PARTS_SCHEMA = {**PART_COLUMNS, "total_wh": pl.Int64, "sharp_wh": pl.Int64, "peak_wh": pl.Int64,
                "flat_wh": pl.Int64, "valley_wh": pl.Int64, "deep_valley_wh": pl.Int64}


@dataclass(frozen=True)
class ParameterOutcome:
    """What the parameters did to one run's usage.

    usage       kernel usage rows (USAGE_SCHEMA) for each account's own tariff; accounts with a
                blocking exception are left out.
    parts       PARTS_SCHEMA: usage split off to other tariffs (定量定比), one row per part.
    allowances  ALLOWANCE_SCHEMA: free kWh to credit after rating (免费电).
    capacity    PIECES_SCHEMA: capacity in force on parts of the period (计费容量).
    exceptions  EXCEPTIONS_SCHEMA: blocking ones mean "do not bill this account in this run".
    trace       TRACE_SCHEMA: every change to every register, with the parameter that made it.
    """

    usage: pl.DataFrame
    parts: pl.DataFrame
    allowances: pl.DataFrame
    capacity: pl.DataFrame
    exceptions: pl.DataFrame
    trace: pl.DataFrame

    @property
    def blocked(self) -> set[int]:
        return set(self.exceptions.filter(pl.col("blocking"))["account_id"].to_list())


@dataclass(frozen=True)
class ParameterRating:
    result: RatingResult
    outcome: ParameterOutcome
    part_results: dict[str, Any] = field(default_factory=dict)


def _bounds(period: Any) -> tuple[date, date]:
    if isinstance(period, tuple) and len(period) == 2:
        start, end = period
    elif hasattr(period, "start") and hasattr(period, "end"):
        start, end = period.start, period.end
    else:
        raise UnableToApplyParameters("period must be (start, end) or have .start/.end", field="period")
    if not (isinstance(start, date) and isinstance(end, date)) or start >= end:
        raise UnableToApplyParameters(f"period [{start}, {end}) is empty or not dates", field="period")
    return start, end


def _params(params: pl.DataFrame | None) -> pl.DataFrame:
    if params is None:
        return empty(PARAMS_SCHEMA)
    missing = [c for c in ("account_id", "parameter_id", "kind", "spec") if c not in params.columns]
    if missing:
        raise UnableToApplyParameters(f"params: column {missing[0]!r} is required", field=f"params.{missing[0]}")
    return conform(params, PARAMS_SCHEMA)


def _exceptions(rows: list[tuple]) -> pl.DataFrame:
    if not rows:
        return empty(EXCEPTIONS_SCHEMA)
    return pl.DataFrame([(*r[:6], json.dumps(r[6], ensure_ascii=False, sort_keys=True)) for r in rows],
                        orient="row", schema=dict(EXCEPTIONS_SCHEMA))


def _spread(long: pl.DataFrame, before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """Per-segment long usage after applying the pooled change (after − before) to the segments in
    proportion to their usage in each register; a register new to the account goes to its last
    segment."""
    delta = after.join(before, on=["account_id", "register"], how="full", coalesce=True, suffix="_b").with_columns(
        (pl.col("wh").fill_null(0) - pl.col("wh_b").fill_null(0)).alias("d")).filter(pl.col("d") != 0).select(
        "account_id", "register", "d")
    if delta.height == 0:
        return long
    last_seg = long.group_by("account_id").agg(pl.col("segment").max().alias("last"))
    targets = delta.join(long, on=["account_id", "register"], how="left").join(last_seg, on="account_id", how="left")
    targets = targets.with_columns(
        pl.coalesce("segment", "last", pl.lit(1, dtype=pl.Int32)).cast(pl.Int32).alias("segment"),
        pl.col("wh").fill_null(0)).with_columns((-pl.col("segment")).alias("__ord"))
    targets = largest_remainder(targets, by=["account_id", "register"], amount="d", weight="wh", out="dd",
                                order="__ord")
    add = targets.select("account_id", "segment", "register", "dd")
    return long.join(add, on=["account_id", "segment", "register"], how="full", coalesce=True).with_columns(
        (pl.col("wh").fill_null(0) + pl.col("dd").fill_null(0)).alias("wh")).drop("dd").select(
        "account_id", "segment", "register", "wh")


def apply_billing_parameters(usage: pl.DataFrame, params: pl.DataFrame | None, period: Any, *,
                             config: ParametersConfig | None = None) -> ParameterOutcome:
    """Apply the parameters in force in `period` ((start, end) or an object with .start/.end) to
    `usage` (the rating kernel's USAGE_SCHEMA, integer account ids). `params` is PARAMS_SCHEMA,
    as given by ``gridcare.parameters.selectors.billing_parameters``.

    The usage of every account a parameter refers to (a parent's children, a pool and its members)
    must be in `usage`; an account whose related usage is missing gets a blocking exception."""
    cfg = config or default_config()
    start, end = _bounds(period)
    usage = normalise_usage(usage)
    params = _params(params)
    last_day = end - timedelta(days=1)
    in_force = (pl.col("start_date").is_null() | (pl.col("start_date") <= last_day)) & (
        pl.col("end_date").is_null() | (pl.col("end_date") > last_day))
    period_level = params.filter((pl.col("kind") != "capacity") & in_force)
    cap_rows = params.filter((pl.col("kind") == "capacity") & (
        pl.col("start_date").is_null() | (pl.col("start_date") < end)) & (
        pl.col("end_date").is_null() | (pl.col("end_date") > start)))
    exc_rows: list[tuple] = []
    splits: list[tuple[int, int, SplitSpec]] = []
    edges: list[tuple[int, int, DeductionSpec]] = []
    pools: list[tuple[int, int, SharingSpec]] = []
    allowances: list[tuple] = []
    capacity: list[tuple] = []
    seen: set[tuple[int, str]] = set()
    parsed: dict[tuple[str, str], Any] = {}  # identical specs (a common split, a scheme) are parsed once
    for row in pl.concat([period_level, cap_rows]).sort("account_id", "kind", "start_date",
                                                        nulls_last=False).iter_rows(named=True):
        acc, pid, kind = row["account_id"], row["parameter_id"], row["kind"]
        key = (kind, row["spec"] or "null")
        try:
            if key not in parsed:
                try:
                    parsed[key] = parse_spec(kind, json.loads(key[1]), config=cfg)
                except (GridcareError, ValueError) as exc:
                    parsed[key] = exc
            spec = parsed[key]
            if isinstance(spec, Exception):
                raise spec
        except (GridcareError, ValueError) as exc:
            exc_rows.append((acc, pid, kind, "spec_invalid", True, f"parameter {pid} ({kind}) cannot be applied: {exc}",
                             {"field": getattr(exc, "field", None)}))
            continue
        if kind != "capacity":
            if (acc, kind) in seen:
                exc_rows.append((acc, pid, kind, "duplicate_parameter", True,
                                 f"more than one {kind} parameter in force for account {acc}", {}))
                continue
            seen.add((acc, kind))
        if isinstance(spec, SplitSpec):
            splits.append((acc, pid, spec))
        elif isinstance(spec, DeductionSpec):
            edges.append((acc, pid, spec))
        elif isinstance(spec, SharingSpec):
            pools.append((acc, pid, spec))
        elif isinstance(spec, AllowanceSpec):
            allowances.append((acc, pid, spec.scheme, spec.wh, spec.label_zh, spec.label_en))
        elif isinstance(spec, CapacitySpec):
            capacity.append((acc, pid, row["start_date"] or start, row["end_date"], row["start_date"] or start,
                             row["end_date"], spec))
    # Accounts whose usage changes, and the accounts whose usage those changes need.
    present = set(usage["account_id"].to_list())
    parents = {s.parent_account_id for _, _, s in edges}
    members = {m.account_id for _, _, s in pools for m in s.members}
    pool_accs = {a for a, _, _ in pools}
    changed = (parents | members | {a for a, _, _ in splits} | {c[0] for c in capacity} | pool_accs) & present
    involved = (changed | {c for c, _, _ in edges} | pool_accs) & present
    long, meta = usage_to_long(usage.filter(pl.col("account_id").is_in(list(involved))))
    tou = account_tou(long)
    before = pooled(long)
    r1 = deduct(before, edges, tou)
    r2 = share(r1.usage, pools, tou)
    r3 = split_usage(r2.usage, splits, tou)
    split_ids = [a for a, _, _ in splits]
    after = pl.concat([r2.usage.filter(~pl.col("account_id").is_in(split_ids)), r3.main]).filter(
        pl.col("account_id").is_in(list(changed)))
    before_changed = before.filter(pl.col("account_id").is_in(list(changed)))
    new_long = _spread(long.filter(pl.col("account_id").is_in(list(changed))), before_changed, after)
    rebuilt = long_to_usage(new_long, meta.filter(pl.col("account_id").is_in(list(changed))))
    exceptions = pl.concat([_exceptions(exc_rows), r1.exceptions, r2.exceptions, r3.exceptions])
    blocked = set(exceptions.filter(pl.col("blocking"))["account_id"].to_list())
    out_usage = pl.concat([usage.filter(~pl.col("account_id").is_in(list(changed))), rebuilt.select(usage.columns)])
    out_usage = out_usage.filter(~pl.col("account_id").is_in(list(blocked))).sort("account_id", "segment")
    parts = empty(PARTS_SCHEMA)
    if r3.parts.height:
        wide = long_to_usage(r3.part_usage.rename({"part_no": "segment"}).with_columns(pl.col("segment").cast(pl.Int32)),
                             r3.parts.select("account_id", pl.col("part_no").alias("segment")).with_columns(
                                 *[pl.lit(None, dtype=pl.Int64).alias(c) for c in
                                   ("reactive_varh", "reverse_reactive_varh", "max_demand_w")]))
        parts = r3.parts.join(wide.rename({"segment": "part_no"}), on=["account_id", "part_no"], how="left")
        parts = conform(parts, PARTS_SCHEMA).filter(~pl.col("account_id").is_in(list(blocked)))
    allowance = pl.DataFrame(allowances, orient="row", schema=ALLOWANCE_SCHEMA).filter(
        ~pl.col("account_id").is_in(list(blocked)))
    pieces = capacity_pieces(capacity, start, end).filter(~pl.col("account_id").is_in(list(blocked)))
    trace = pl.concat([empty(TRACE_SCHEMA), r1.trace, r2.trace, r3.trace])
    return ParameterOutcome(usage=out_usage, parts=parts.sort("account_id", "part_no"), allowances=allowance,
                            capacity=conform(pieces, PIECES_SCHEMA), exceptions=exceptions, trace=trace)


def _untouched(usage: pl.DataFrame | None) -> ParameterOutcome:
    return ParameterOutcome(usage=usage if usage is not None else pl.DataFrame(), parts=empty(PARTS_SCHEMA),
                            allowances=pl.DataFrame(schema=ALLOWANCE_SCHEMA), capacity=empty(PIECES_SCHEMA),
                            exceptions=empty(EXCEPTIONS_SCHEMA), trace=empty(TRACE_SCHEMA))


def _part_accounts(parts: pl.DataFrame, accounts: pl.DataFrame, schedules: ScheduleSet, start: date,
                   end: date) -> pl.DataFrame:
    """Kernel accounts for the split parts (synthetic ids 1..n): the part's tariff and category; the
    basic charge and power-factor adjustment stay with the account's own tariff part."""
    acc = accounts.select("account_id", *[c for c in ("category", "household_members") if c in accounts.columns])
    rows = parts.with_row_index("rid", offset=1).join(acc, on="account_id", how="left", suffix="_acc")
    exempt = {}
    for code in set(rows["tariff"].to_list()):
        ids: set[str] = set()
        for s in schedules.in_force(code, start, end):
            ids |= {c.id for c in s.components if c.kind in ("basic", "pf")}
        exempt[code] = sorted(ids)
    category = pl.coalesce("category", "category_acc") if "category_acc" in rows.columns else pl.col("category")
    out = rows.select(
        pl.col("rid").cast(pl.Int64).alias("account_id"), "tariff", category.alias("category"),
        *([pl.col("household_members").cast(pl.Int32)] if "household_members" in rows.columns else []),
        pl.lit("none").alias("pf_standard"),
        pl.col("tariff").replace_strict(exempt, default=[], return_dtype=pl.List(pl.String)).alias("exemptions"),
    )
    return out


def rate_with_parameters(
    accounts: pl.DataFrame,
    usage: pl.DataFrame,
    params: pl.DataFrame | None,
    schedules: ScheduleSet,
    period_start: date,
    period_end: date,
    *,
    segments: pl.DataFrame | None = None,
    config: ParametersConfig | None = None,
    **rate_options: Any,
) -> ParameterRating:
    """``gridcare.rating.rate`` with the billing parameters applied; same result frames.

    Accounts with a blocking parameter exception are in ``result.rejected`` (field
    ``parameters.<kind>``) with no lines. Split parts are rated on their own tariffs and their lines
    follow the account's own lines (explanation prefixed with the part's label); the free allowance
    credit is the last line. Totals are recomputed from the lines, so amount_fen = Σ lines."""
    cfg = config or default_config()
    if accounts.height == 0 or params is None or params.height == 0:
        # Nothing to apply (the common case): exactly the kernel's result, at the kernel's cost.
        # `usage` may hold related accounts' rows too (see related_account_ids); only the rated ones go in.
        if usage is not None and accounts.height:
            usage = usage.filter(pl.col("account_id").is_in(accounts["account_id"].implode()))
        return ParameterRating(rate(accounts, usage, schedules, period_start, period_end, segments=segments,
                                    **rate_options), _untouched(usage))
    if not accounts.schema["account_id"].is_integer():
        raise UnableToApplyParameters("accounts.account_id must be an integer id", field="accounts.account_id")
    accounts = accounts.with_columns(pl.col("account_id").cast(pl.Int64))
    outcome = apply_billing_parameters(usage, params, (period_start, period_end), config=cfg)
    ids = set(accounts["account_id"].to_list())
    blocked = outcome.blocked & ids
    rejected_rows = []
    for acc, kind, message in outcome.exceptions.filter(pl.col("blocking") & pl.col("account_id").is_in(list(ids))).unique(
            subset=["account_id"], keep="first").select("account_id", "kind", "message").iter_rows():
        rejected_rows.append((acc, f"parameters.{kind}", message[:500]))
    ok = accounts.filter(~pl.col("account_id").is_in(list(blocked)))
    main_usage = outcome.usage.filter(pl.col("account_id").is_in(ok["account_id"].implode()))
    segs = segments.filter(pl.col("account_id").is_in(ok["account_id"].implode())) if segments is not None else None
    pieces = outcome.capacity.filter(pl.col("account_id").is_in(ok["account_id"].implode()))
    if pieces.height:
        cap_ids = pieces["account_id"].unique().implode()
        cap_usage, cap_segs = overlay_segments(main_usage, segs, pieces, period_start, period_end)
        main_usage = pl.concat([main_usage.filter(~pl.col("account_id").is_in(cap_ids)), cap_usage])
        keep = segs.filter(~pl.col("account_id").is_in(cap_ids)) if segs is not None and segs.height else None
        segs = pl.concat([conform(keep, {c: cap_segs.schema[c] for c in cap_segs.columns}), cap_segs]) \
            if keep is not None else cap_segs
    main = rate(ok, main_usage, schedules, period_start, period_end,
                segments=segs if segs is not None and segs.height else None, **rate_options)
    lines = main.lines
    part_totals = None
    parts = outcome.parts.filter(pl.col("account_id").is_in(ok["account_id"].implode()))
    if parts.height:
        p_accounts = _part_accounts(parts, ok, schedules, period_start, period_end)
        p_usage = parts.with_row_index("rid", offset=1).select(
            pl.col("rid").cast(pl.Int64).alias("account_id"), "total_wh", "sharp_wh", "peak_wh", "flat_wh",
            "valley_wh", "deep_valley_wh")
        p_rate_opts = {k: v for k, v in rate_options.items() if k in ("hot_days", "explain")}
        p_result = rate(p_accounts, p_usage, schedules, period_start, period_end, **p_rate_opts)
        key = parts.with_row_index("rid", offset=1).select(
            pl.col("rid").cast(pl.Int64), pl.col("account_id").alias("parent_id"), "part_no", "label",
            pl.col("tariff").alias("part_tariff"))
        for rid, fld, reason in p_result.rejected.iter_rows():
            row = key.filter(pl.col("rid") == rid).row(0, named=True)
            rejected_rows.append((row["parent_id"], "parameters.split",
                                  f"split part {row['part_no']} ({row['label']}, {row['part_tariff']}): {fld}: "
                                  f"{reason}"[:500]))
        p_lines = p_result.lines.join(key, left_on="account_id", right_on="rid", how="inner").with_columns(
            pl.concat_str([pl.lit("【"), pl.col("label"), pl.lit("】"), pl.col("explanation_zh")]).alias("explanation_zh"),
            pl.concat_str([pl.lit("["), pl.col("label"), pl.lit("] "), pl.col("explanation_en")]).alias("explanation_en"),
            pl.col("parent_id").alias("account_id"),
        )
        offset = lines.group_by("account_id").agg(pl.col("line_no").max().alias("off"))
        p_lines = p_lines.join(offset, on="account_id", how="left").sort("account_id", "part_no", "line_no").with_columns(
            (pl.col("off").fill_null(0) + pl.int_range(1, pl.len() + 1).over("account_id")).cast(pl.Int32).alias(
                "line_no"))
        lines = pl.concat([lines, p_lines.select(lines.columns).cast(lines.schema)])
        part_totals = p_result.totals.join(key, left_on="account_id", right_on="rid").group_by("parent_id").agg(
            pl.col("billed_wh").sum().alias("part_wh")).rename({"parent_id": "account_id"})
    rejected_ids = {r[0] for r in rejected_rows}
    lines = lines.filter(~pl.col("account_id").is_in(list(rejected_ids)))
    if outcome.allowances.height:
        credit = allowance_lines(lines, outcome.allowances, config=cfg, period_start=period_start,
                                 period_end=period_end)
        if credit.height:
            lines = pl.concat([lines, credit.select(lines.columns).cast(lines.schema)])
    lines = lines.sort("account_id", "line_no")
    totals = _totals(main.totals, lines, part_totals, rejected_ids)
    rejected = pl.concat([
        main.rejected,
        pl.DataFrame(rejected_rows, orient="row", schema={"account_id": pl.Int64, "field": pl.String,
                                                          "reason": pl.String}).select(main.rejected.columns).cast(
            main.rejected.schema),
    ]) if rejected_rows else main.rejected
    return ParameterRating(RatingResult(lines=lines, totals=totals, rejected=rejected), outcome)


def _totals(main_totals: pl.DataFrame, lines: pl.DataFrame, part_totals: pl.DataFrame | None,
            rejected: set[int]) -> pl.DataFrame:
    sums = lines.group_by("account_id").agg(pl.col("amount_fen").sum().alias("amt"),
                                           pl.len().cast(pl.UInt32).alias("n"))
    t = main_totals.filter(~pl.col("account_id").is_in(list(rejected))).join(sums, on="account_id", how="left")
    if part_totals is not None:
        t = t.join(part_totals, on="account_id", how="left").with_columns(
            (pl.col("billed_wh") + pl.col("part_wh").fill_null(0)).alias("billed_wh"))
    return t.with_columns(pl.col("amt").fill_null(0).alias("amount_fen"),
                          pl.col("n").fill_null(0).alias("line_count")).select(list(TOTALS_SCHEMA)).cast(
        main_totals.schema)


def related_account_ids(params: pl.DataFrame, account_ids: Iterable[int], *, config: ParametersConfig | None = None
                        ) -> set[int]:
    """Accounts outside `account_ids` whose usage the parameters of `account_ids` need: a parent's
    children, and a pool's meter and members. Billing loads their usage (without billing them)."""
    cfg = config or default_config()
    want = set(account_ids)
    need: set[int] = set()
    for row in _params(params).iter_rows(named=True):
        try:
            spec = parse_spec(row["kind"], json.loads(row["spec"] or "null"), config=cfg)
        except (GridcareError, ValueError):
            continue
        acc = row["account_id"]
        if isinstance(spec, DeductionSpec) and spec.parent_account_id in want:
            need.add(acc)
        elif isinstance(spec, SharingSpec):
            members = {m.account_id for m in spec.members}
            if members & want:
                need |= members | {acc}
    return need - want


__all__ = [
    "ACCOUNTS_SCHEMA",
    "PARTS_SCHEMA",
    "REJECTED_SCHEMA",
    "ParameterOutcome",
    "ParameterRating",
    "apply_billing_parameters",
    "rate_with_parameters",
    "related_account_ids",
]
