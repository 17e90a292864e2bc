"""Plausibility checks of register reads, vectorised (one pass over a whole file).

Pure Polars: the caller loads meters, registers and existing reads from the database and writes
the outcome. Each incoming row ends with `outcome` = valid | estimated | quarantined | unchanged
and, when quarantined, a `reason` (see `QuarantineReason`) and a human-readable `detail`.
Reasons are checked in a fixed order, so a row gets the most fundamental one:
unknown meter → unknown register → out of period → duplicate → decrease / rollover → zero → spike.

Details are gettext messages in the active language (the console's zh-Hans, the CLI's English),
built column-wise by `pl_message` so a whole file is still one pass.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import polars as pl
from django.utils.translation import gettext as _

from gridcare.metering.config import MeteringConfig
from gridcare.metering.readfile import CUMULATIVE_REGISTERS

INCOMING_SCHEMA = {
    "line_no": pl.Int64, "asset_number": pl.Utf8, "register": pl.Utf8, "read_date": pl.Date,
    "value_milli": pl.Int64, "estimated": pl.Boolean,
}
METER_SCHEMA = {
    "asset_number": pl.Utf8, "meter_id": pl.Int64, "digits": pl.Int64, "multiplier_centi": pl.Int64,
    "installed_on": pl.Date, "removed_on": pl.Date, "account_active": pl.Boolean, "owner_id": pl.Int64,
}
REGISTER_SCHEMA = {"meter_id": pl.Int64, "register": pl.Utf8}
EXISTING_SCHEMA = {
    "read_id": pl.Int64, "meter_id": pl.Int64, "register": pl.Utf8, "read_date": pl.Date,
    "value_milli": pl.Int64, "status": pl.Utf8,
}


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def pl_message(template: str, **values: pl.Expr | object) -> pl.Expr:
    """A translated message with %(name)s placeholders as a Polars string expression: each name
    takes a column expression (or a constant). Placeholders may come in any order in a translation."""
    names = _PLACEHOLDER.findall(template)
    if not names:
        return pl.lit(template.replace("%%", "%"))
    parts = [p.replace("%%", "%") for p in _PLACEHOLDER.split(template)[::2]]
    args = [v if isinstance(v, pl.Expr) else pl.lit(str(v)) for v in (values[n] for n in names)]
    return pl.format("{}".join(parts), *args)


def milli_text(col: str | pl.Expr) -> pl.Expr:
    """12345670 → '12345.670' without floats."""
    e = pl.col(col) if isinstance(col, str) else col
    return pl.concat_str([(e // 1000).cast(pl.Utf8), pl.lit("."), (e % 1000).cast(pl.Utf8).str.zfill(3)])


def validate_reads(
    incoming: pl.DataFrame,
    meters: pl.DataFrame,
    registers: pl.DataFrame,
    existing: pl.DataFrame,
    *,
    frozen_until: dict[int, date],
    as_of_date: date,
    config: MeteringConfig,
    unknown_existing: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`unknown_existing` (asset_number, register, read_date, value_milli): reads already
    quarantined for meters that do not exist, so re-sending them is recognised as unchanged."""
    frozen = pl.DataFrame(
        {"owner_id": list(frozen_until), "frozen_until": list(frozen_until.values())},
        schema={"owner_id": pl.Int64, "frozen_until": pl.Date},
    )
    df = (
        incoming.join(meters, on="asset_number", how="left")
        .join(frozen, on="owner_id", how="left")
        .join(registers.with_columns(pl.lit(True).alias("has_register")), on=["meter_id", "register"], how="left")
    )
    key = ["asset_number", "register", "read_date"]
    df = df.with_columns(
        pl.col("value_milli").n_unique().over(key).alias("_n_values"),
        pl.col("line_no").rank("ordinal").over(key).alias("_rank"),
    )
    usable = existing.filter(pl.col("status").is_in(["valid", "estimated"]))
    same_day = usable.select(
        "meter_id", "register", "read_date",
        pl.col("value_milli").alias("ex_value"), pl.col("status").alias("ex_status"), pl.col("read_id").alias("ex_id"),
    )
    quarantined_same = (
        existing.filter(pl.col("status") == "quarantined")
        .select("meter_id", "register", "read_date", "value_milli")
        .unique()
        .with_columns(pl.lit(True).alias("q_same"))
    )
    df = df.join(same_day, on=["meter_id", "register", "read_date"], how="left").join(
        quarantined_same, on=["meter_id", "register", "read_date", "value_milli"], how="left"
    )
    if unknown_existing is not None and unknown_existing.height:
        df = df.join(
            unknown_existing.unique().with_columns(pl.lit(True).alias("u_same")),
            on=["asset_number", "register", "read_date", "value_milli"], how="left",
        )
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.Boolean).alias("u_same"))

    unknown_meter = (
        pl.col("meter_id").is_null()
        | (pl.col("installed_on").is_not_null() & (pl.col("installed_on") > pl.col("read_date")))
        | (pl.col("removed_on").is_not_null() & (pl.col("removed_on") < pl.col("read_date")))
    )
    unknown_register = pl.col("has_register").is_null()
    out_of_period = (pl.col("read_date") > pl.lit(as_of_date)) | (
        pl.col("frozen_until").is_not_null() & (pl.col("read_date") < pl.col("frozen_until"))
    )
    dup_in_file = pl.col("_n_values") > 1
    unchanged = ((pl.col("_n_values") == 1) & (pl.col("_rank") > 1)) | (
        pl.col("ex_value") == pl.col("value_milli")
    ).fill_null(False) | pl.col("q_same").fill_null(False)
    dup_existing = pl.col("ex_value").is_not_null() & (pl.col("ex_value") != pl.col("value_milli")) & (
        pl.col("ex_status") == "valid"
    )
    df = df.with_columns(
        pl.when(pl.col("meter_id").is_null() & pl.col("u_same").fill_null(False) & (pl.col("_rank") == 1))
        .then(pl.lit("_unchanged"))
        .when(unknown_meter).then(pl.lit("unknown_meter"))
        .when(unknown_register).then(pl.lit("unknown_register"))
        .when(out_of_period).then(pl.lit("out_of_period"))
        .when(dup_in_file).then(pl.lit("duplicate"))
        .when(unchanged).then(pl.lit("_unchanged"))
        .when(dup_existing).then(pl.lit("duplicate"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
        .alias("reason"),
    )
    df = df.with_columns(
        pl.when(pl.col("ex_status") == "estimated").then(pl.col("ex_id")).otherwise(None).alias("supersedes_id")
    ).with_columns(pl.when(pl.col("reason").is_null()).then(pl.col("supersedes_id")).otherwise(None))

    # Previous and history reads: from the database (minus superseded estimates) and this file.
    candidates = df.filter(pl.col("reason").is_null())
    superseded = candidates["supersedes_id"].drop_nulls().to_list()
    pool = pl.concat(
        [
            usable.filter(~pl.col("read_id").is_in(superseded)).select("meter_id", "register", "read_date",
                                                                       "value_milli"),
            candidates.select("meter_id", "register", "read_date", "value_milli"),
        ]
    ).unique(subset=["meter_id", "register", "read_date"], keep="last").sort("read_date")
    prev = pool.rename({"read_date": "prev_date", "value_milli": "prev_value"})
    hist = pool.rename({"read_date": "hist_date", "value_milli": "hist_value"})
    checked = (
        candidates.sort("read_date")
        .join_asof(prev, left_on="read_date", right_on="prev_date", by=["meter_id", "register"],
                   strategy="backward", allow_exact_matches=False, check_sortedness=False)
        .with_columns((pl.col("prev_date") - pl.duration(days=config.history_days)).alias("_hist_from"))
        .sort("_hist_from")
        .join_asof(hist, left_on="_hist_from", right_on="hist_date", by=["meter_id", "register"],
                   strategy="forward", check_sortedness=False)
        .with_columns(
            pl.when(pl.col("hist_date") < pl.col("prev_date")).then(pl.col("hist_date")).otherwise(None)
            .alias("hist_date"),
        )
    )
    full = pl.col("digits").replace_strict({d: 10**d * 1000 for d in range(1, 13)}, default=None,
                                           return_dtype=pl.Int64)
    diff = pl.col("value_milli") - pl.col("prev_value")
    wrapped = full - pl.col("prev_value") + pl.col("value_milli")
    share_bp = int(config.rollover_max_share * 10000)
    cumulative = pl.col("register").is_in(list(CUMULATIVE_REGISTERS))
    is_rollover = cumulative & (diff < 0) & (wrapped * 10000 < full * share_bp)
    is_decrease = cumulative & (diff < 0) & ~is_rollover
    days = (pl.col("read_date") - pl.col("prev_date")).dt.total_days()
    hist_days = (pl.col("prev_date") - pl.col("hist_date")).dt.total_days()
    hist_usage = pl.col("prev_value") - pl.col("hist_value")
    usage = pl.when(diff >= 0).then(diff).otherwise(wrapped)
    factor_milli = int(config.spike_factor * 1000)
    min_centi_wh = int(config.spike_min_kwh * 1000 * 100)
    is_zero = (pl.col("register") == "total") & (diff == 0) & pl.col("account_active").fill_null(False)
    is_spike = (
        (pl.col("register") == "total")
        & pl.col("hist_date").is_not_null()
        & (hist_days > 0)
        & (hist_usage >= 0)
        & (usage * pl.col("multiplier_centi") >= min_centi_wh)
        & (usage * hist_days * 1000 > hist_usage * days * factor_milli)
    )
    checked = checked.with_columns(
        pl.when(pl.col("prev_value").is_null()).then(pl.lit(None, dtype=pl.Utf8))
        .when(is_decrease).then(pl.lit("decrease"))
        .when(is_rollover & pl.lit(config.rollover == "quarantine")).then(pl.lit("rollover"))
        .when(is_zero & pl.lit(config.zero_usage == "quarantine")).then(pl.lit("zero_usage"))
        .when(is_spike).then(pl.lit("spike"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
        .alias("reason"),
        pl.when(is_decrease | is_rollover)
        .then(pl_message(_("reading %(value)s below previous %(previous)s on %(date)s; rollover at %(digits)s "
                           "digits would be %(wrapped)s units"),
                         value=milli_text("value_milli"), previous=milli_text("prev_value"), date=pl.col("prev_date"),
                         digits=pl.col("digits"), wrapped=milli_text(wrapped)))
        .when(is_zero).then(pl_message(_("no usage since %(date)s (reading %(previous)s)"),
                                       date=pl.col("prev_date"), previous=milli_text("prev_value")))
        .when(is_spike).then(pl_message(
            _("usage %(usage)s units in %(days)s days against %(history)s units in the %(history_days)s days "
              "before (factor %(factor)s)"),
            usage=milli_text(usage), days=days, history=milli_text(hist_usage), history_days=hist_days,
            factor=config.spike_factor,
        ))
        .otherwise(pl.lit(""))
        .alias("detail"),
        (is_rollover & pl.lit(config.rollover == "accept")).fill_null(False).alias("accepted_rollover"),
    )
    first = df.filter(pl.col("reason").is_not_null()).with_columns(
        pl.when(pl.col("reason") == "unknown_meter").then(
            pl.when(pl.col("meter_id").is_null()).then(pl_message(_("no meter %(meter)s"),
                                                                  meter=pl.col("asset_number")))
            .when(pl.col("installed_on") > pl.col("read_date")).then(
                pl_message(_("installed on %(date)s"), date=pl.col("installed_on")))
            .otherwise(pl_message(_("removed on %(date)s"), date=pl.col("removed_on")))
        )
        .when(pl.col("reason") == "unknown_register").then(
            pl_message(_("meter has no %(register)s register"), register=pl.col("register")))
        .when(pl.col("reason") == "out_of_period").then(
            pl.when(pl.col("read_date") > pl.lit(as_of_date)).then(
                pl_message(_("read date after today (%(today)s)"), today=as_of_date))
            .otherwise(pl_message(_("period closed before %(date)s"), date=pl.col("frozen_until")))
        )
        .when(pl.col("reason") == "duplicate").then(
            pl.when(pl.col("_n_values") > 1).then(
                pl_message(_("same meter, register and date with different values in this file")))
            .otherwise(pl_message(_("differs from existing read %(read)s (%(value)s)"), read=pl.col("ex_id"),
                                  value=milli_text("ex_value")))
        )
        .otherwise(pl.lit(""))
        .alias("detail"),
        pl.lit(False).alias("accepted_rollover"),
    )
    cols = ["line_no", "asset_number", "register", "read_date", "value_milli", "estimated", "meter_id", "reason",
            "detail", "supersedes_id", "accepted_rollover"]
    out = pl.concat([first.select(cols), checked.select(cols)]).sort("line_no")
    return out.with_columns(
        pl.when(pl.col("reason") == "_unchanged").then(pl.lit("unchanged"))
        .when(pl.col("reason").is_not_null()).then(pl.lit("quarantined"))
        .when(pl.col("estimated")).then(pl.lit("estimated"))
        .otherwise(pl.lit("valid"))
        .alias("outcome"),
        pl.when(pl.col("reason") == "_unchanged").then(None).otherwise(pl.col("reason")).alias("reason"),
        pl.when(pl.col("reason").is_not_null() & (pl.col("reason") != "_unchanged")).then(None)
        .otherwise(pl.col("supersedes_id")).alias("supersedes_id"),
    )


def decimal_to_milli(value: Decimal) -> int:
    return int((value * 1000).to_integral_value())
