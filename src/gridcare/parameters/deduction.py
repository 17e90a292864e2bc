"""扣减分摊: parent/child (总表/子表) deduction over multi-level trees, and shared usage (公用分摊).

Deduction. A parent's billed usage is its metered usage minus the *metered* usage of its direct
children (a child's own children are already inside the child's meter), so a tree of any depth is
one subtraction per edge. Per register (``each``) when the parent has every register the child
has; otherwise the child's total is taken from the parent's registers in proportion to what they
hold (``proportional``). A parent left with a negative register is an audit exception that blocks
its bill (``negative_deduction``) — never a negative bill line.

Sharing. A pool — a shared meter's usage (``source: meter``; the pool meter is then not billed
itself) or a fixed kWh a period (``source: fixed``, e.g. a shared transformer's loss) — is shared
out to member accounts by fixed ratio or in proportion to their consumption (after deduction),
then into each member's registers proportionally or into the flat register. Largest remainder at
both levels, so the members' shares add up to the pool exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl

from gridcare.parameters.allocate import largest_remainder
from gridcare.parameters.frames import EXCEPTIONS_SCHEMA, LONG_SCHEMA, TRACE_SCHEMA, conform, empty
from gridcare.parameters.specs import DeductionSpec, SharingSpec


@dataclass(frozen=True)
class StepResult:
    usage: pl.DataFrame  # account_id, register, wh (pooled), blocked accounts included unchanged
    exceptions: pl.DataFrame
    trace: pl.DataFrame


def _exc(rows: list[tuple[int, int | None, str, str, bool, str, dict]]) -> pl.DataFrame:
    if not rows:
        return empty(EXCEPTIONS_SCHEMA)
    return pl.DataFrame(
        [(a, p, k, c, b, m, json.dumps(d, ensure_ascii=False, sort_keys=True)) for a, p, k, c, b, m, d in rows],
        orient="row", schema=dict(EXCEPTIONS_SCHEMA))


def find_cycle(edges: list[tuple[int, int]]) -> list[int] | None:
    """A cycle in child → parent edges, as the list of accounts on it, or None."""
    parent = dict(edges)
    for start in parent:
        seen: list[int] = []
        node = start
        while node in parent:
            if node in seen:
                return [*seen[seen.index(node):], node]
            seen.append(node)
            node = parent[node]
    return None


def deduct(pooled: pl.DataFrame, edges: list[tuple[int, int, DeductionSpec]], tou: pl.DataFrame) -> StepResult:
    """Subtract every child's metered usage from its parent. `edges`: (child, parameter_id, spec).

    Accounts absent from `pooled` have no usage in this run: a parent whose child is absent is
    blocked (``related_usage_missing``), since billing it in full would bill the child twice."""
    if not edges:
        return StepResult(pooled, empty(EXCEPTIONS_SCHEMA), empty(TRACE_SCHEMA))
    e = pl.DataFrame([(c, p, s.parent_account_id, s.registers) for c, p, s in edges], orient="row",
                     schema={"child": pl.Int64, "parameter_id": pl.Int64, "parent": pl.Int64, "mode": pl.String})
    present = set(pooled["account_id"].unique().to_list())
    exc_rows: list[tuple] = []
    cycle = find_cycle([(c, s.parent_account_id) for c, _, s in edges])
    if cycle:
        for acc in set(cycle) & present:
            exc_rows.append((acc, None, "deduction", "deduction_cycle", True,
                             f"parent/child deduction forms a cycle: {' → '.join(map(str, cycle))}",
                             {"cycle": cycle}))
        e = e.filter(~pl.col("child").is_in(cycle) & ~pl.col("parent").is_in(cycle))
    # Only parents billed in this run matter; their children's usage must be here.
    e = e.filter(pl.col("parent").is_in(list(present)))
    missing = e.filter(~pl.col("child").is_in(list(present)))
    for child, pid, par in missing.select("child", "parameter_id", "parent").iter_rows():
        exc_rows.append((par, pid, "deduction", "related_usage_missing", True,
                         f"usage of child account {child} is not available, so parent account {par} cannot be "
                         "billed net of it", {"child": child}))
    e = e.filter(pl.col("child").is_in(list(present)))
    child_usage = pooled.join(e, left_on="account_id", right_on="child", how="inner").rename(
        {"account_id": "child"})
    parent_regs = pooled.filter(pl.col("account_id").is_in(e["parent"].implode())).rename(
        {"account_id": "parent", "wh": "p_wh"})
    # "each" needs every child register on the parent; otherwise proportional.
    lacking = child_usage.join(parent_regs.select("parent", "register"), on=["parent", "register"], how="anti")
    each_ok = e.join(lacking.select("child").unique().with_columns(pl.lit(True).alias("lack")), on="child",
                     how="left").with_columns(
        ((pl.col("mode") == "each") & pl.col("lack").is_null()).alias("each"))
    child_usage = child_usage.join(each_ok.select("child", "each"), on="child", how="left")
    each = child_usage.filter(pl.col("each")).select("parent", "child", "parameter_id", "register", "wh")
    prop_totals = child_usage.filter(~pl.col("each")).group_by("parent", "child", "parameter_id").agg(
        pl.col("wh").sum().alias("c_total"))
    prop = prop_totals.join(parent_regs, on="parent", how="left").with_columns(
        pl.col("register").fill_null("total"), pl.col("p_wh").fill_null(0))
    prop = largest_remainder(prop, by=["parent", "child"], amount="c_total", weight="p_wh", out="wh",
                             order="register").select("parent", "child", "parameter_id", "register", "wh")
    ded = pl.concat([each, prop])
    per_reg = ded.group_by("parent", "register").agg(pl.col("wh").sum().alias("d"))
    all_regs = pl.concat([parent_regs.select("parent", "register"), per_reg.select("parent", "register")]).unique()
    after = all_regs.join(parent_regs, on=["parent", "register"], how="left").join(
        per_reg, on=["parent", "register"], how="left").with_columns(
        pl.col("p_wh").fill_null(0), pl.col("d").fill_null(0)).with_columns((pl.col("p_wh") - pl.col("d")).alias("net"))
    negative = after.filter(pl.col("net") < 0)
    for par in sorted(set(negative["parent"].to_list())):
        rows = after.filter(pl.col("parent") == par).sort("register")
        p_total, d_total = int(rows["p_wh"].sum()), int(rows["d"].sum())
        kids = sorted(set(ded.filter(pl.col("parent") == par)["child"].to_list()))
        neg = {r: int(n) for r, n in rows.filter(pl.col("net") < 0).select("register", "net").iter_rows()}
        exc_rows.append((par, None, "deduction", "negative_deduction", True,
                         f"children {kids} metered {d_total / 1000:g} kWh, more than parent account {par}'s "
                         f"{p_total / 1000:g} kWh (negative in {sorted(neg)}); the parent is not billed until the "
                         "reads or the tree are checked",
                         {"parent_wh": p_total, "children_wh": d_total, "children": kids, "negative_registers": neg}))
    blocked = set(negative["parent"].to_list())
    apply = after.filter(~pl.col("parent").is_in(list(blocked)))
    usage = pooled.join(apply.select(pl.col("parent").alias("account_id"), "register", "net"),
                        on=["account_id", "register"], how="full", coalesce=True).with_columns(
        pl.coalesce("net", "wh").alias("wh")).drop("net")
    trace = conform(ded.filter(~pl.col("parent").is_in(list(blocked))).select(
        pl.col("parent").alias("account_id"), "parameter_id", pl.lit("deduction").alias("kind"),
        pl.format("from:{}", "child").alias("target"), "register", (-pl.col("wh")).alias("delta_wh"),
        pl.lit("child metered usage deducted").alias("note")), TRACE_SCHEMA)
    return StepResult(conform(usage, LONG_SCHEMA).sort("account_id", "register"), _exc(exc_rows), trace)


def share(pooled: pl.DataFrame, pools: list[tuple[int, int, SharingSpec]], tou: pl.DataFrame) -> StepResult:
    """Share each pool out to its members. `pools`: (pool account, parameter_id, spec).

    Members absent from `pooled` still receive their share in the allocation (conservation holds),
    but it is only applied to members in this run; a consumption-based pool needs every member's
    usage and otherwise blocks the members in this run (``related_usage_missing``)."""
    if not pools:
        return StepResult(pooled, empty(EXCEPTIONS_SCHEMA), empty(TRACE_SCHEMA))
    present = set(pooled["account_id"].unique().to_list())
    totals = dict(pooled.group_by("account_id").agg(pl.col("wh").sum()).iter_rows())
    exc_rows: list[tuple] = []
    alloc_rows = []
    blocked_pools = set()
    for pool_acc, pid, spec in pools:
        members = [m.account_id for m in spec.members]
        if spec.source == "meter":
            if pool_acc not in present:
                for m in members:
                    if m in present:
                        exc_rows.append((m, pid, "sharing", "related_usage_missing", True,
                                         f"usage of shared meter account {pool_acc} is not available; its share "
                                         "cannot be added", {"pool": pool_acc}))
                continue
            amount = int(totals[pool_acc])
            blocked_pools.add(pool_acc)
            exc_rows.append((pool_acc, pid, "sharing", "pool_allocated", True,
                             f"shared meter: its {amount / 1000:g} kWh are shared out to accounts {members} "
                             "(公用分摊) and it is not billed itself", {"pool_wh": amount, "members": members}))
        else:
            amount = spec.fixed_wh
        if spec.basis == "consumption":
            absent = [m for m in members if m not in present]
            if absent:
                for m in members:
                    if m in present:
                        exc_rows.append((m, pid, "sharing", "related_usage_missing", True,
                                         f"pool {pool_acc} is shared by consumption but the usage of member(s) "
                                         f"{absent} is not available", {"pool": pool_acc, "absent": absent}))
                continue
        for pos, m in enumerate(spec.members):
            weight = m.ppm if spec.basis == "ratio" else int(totals.get(m.account_id, 0))
            alloc_rows.append((pool_acc, pid, m.account_id, pos, amount, weight, spec.registers))
    if not alloc_rows:
        usage = pooled.filter(~pl.col("account_id").is_in(list(blocked_pools)))
        return StepResult(usage, _exc(exc_rows), empty(TRACE_SCHEMA))
    alloc = pl.DataFrame(alloc_rows, orient="row", schema={
        "pool": pl.Int64, "parameter_id": pl.Int64, "member": pl.Int64, "pos": pl.Int32, "amount": pl.Int64,
        "weight": pl.Int64, "mode": pl.String})
    alloc = largest_remainder(alloc, by=["pool"], amount="amount", weight="weight", out="share", order="pos")
    applied = alloc.filter(pl.col("member").is_in(list(present)))
    member_regs = pooled.rename({"account_id": "member", "wh": "m_wh"})
    m_tou = tou.rename({"account_id": "member"})
    flat_target = applied.join(m_tou, on="member", how="left").with_columns(
        pl.when(pl.col("tou").fill_null(False)).then(pl.lit("flat")).otherwise(pl.lit("total")).alias("target"))
    to_flat = flat_target.filter(pl.col("mode") == "flat").select(
        "member", "pool", "parameter_id", pl.col("target").alias("register"), pl.col("share").alias("wh"))
    prop = flat_target.filter(pl.col("mode") == "proportional").join(member_regs, on="member", how="left")
    prop = prop.with_columns(pl.coalesce("register", "target").alias("register"), pl.col("m_wh").fill_null(0))
    prop = largest_remainder(prop, by=["member", "pool"], amount="share", weight="m_wh", out="wh",
                             order="register").select("member", "pool", "parameter_id", "register", "wh")
    added = pl.concat([to_flat, prop])
    per_reg = added.group_by("member", "register").agg(pl.col("wh").sum().alias("add"))
    usage = pooled.join(per_reg.rename({"member": "account_id"}), on=["account_id", "register"], how="full",
                        coalesce=True).with_columns(
        (pl.col("wh").fill_null(0) + pl.col("add").fill_null(0)).alias("wh")).drop("add")
    usage = usage.filter(~pl.col("account_id").is_in(list(blocked_pools)))
    trace = conform(added.select(
        pl.col("member").alias("account_id"), "parameter_id", pl.lit("sharing").alias("kind"),
        pl.format("from:{}", "pool").alias("target"), "register", pl.col("wh").alias("delta_wh"),
        pl.lit("shared usage added").alias("note")), TRACE_SCHEMA)
    return StepResult(conform(usage, LONG_SCHEMA).sort("account_id", "register"), _exc(exc_rows), trace)


def allocation_table(pools: list[tuple[int, int, SharingSpec]], pooled: pl.DataFrame) -> pl.DataFrame:
    """pool, member, share_wh for every member (present or not): what `share` allocates, for display
    and for the conservation tests."""
    totals = dict(pooled.group_by("account_id").agg(pl.col("wh").sum()).iter_rows())
    rows = []
    for pool_acc, _pid, spec in pools:
        amount = int(totals.get(pool_acc, 0)) if spec.source == "meter" else spec.fixed_wh
        for pos, m in enumerate(spec.members):
            weight = m.ppm if spec.basis == "ratio" else int(totals.get(m.account_id, 0))
            rows.append((pool_acc, m.account_id, pos, amount, weight))
    frame = pl.DataFrame(rows, orient="row", schema={"pool": pl.Int64, "member": pl.Int64, "pos": pl.Int32,
                                                    "amount": pl.Int64, "weight": pl.Int64})
    return largest_remainder(frame, by=["pool"], amount="amount", weight="weight", out="share_wh",
                             order="pos").select("pool", "member", "share_wh")
