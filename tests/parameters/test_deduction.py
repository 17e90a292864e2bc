"""扣减分摊 worked examples (three-level tree, sharing with rounding) and conservation properties."""

import json

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.parameters.deduction import allocation_table, deduct, find_cycle, share
from gridcare.parameters.specs import DeductionSpec, Member, SharingSpec


def pooled(rows):
    return pl.DataFrame(rows, schema={"account_id": pl.Int64, "register": pl.String, "wh": pl.Int64}, orient="row")


def tou_of(frame):
    return frame.group_by("account_id").agg((pl.col("register") != "total").any().alias("tou"))


def as_dict(frame):
    return {(r["account_id"], r["register"]): r["wh"] for r in frame.iter_rows(named=True)}


def test_three_level_tree():
    # Level 1: park meter 1 (peak 1000, flat 2000 kWh).
    # Level 2: building 2 (peak 300, flat 500) and shop 4 (no TOU, 150 kWh) under 1.
    # Level 3: flat 3 (peak 100, flat 100) under 2.
    # 2 billed = 300-100 / 500-100 = peak 200, flat 400.
    # 1 billed: minus 2's *metered* 300/500 (3 is inside 2's meter) and 4's 150 kWh taken in
    #   proportion 1000:2000 -> 50/100: peak 1000-300-50 = 650, flat 2000-500-100 = 1400.
    # 3 and 4 are billed what they metered.
    usage = pooled([(1, "peak", 1_000_000), (1, "flat", 2_000_000), (2, "peak", 300_000), (2, "flat", 500_000),
                    (3, "peak", 100_000), (3, "flat", 100_000), (4, "total", 150_000)])
    edges = [(2, 20, DeductionSpec(1, "each")), (3, 30, DeductionSpec(2, "each")), (4, 40, DeductionSpec(1, "each"))]
    r = deduct(usage, edges, tou_of(usage))
    assert as_dict(r.usage) == {
        (1, "flat"): 1_400_000, (1, "peak"): 650_000, (2, "flat"): 400_000, (2, "peak"): 200_000,
        (3, "flat"): 100_000, (3, "peak"): 100_000, (4, "total"): 150_000}
    assert r.exceptions.height == 0
    # The trace names every child deducted from every parent.
    assert sorted(r.trace.select("account_id", "target", "register", "delta_wh").rows()) == [
        (1, "from:2", "flat", -500_000), (1, "from:2", "peak", -300_000), (1, "from:4", "flat", -100_000),
        (1, "from:4", "peak", -50_000), (2, "from:3", "flat", -100_000), (2, "from:3", "peak", -100_000)]


def test_child_larger_than_parent_blocks_the_parent_never_a_negative_line():
    usage = pooled([(1, "total", 100_000), (2, "total", 130_000)])
    r = deduct(usage, [(2, 20, DeductionSpec(1, "each"))], tou_of(usage))
    exc = r.exceptions.row(0, named=True)
    assert (exc["account_id"], exc["code"], exc["blocking"]) == (1, "negative_deduction", True)
    assert exc["message"] == ("children [2] metered 130 kWh, more than parent account 1's 100 kWh (negative in "
                              "['total']); the parent is not billed until the reads or the tree are checked")
    assert json.loads(exc["data"]) == {"children": [2], "children_wh": 130_000, "negative_registers": {"total": -30_000},
                                       "parent_wh": 100_000}
    assert as_dict(r.usage)[(1, "total")] == 100_000  # untouched; the engine withholds it
    assert min(r.usage["wh"].to_list()) >= 0


def test_missing_child_usage_blocks_the_parent():
    usage = pooled([(1, "total", 100_000)])
    r = deduct(usage, [(2, 20, DeductionSpec(1, "each"))], tou_of(usage))
    assert r.exceptions.select("account_id", "parameter_id", "code", "blocking").row(0) == (
        1, 20, "related_usage_missing", True)


def test_cycles_are_found_and_block():
    assert find_cycle([(1, 2), (2, 3), (3, 1)]) == [1, 2, 3, 1]
    assert find_cycle([(1, 2), (2, 3)]) is None
    usage = pooled([(1, "total", 10), (2, "total", 5)])
    r = deduct(usage, [(1, 10, DeductionSpec(2, "each")), (2, 20, DeductionSpec(1, "each"))], tou_of(usage))
    assert sorted(r.exceptions.filter(pl.col("code") == "deduction_cycle")["account_id"].to_list()) == [1, 2]


def test_proportional_mode_spreads_a_tou_child_over_the_parent_registers():
    # child peak 90 + flat 10 = 100 kWh taken 3:1 from the parent's peak 600 / valley 200 -> 75 / 25.
    usage = pooled([(1, "peak", 600_000), (1, "valley", 200_000), (2, "peak", 90_000), (2, "flat", 10_000)])
    r = deduct(usage, [(2, 20, DeductionSpec(1, "proportional"))], tou_of(usage))
    assert as_dict(r.usage)[(1, "peak")] == 525_000
    assert as_dict(r.usage)[(1, "valley")] == 175_000


def test_sharing_by_ratio_with_rounding_still_sums_exactly():
    # A fixed 100 kWh transformer loss shared 1/3 each (33.3333 / 33.3333 / 33.3334 %):
    # exact 33333.3, 33333.3, 33333.4 Wh -> floors 33333 ×3 = 99999, 1 Wh to the largest remainder
    # (the third member): 33333 / 33333 / 33334 = 100000 Wh.
    pools = [(9, 90, SharingSpec("fixed", 100_000, "ratio", "flat",
                                 (Member(1, 333_333), Member(2, 333_333), Member(3, 333_334))))]
    usage = pooled([(1, "total", 0), (2, "peak", 10), (3, "total", 5)])
    r = share(usage, pools, tou_of(usage))
    assert as_dict(r.usage) == {(1, "total"): 33_333, (2, "flat"): 33_333, (2, "peak"): 10, (3, "total"): 33_339}
    assert allocation_table(pools, usage)["share_wh"].to_list() == [33_333, 33_333, 33_334]


def test_shared_meter_by_consumption_blocks_the_pool_meter_itself():
    # Shared lighting meter 9 metered 60 kWh; members consumed 100 and 200 kWh -> 20 / 40 kWh,
    # each added to the member's registers in proportion (member 2: peak 150 / flat 50 -> 30 / 10).
    usage = pooled([(9, "total", 60_000), (1, "total", 100_000), (2, "peak", 150_000), (2, "flat", 50_000)])
    pools = [(9, 90, SharingSpec("meter", 0, "consumption", "proportional", (Member(1, 0), Member(2, 0))))]
    r = share(usage, pools, tou_of(usage))
    assert as_dict(r.usage) == {(1, "total"): 120_000, (2, "flat"): 60_000, (2, "peak"): 180_000}
    exc = r.exceptions.row(0, named=True)
    assert (exc["account_id"], exc["code"], exc["blocking"]) == (9, "pool_allocated", True)


def test_consumption_pool_with_a_member_missing_blocks_the_members_present():
    usage = pooled([(9, "total", 60_000), (1, "total", 100_000)])
    pools = [(9, 90, SharingSpec("meter", 0, "consumption", "proportional", (Member(1, 0), Member(2, 0))))]
    r = share(usage, pools, tou_of(usage))
    assert r.exceptions.filter(pl.col("code") == "related_usage_missing")["account_id"].to_list() == [1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**7), min_size=2, max_size=8), st.integers(0, 10**8), st.booleans(), st.data())
def test_shares_add_up_to_the_pool(consumptions, fixed, by_ratio, data):
    n = len(consumptions)
    if by_ratio:
        cuts = sorted(data.draw(st.lists(st.integers(1, 999_999), min_size=n - 1, max_size=n - 1, unique=True)))
        ppm = [b - a for a, b in zip([0, *cuts], [*cuts, 1_000_000], strict=True)]
    else:
        ppm = [0] * n
    members = tuple(Member(i + 1, p) for i, p in enumerate(ppm))
    pools = [(99, 1, SharingSpec("fixed", fixed, "ratio" if by_ratio else "consumption", "proportional", members))]
    usage = pooled([(i + 1, "total", c) for i, c in enumerate(consumptions)])
    r = share(usage, pools, tou_of(usage))
    assert r.usage["wh"].sum() == sum(consumptions) + fixed
    assert allocation_table(pools, usage)["share_wh"].sum() == fixed


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=3, max_size=7), st.data())
def test_tree_deduction_conserves_the_root_meter(sizes, data):
    # A random tree where every node's meter covers its subtree: node metered = own + Σ children
    # metered. After deduction every node is billed exactly its own use, and the billed total
    # equals the root meter.
    n = len(sizes)
    parents = {i: data.draw(st.integers(1, i - 1)) for i in range(2, n + 1)}
    metered = {}
    for node in range(n, 0, -1):
        metered[node] = sizes[node - 1] + sum(metered[c] for c, p in parents.items() if p == node)
    usage = pooled([(i, "total", metered[i]) for i in range(1, n + 1)])
    edges = [(c, c * 10, DeductionSpec(p, "each")) for c, p in parents.items()]
    r = deduct(usage, edges, tou_of(usage))
    assert r.exceptions.height == 0
    assert as_dict(r.usage) == {(i, "total"): sizes[i - 1] for i in range(1, n + 1)}
    assert r.usage["wh"].sum() == metered[1]
