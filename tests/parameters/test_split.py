"""定量定比 worked examples (arithmetic in the comments) and conservation properties."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.parameters.config import default_config
from gridcare.parameters.specs import QuantityStep, RatioPart, SplitSpec, parse_spec
from gridcare.parameters.split import split_usage

CFG = default_config()
BUCKETS = ["sharp", "peak", "flat", "valley", "deep_valley"]


def pooled(rows):
    return pl.DataFrame(rows, schema={"account_id": pl.Int64, "register": pl.String, "wh": pl.Int64}, orient="row")


def tou(**flags):
    return pl.DataFrame({"account_id": [int(k[1:]) for k in flags], "tou": list(flags.values())})


def as_dict(frame, *keys):
    return {tuple(r[k] for k in keys): r["wh"] for r in frame.iter_rows(named=True)}


def test_quantity_then_ratio_on_a_meter_without_tou():
    # 1000 kWh on one register. Step 1: 300 kWh to residential -> 700 kWh left.
    # Step 2: ratios 80 % own tariff / 20 % general C&I of 700 -> 560 / 140.
    spec = parse_spec("split", {"quantities": [{"kwh": "300", "tariff": "gz-residential", "category": "residential"}],
                                "ratios": [{"percent": "80"}, {"percent": "20", "tariff": "gd-ci-tou-lt1kv",
                                                                "category": "general_ci"}]}, config=CFG)
    r = split_usage(pooled([(1, "total", 1_000_000)]), [(1, 7, spec)], tou(a1=False))
    assert as_dict(r.main, "register") == {("total",): 560_000}
    assert as_dict(r.part_usage, "part_no", "register") == {(1, "total"): 300_000, (2, "total"): 140_000}
    assert r.parts.select("part_no", "tariff", "category", "label").rows() == [
        (1, "gz-residential", "residential", "定量 300 kWh"), (2, "gd-ci-tou-lt1kv", "general_ci", "定比 20%")]
    assert r.exceptions.height == 0


def test_tou_registers_quantity_proportional_ratio_per_register():
    # peak 400, flat 400, valley 200 kWh. 300 kWh drawn in proportion 4:4:2 -> 120/120/60.
    # Left 280/280/140; 20 % of each register to the other tariff -> 56/56/28; own keeps 224/224/112.
    spec = parse_spec("split", {"quantities": [{"kwh": "300", "tariff": "gz-residential"}],
                                "ratios": [{"percent": "80"}, {"percent": "20", "tariff": "gd-ci-tou-lt1kv"}]},
                      config=CFG)
    r = split_usage(pooled([(1, "peak", 400_000), (1, "flat", 400_000), (1, "valley", 200_000)]), [(1, 7, spec)],
                    tou(a1=True))
    assert as_dict(r.part_usage, "part_no", "register") == {
        (1, "flat"): 120_000, (1, "peak"): 120_000, (1, "valley"): 60_000,
        (2, "flat"): 56_000, (2, "peak"): 56_000, (2, "valley"): 28_000}
    assert as_dict(r.main, "register") == {("flat",): 224_000, ("peak",): 224_000, ("valley",): 112_000}
    # The trace says where every Wh went: the main part lost exactly what the parts gained.
    main_trace = r.trace.filter(pl.col("target") == "main")["delta_wh"].sum()
    assert main_trace == -(300_000 + 140_000)


def test_ratio_first_then_quantity_from_the_flat_register():
    # ratio_first: 1000 kWh (peak 500, flat 500) -> 30 % to general C&I per register: 150/150; own
    # keeps 350/350. Then 100 kWh from the own part's flat register -> flat 250.
    spec = parse_spec("split", {"order": "ratio_first",
                                "quantities": [{"kwh": "100", "tariff": "gz-residential", "registers": "flat"}],
                                "ratios": [{"percent": "70"}, {"percent": "30", "tariff": "gd-ci-tou-lt1kv"}]},
                      config=CFG)
    r = split_usage(pooled([(1, "peak", 500_000), (1, "flat", 500_000)]), [(1, 7, spec)], tou(a1=True))
    assert as_dict(r.main, "register") == {("flat",): 250_000, ("peak",): 350_000}
    assert as_dict(r.part_usage, "part_no", "register") == {(1, "flat"): 100_000, (2, "flat"): 150_000,
                                                              (2, "peak"): 150_000}


def test_thirds_of_an_odd_quantity_lose_nothing():
    # 1001 Wh over 33.3333 % / 33.3333 % / 33.3334 %: exact 333.666.., 333.666.., 333.667..;
    # floors 333+333+333 = 999, two Wh left go to the largest remainders (the third part, then the
    # first by order): 334 / 333 / 334.
    spec = parse_spec("split", {"ratios": [{"percent": "33.3333"}, {"percent": "33.3333", "tariff": "a"},
                                           {"percent": "33.3334", "tariff": "b"}]}, config=CFG)
    r = split_usage(pooled([(1, "total", 1001)]), [(1, 7, spec)], tou(a1=False))
    assert as_dict(r.main, "register")[("total",)] + r.part_usage["wh"].sum() == 1001
    assert sorted([as_dict(r.main, "register")[("total",)], *r.part_usage["wh"].to_list()]) == [333, 334, 334]


def test_quantity_larger_than_usage_takes_what_is_left_and_says_so():
    spec = parse_spec("split", {"quantities": [{"kwh": "300", "tariff": "gz-residential"}]}, config=CFG)
    r = split_usage(pooled([(1, "total", 120_000)]), [(1, 7, spec)], tou(a1=False))
    assert as_dict(r.main, "register") == {("total",): 0}
    assert as_dict(r.part_usage, "part_no", "register") == {(1, "total"): 120_000}
    exc = r.exceptions.row(0, named=True)
    assert (exc["code"], exc["blocking"], exc["parameter_id"]) == ("quantity_capped", False, 7)
    assert exc["message"] == ("fixed quantity of part 1 is 300000 Wh but only 120000 Wh are left in all registers; "
                              "120000 Wh taken")


def test_all_ratio_parts_on_other_tariffs_leave_zero_on_the_own_tariff():
    spec = parse_spec("split", {"ratios": [{"percent": "60", "tariff": "a"}, {"percent": "40", "tariff": "b"}]},
                      config=CFG)
    r = split_usage(pooled([(1, "peak", 10), (1, "flat", 5)]), [(1, 7, spec)], tou(a1=True))
    assert as_dict(r.main, "register") == {("flat",): 0, ("peak",): 0}
    assert r.part_usage["wh"].sum() == 15


registers = st.one_of(
    st.just({"total": None}),
    st.sets(st.sampled_from(BUCKETS), min_size=1, max_size=5).map(lambda s: dict.fromkeys(s)),
)


@st.composite
def split_specs(draw):
    n_q = draw(st.integers(0, 3))
    quantities = tuple(QuantityStep(wh=draw(st.integers(1, 2_000_000)), tariff=f"q{i}", category=None,
                                    registers=draw(st.sampled_from(["proportional", *BUCKETS])), label="")
                       for i in range(n_q))
    ratios: tuple = ()
    if n_q == 0 or draw(st.booleans()):
        cuts = sorted(draw(st.lists(st.integers(1, 999_999), max_size=3, unique=True)))
        shares = [b - a for a, b in zip([0, *cuts], [*cuts, 1_000_000], strict=True)]
        own = draw(st.integers(-1, len(shares) - 1))
        ratios = tuple(RatioPart(ppm=p, tariff=None if i == own else f"r{i}", category=None, label="")
                       for i, p in enumerate(shares))
    return SplitSpec(order=draw(st.sampled_from(["quantity_first", "ratio_first"])), quantities=quantities,
                     ratios=ratios)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(registers, split_specs()), min_size=1, max_size=4), st.data())
def test_main_plus_parts_equals_input_in_every_register(accounts, data):
    rows, rules, flags = [], [], {}
    for i, (regs, spec) in enumerate(accounts, start=1):
        for reg in regs:
            rows.append((i, reg, data.draw(st.integers(0, 5_000_000))))
        rules.append((i, 100 + i, spec))
        flags[f"a{i}"] = "total" not in regs
    before = pooled(rows)
    r = split_usage(before, rules, tou(**flags))
    after = pl.concat([r.main, r.part_usage.drop("part_no")]).group_by("account_id", "register").agg(pl.col("wh").sum())
    assert as_dict(after, "account_id", "register") == as_dict(before, "account_id", "register")
    assert r.main["wh"].min() >= 0
    assert r.part_usage.height == 0 or r.part_usage["wh"].min() >= 0
