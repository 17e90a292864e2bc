"""The vectorised rating kernel: accounts + usage + schedules → bill lines and totals.

Shape of a run (every step is a Polars expression over all accounts of one tariff version; the only
Python loops are over tariff versions and tariff components, a handful each):

1. *Segments*: each account's period is cut into meter/capacity segments (default: one segment
   covering the period).
2. *Pieces*: segments × tariff versions in force: a price change inside the period splits a segment
   by days; register usage is split by days with cumulative rounding so the pieces add up exactly.
3. *Usage*: register usage (× multiplier) or interval usage bucketed by the version's TOU calendar.
4. *Losses* (per piece) are added to the billed kWh; *power-factor eligibility* per piece.
5. *cos φ* per account over its eligible pieces, rounded with the tariff's named step.
6. *Parts* = pieces pooled per (account, version, PF eligibility); energy, tiers and funds are
   priced per part, basic charge per piece, the power-factor adjustment per part.

Every amount is one rounding of an exact integer product (see :mod:`gridcare.rating.scaled`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from gridcare.rating.errors import UnableToRate
from gridcare.rating.frames import (
    ACCOUNTS_SCHEMA,
    ID,
    INTERVALS_SCHEMA,
    LINES_SCHEMA,
    SEGMENTS_SCHEMA,
    TOTALS_SCHEMA,
    USAGE_SCHEMA,
    RatingResult,
    normalise,
)
from gridcare.rating.model import (
    BUCKET_EN,
    BUCKET_ZH,
    BUCKETS,
    BasicComponent,
    EnergyComponent,
    FundsComponent,
    LossComponent,
    PowerFactorComponent,
    Schedule,
    ScheduleSet,
)
from gridcare.rating.scaled import (
    MILLI_FRACTIONS,
    PRICE_UNIT,
    amount_fen,
    fmt_decimal,
    fmt_fen,
    fmt_milli,
    price_e8,
    round_div,
)

B_M = [f"m_{b}" for b in BUCKETS]  # metered Wh per bucket
B_B = [f"b_{b}" for b in BUCKETS]  # billed Wh per bucket (metered + losses)
CN_DIGITS = "零一二三四五六七八九十"
LINE_COLUMNS = [
    ID,
    "seq",
    "tariff",
    "version",
    "start_date",
    "end_date",
    "component",
    "line_code",
    "qty",
    "unit",
    "price",
    "amount_fen",
    "rule",
    "explanation_zh",
    "explanation_en",
]


def rate(
    accounts: pl.DataFrame,
    usage: pl.DataFrame | None,
    schedules: ScheduleSet,
    period_start: date,
    period_end: date,
    *,
    intervals: pl.DataFrame | None = None,
    segments: pl.DataFrame | None = None,
    hot_days: Iterable[date] = (),
    interval_points: int = 24,
    explain: bool = True,
) -> RatingResult:
    """Rate every account for the billing period ``[period_start, period_end)``.

    Frame schemas: :mod:`gridcare.rating.frames` and docs/rating.md. Raises :class:`UnableToRate`
    only for problems of the whole run; an account with bad data is returned in ``rejected``
    with no lines and no total."""
    run = _Run(accounts, usage, schedules, period_start, period_end, intervals, segments, hot_days, interval_points)
    run.explain = explain
    return run.result()


def bucket_lookup(
    schedules: ScheduleSet, codes: list[str], period_start: date, period_end: date, points: int, hot_days: frozenset[date]
) -> pl.Series:
    """Bucket index (into BUCKETS) for every (tariff code, day of period, point): a flat UInt8 series
    to gather from at ``code_index × days × points + day × points + point``. The version in force on
    each day supplies the calendar (season by month, hot-day sharp slots); no calendar → flat."""
    slot_per_point = 96 // points
    out = bytearray()
    days = (period_end - period_start).days
    for code in codes:
        versions = schedules.in_force(code, period_start, period_end)
        for d in range(days):
            day = period_start + timedelta(days=d)
            sched = next((s for s in versions if s.covers(day)), None)
            if sched is None or sched.tou is None:
                out.extend([BUCKETS.index("flat")] * points)
                continue
            slots = list(sched.tou.season_for(day.month).slots)
            if day in hot_days:
                for s in sched.tou.hot_day_sharp_slots:
                    slots[s] = "sharp"
            for p in range(points):
                group = slots[p * slot_per_point : (p + 1) * slot_per_point]
                if len(set(group)) != 1:
                    raise UnableToRate(
                        f"tariff {code}: the TOU calendar changes band inside an hour; hourly intervals cannot be "
                        "bucketed (give 96-point data)",
                        field="interval_points",
                    )
                out.append(BUCKETS.index(group[0]))
    return pl.Series("lookup", list(out), dtype=pl.UInt8)


def _milli_text(value: int | None) -> str | None:
    """Python twin of scaled.fmt_milli for a handful of values."""
    if value is None:
        return None
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 1000)
    return f"{sign}{whole}" + (f".{frac:03d}".rstrip("0") if frac else "")


def _tier_name_zh(i: int) -> str:
    return f"第{CN_DIGITS[i] if i <= 10 else i}档"


@dataclass
class _LineSet:
    """The lines of one kind: per-row columns in ``frame`` (``_a``, ``qty``, ``amount_fen`` and,
    where they vary, ``price``, ``start_date``/``end_date``, ``pfe``, ``tpl`` or ``fidx``); the
    price and explanation template when every line of the kind shares them."""

    kind: int
    frame: pl.DataFrame
    price: int | None = None
    tpl: int | None = None


class _Run:
    def __init__(
        self,
        accounts: pl.DataFrame,
        usage: pl.DataFrame | None,
        schedules: ScheduleSet,
        period_start: date,
        period_end: date,
        intervals: pl.DataFrame | None,
        segments: pl.DataFrame | None,
        hot_days: Iterable[date],
        interval_points: int,
        energy_override: pl.DataFrame | None = None,
    ) -> None:
        if not isinstance(period_start, date) or not isinstance(period_end, date):
            raise UnableToRate("period_start and period_end must be dates", field="period")
        if period_end <= period_start:
            raise UnableToRate(f"period_end {period_end} must be after period_start {period_start}", field="period_end")
        if not isinstance(schedules, ScheduleSet):
            raise UnableToRate("schedules must be a ScheduleSet (see gridcare.rating.load_schedules)", field="schedules")
        if usage is None and intervals is None:
            raise UnableToRate("give usage (register) or intervals", field="usage")
        if interval_points not in (24, 96):
            raise UnableToRate("interval_points must be 24 or 96", field="interval_points")
        self.ps = period_start
        self.pe = period_end
        self.period_days = (period_end - period_start).days
        self.schedules = schedules
        self.points = interval_points
        self.hot_days = frozenset(hot_days)
        self.accounts = normalise(accounts, ACCOUNTS_SCHEMA, "accounts")
        self.id_dtype = self.accounts.schema[ID]
        self.usage = normalise(usage, USAGE_SCHEMA, "usage") if usage is not None else None
        self.intervals = normalise(intervals, INTERVALS_SCHEMA, "intervals") if intervals is not None else None
        self.segments = normalise(segments, SEGMENTS_SCHEMA, "segments") if segments is not None else None
        for name, frame in (("usage", self.usage), ("intervals", self.intervals), ("segments", self.segments)):
            if frame is not None and frame.schema[ID] != self.id_dtype:
                raise UnableToRate(
                    f"{name}.account_id is {frame.schema[ID]} but accounts.account_id is {self.id_dtype}",
                    field=f"{name}.account_id",
                )
        self.energy_override = energy_override
        self.explain = True
        self.rejects: list[pl.DataFrame] = []
        self.lines: list[_LineSet] = []
        self.kinds: list[dict[str, Any]] = []
        self.versions: dict[str, Schedule] = {}
        self.templates: dict[tuple[str, str, str, str], int] = {}  # explanation prefix/suffix → code
        self.full_zh: list[pl.Series] = []  # per-row explanations, referenced by fidx
        self.full_en: list[pl.Series] = []
        self.full_count = 0

    # ------------------------------------------------------------------------------------ helpers

    @property
    def fixed_dates(self) -> bool:
        """No account is split by segments or tariff versions: every line covers the period."""
        return not (self.split or self.has_segments)

    def reject(self, frame: pl.DataFrame, condition: pl.Expr | None, field: str, reason: str | pl.Expr) -> None:
        bad = frame if condition is None else frame.filter(condition)
        if bad.height:
            reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
            self.rejects.append(
                bad.select(pl.col(ID), pl.lit(field).alias("field"), reason_expr.cast(pl.String).alias("reason"))
            )

    def emit(
        self,
        frame: pl.DataFrame,
        *,
        sched: Schedule,
        component: str,
        line_code: str,
        seq: int,
        qty: pl.Expr,
        unit: str,
        price: int | pl.Expr,
        amount: pl.Expr,
        rule: str,
        zh: Any = None,
        en: Any = None,
        text: tuple[str, str, str, str] | None = None,
        variants: tuple[list[pl.Expr], Callable[..., tuple[str, str, str, str]]] | None = None,
        start: str = "part_start",
        end: str = "part_end",
        keep_zero: bool = False,
    ) -> None:
        """Append one kind of line for every row of ``frame`` whose quantity or amount is not zero.

        The explanation of a line is given in one of three ways:

        * ``text=(prefix_zh, suffix_zh, prefix_en, suffix_en)``: the explanation is prefix +
          quantity + suffix, the same for every line of the kind;
        * ``variants=(keys, texts)``: the same shape, with prefix and suffix depending on a few
          integer columns (tier bounds, a category's rate); ``texts(*key values)`` is called once
          per distinct key, not per line;
        * ``zh``/``en``: callables returning per-row string expressions, for explanations that carry
          other per-account numbers (contract demand, power factor). Also the fallback of
          ``variants`` when the keys take too many values.

        Template explanations are stored as a small integer (``tpl``) and written out once, after
        the lines are in their final order (:meth:`_explanations`); per-row ones are built here,
        kept aside and referenced by ``fidx``. The constant columns of a kind (tariff, component,
        line code, unit, rule) are attached once at assembly from the kinds table."""
        kind = len(self.kinds)
        self.kinds.append(
            {"seq": seq, "tariff": sched.code, "version": sched.version, "component": component,
             "line_code": line_code, "unit": unit, "rule": rule}
        )
        # one lazy query: the optimiser keeps only the x_ columns the explanation uses. Columns that
        # are the same on every line of the kind (price, dates of an unsplit run, template) stay
        # out of the frame and are written once per kind when the lines are placed.
        const_price = price if isinstance(price, int) else None
        cols = ["_a", "qty", "amount_fen"]
        exprs = [pl.col("_a"), qty.cast(pl.Int64).alias("qty"), amount.cast(pl.Int64).alias("amount_fen")]
        if const_price is None:
            assert not isinstance(price, int)
            cols.append("price")
            exprs.append(price.cast(pl.Int64).alias("price"))
        if not self.fixed_dates:
            cols += ["start_date", "end_date"]
            exprs += [pl.col(start).alias("start_date"), pl.col(end).alias("end_date")]
        if "pf_eligible" in frame.columns:
            cols.append("pfe")
            exprs.append(pl.col("pf_eligible").alias("pfe"))
        staged = frame.lazy().select(*exprs, *[pl.col(c) for c in frame.columns if c.startswith("x_")])
        if not keep_zero:
            staged = staged.filter((pl.col("qty") != 0) | (pl.col("amount_fen") != 0))
        lines = _LineSet(kind, None, const_price)  # type: ignore[arg-type]
        out: pl.DataFrame | None = None
        if not self.explain:
            out = staged.select(cols).collect()
        elif text is not None:
            out = staged.select(cols).collect()
            lines.tpl = self._template(text)
        elif variants is not None:
            keys, texts = variants
            names = [f"_v{j}" for j in range(len(keys))]
            keyed = staged.select(*cols, *[k.cast(pl.Int64).alias(n) for k, n in zip(keys, names, strict=True)]).collect()
            tpl = self._variant_codes(keyed, names, texts)
            if tpl is not None:
                out = keyed.select(*cols, tpl.cast(pl.Int32).alias("tpl"))
        if out is None:  # per-row explanation
            assert zh is not None and en is not None, f"{line_code}: no explanation given"
            full = staged.with_columns(fmt_milli(pl.col("qty")).alias("x_qs")).select(
                *cols, zh().alias("_zh"), en().alias("_en")).collect()
            out = full.select(*cols, (pl.int_range(pl.len(), dtype=pl.Int64) + self.full_count).alias("fidx"))
            if full.height:
                self.full_zh.append(full["_zh"])
                self.full_en.append(full["_en"])
                self.full_count += full.height
        if out.height:
            lines.frame = out
            self.lines.append(lines)

    def _template(self, text: tuple[str, str, str, str]) -> int:
        code = self.templates.get(text)
        if code is None:
            code = self.templates[text] = len(self.templates)
        return code

    def _variant_codes(self, frame: pl.DataFrame, names: list[str], texts: Callable[..., tuple[str, str, str, str]]
                       ) -> pl.Series | None:
        """Template code per row from a few integer key columns (None when there are too many
        distinct keys or a null): the keys are packed into one Int64 and mapped once per value."""
        if frame.height == 0:
            return pl.Series("tpl", [], dtype=pl.UInt32)
        if any(frame[n].null_count() for n in names):
            return None
        bounds = frame.select(*[pl.col(n).min().alias(f"{n}_lo") for n in names],
                              *[pl.col(n).max().alias(f"{n}_hi") for n in names]).row(0)
        lows, highs = bounds[: len(names)], bounds[len(names):]
        packed: pl.Expr = pl.lit(0, dtype=pl.Int64)
        stride = 1
        strides = []
        for n, lo, hi in zip(names, lows, highs, strict=True):
            strides.append(stride)
            packed = packed + (pl.col(n) - lo) * stride
            stride *= hi - lo + 1
            if stride >= 2**62:
                return None
        keys = frame.select(packed.alias("k"))["k"]
        distinct = keys.unique()
        if distinct.len() > _VARIANT_LIMIT:
            return None
        codes = []
        for value in distinct.to_list():
            parts = []
            for lo, hi, st in zip(lows, highs, strides, strict=True):
                parts.append(lo + (value // st) % (hi - lo + 1))
            codes.append(self._template(texts(*parts)))
        return keys.replace_strict(distinct, codes, return_dtype=pl.UInt32)

    # ------------------------------------------------------------------------------------- stages

    def result(self) -> RatingResult:
        accounts = self._check_accounts()
        seg = self._segments(accounts)
        pieces = self._pieces(seg)
        pieces = self._usage_into_pieces(pieces)
        if pieces.height == 0:  # no account has a tariff version in force (or there are none)
            return self._empty_result()
        attrs = accounts.drop("_a", "tariff", "capacity_va", "contract_demand_w")
        if _aligned(pieces, attrs, segment=False):
            pieces = pieces.hstack(attrs.drop(ID))
        else:
            pieces = pieces.join(attrs, on=ID, how="left")
        pieces = self._losses_and_eligibility(pieces)
        pf = self._cos_phi(pieces)
        parts = self._parts(pieces)
        for key, sched in self.versions.items():
            many = len(self.versions) > 1
            pv = pieces.filter(pl.col("vkey") == key) if many else pieces
            rv = parts.filter(pl.col("vkey") == key) if many else parts
            if pv.height:
                self._price_version(sched, pv, rv, pf)
        # the wide per-account frames are done with: release them before the lines are assembled,
        # so their memory is reused for the output instead of adding to the peak
        parts = parts.select("_a", "b_total")
        del pieces, pv, rv, seg, attrs, accounts
        self.usage = self.intervals = self.segments = None
        return self._assemble(parts, pf)

    def _empty_result(self) -> RatingResult:
        rejected = (
            pl.concat(self.rejects).unique(maintain_order=True)
            if self.rejects
            else pl.DataFrame(schema={ID: self.id_dtype, "field": pl.String, "reason": pl.String})
        )
        lines = pl.DataFrame(schema={c: (self.id_dtype if c == ID else t) for c, t in LINES_SCHEMA.items()})
        totals = pl.DataFrame(schema={c: (self.id_dtype if c == ID else t) for c, t in TOTALS_SCHEMA.items()})
        return RatingResult(lines=lines, totals=totals, rejected=rejected)

    def _check_accounts(self) -> pl.DataFrame:
        acc = self.accounts.with_row_index("_a")
        self.accounts = acc
        if acc.height != acc.select(pl.col(ID).n_unique()).item():
            self.reject(acc, pl.col(ID).is_duplicated(), "accounts.account_id", "account_id appears more than once")
        known = list(self.schedules.codes)
        self.reject(
            acc,
            ~pl.col("tariff").is_in(known) | pl.col("tariff").is_null(),
            "accounts.tariff",
            pl.format("unknown tariff {}", pl.col("tariff").fill_null("(none)")),
        )
        self.reject(acc, pl.col("households") < 1, "accounts.households", "households must be at least 1")
        self.reject(acc, pl.col("capacity_va") < 0, "accounts.capacity_va", "capacity must not be negative")
        self.reject(acc, pl.col("ytd_wh") < 0, "accounts.ytd_wh", "ytd_wh must not be negative")
        self.reject(
            acc,
            pl.col("basic_basis").is_not_null() & ~pl.col("basic_basis").is_in(["capacity", "demand"]),
            "accounts.basic_basis",
            "basic_basis must be capacity or demand",
        )
        annual = sorted(
            {
                s.code
                for s in self.schedules
                if s.effective_from < self.pe and (s.effective_to is None or s.effective_to > self.ps)
                for c in s.components
                if isinstance(c, EnergyComponent) and c.tiers and c.tier_options.cycle == "annual"
            }
        )
        if annual:
            # An account's annual tier cycle starts on its annual_cycle_start anniversary, by default
            # 1 January. The kernel has no history: ytd_wh is the caller's, so a period must not
            # straddle an anniversary, and a period starting on one must carry ytd_wh = 0.
            def month_day(d: date) -> int:
                return d.month * 100 + d.day

            inside = sorted({month_day(self.ps + timedelta(days=d)) for d in range(1, self.period_days)})
            on_annual = pl.col("tariff").is_in(annual).fill_null(False)
            start = pl.coalesce(
                pl.col("annual_cycle_start").dt.month().cast(pl.Int32) * 100
                + pl.col("annual_cycle_start").dt.day().cast(pl.Int32),
                pl.lit(101, dtype=pl.Int32),
            )
            self.reject(
                acc,
                on_annual & start.is_in(inside),
                "accounts.annual_cycle_start",
                pl.format(
                    "the annual tier cycle restarts on {} inside the period; split the period at the anniversary",
                    pl.format("{}-{}", (start // 100).cast(pl.String).str.zfill(2), (start % 100).cast(pl.String).str.zfill(2)),
                ),
            )
            self.reject(
                acc,
                on_annual & (start == month_day(self.ps)) & (pl.col("ytd_wh") > 0),
                "accounts.ytd_wh",
                "ytd_wh must be 0: the period starts a new annual tier cycle",
            )
        return acc

    def _segments(self, acc: pl.DataFrame) -> pl.DataFrame:
        ps, pe = self.ps, self.pe
        base = acc.select(
            pl.col(ID),
            pl.col("_a"),
            pl.lit(1, dtype=pl.Int32).alias("segment"),
            pl.lit(ps).alias("seg_start"),
            pl.lit(pe).alias("seg_end"),
            pl.col("tariff"),
            pl.col("capacity_va"),
            pl.col("contract_demand_w"),
            pl.lit(0, dtype=pl.Int64).alias("suspended_va"),
            pl.lit(None, dtype=pl.Int32).alias("suspension_days"),
            pl.lit(0, dtype=pl.Int64).alias("transformer_loss_wh"),
            pl.lit(0, dtype=pl.Int64).alias("transformer_loss_varh"),
            pl.lit(0, dtype=pl.Int64).alias("loss_ppm"),
            pl.lit(0, dtype=pl.Int64).alias("reactive_loss_ppm"),
        )
        self.has_segments = self.segments is not None and self.segments.height > 0
        if not self.has_segments:
            return base
        s = self.segments
        assert s is not None
        self.reject(s, ~pl.col(ID).is_in(acc[ID].implode()), "segments.account_id", "segment for an account not in accounts")
        self.reject(s, pl.struct(ID, "segment").is_duplicated(), "segments.segment", "segment appears more than once")
        self.reject(
            s,
            (pl.col("end_date") <= pl.col("start_date")) | (pl.col("start_date") < ps) | (pl.col("end_date") > pe),
            "segments.start_date",
            pl.format("segment {} must satisfy period_start <= start_date < end_date <= period_end", pl.col("segment")),
        )
        self.reject(s, pl.col("suspended_va") < 0, "segments.suspended_va", "suspended_va must not be negative")
        ordered = s.sort(ID, "start_date")
        self.reject(
            ordered,
            pl.col("start_date") < pl.col("end_date").shift(1).over(ID),
            "segments.start_date",
            pl.format("segment {} overlaps the previous segment", pl.col("segment")),
        )
        segd = s.join(acc.select(ID, "_a", pl.col("tariff").alias("a_tariff"), pl.col("capacity_va").alias("a_cap"),
                                 pl.col("contract_demand_w").alias("a_cd")), on=ID, how="inner").select(
            pl.col(ID),
            pl.col("_a"),
            pl.col("segment"),
            pl.col("start_date").alias("seg_start"),
            pl.col("end_date").alias("seg_end"),
            pl.coalesce("tariff", "a_tariff").alias("tariff"),
            pl.coalesce("capacity_va", "a_cap").alias("capacity_va"),
            pl.coalesce("contract_demand_w", "a_cd").alias("contract_demand_w"),
            pl.col("suspended_va"),
            pl.col("suspension_days"),
            pl.col("transformer_loss_wh"),
            pl.col("transformer_loss_varh"),
            pl.col("loss_ppm"),
            pl.col("reactive_loss_ppm"),
        )
        self.reject(segd, ~pl.col("tariff").is_in(list(self.schedules.codes)), "segments.tariff",
                    pl.format("unknown tariff {}", pl.col("tariff")))
        self.seg_accounts = s[ID].unique()
        return pl.concat([base.filter(~pl.col(ID).is_in(self.seg_accounts.implode())), segd])

    def _pieces(self, seg: pl.DataFrame) -> pl.DataFrame:
        rows = []
        for code in self.schedules.codes:
            for sched in self.schedules.in_force(code, self.ps, self.pe):
                self.versions[sched.key] = sched
                rows.append(
                    {
                        "tariff": code,
                        "vkey": sched.key,
                        "v_start": max(sched.effective_from, self.ps),
                        "v_end": min(sched.effective_to or self.pe, self.pe),
                    }
                )
        versions = pl.DataFrame(
            rows, schema={"tariff": pl.String, "vkey": pl.String, "v_start": pl.Date, "v_end": pl.Date}
        )
        seg = seg.with_columns(((pl.col("seg_end") - pl.col("seg_start")).dt.total_days().cast(pl.Int32)).alias("seg_days"))
        single = versions.group_by("tariff").len().filter(pl.col("len") > 1).height == 0 and versions.filter(
            (pl.col("v_start") != self.ps) | (pl.col("v_end") != self.pe)
        ).height == 0
        if single:
            # one version per tariff covering the period: no join, the account order is kept
            pieces = seg.with_columns(
                pl.col("tariff").replace_strict(versions["tariff"], versions["vkey"], default=None).alias("vkey"),
                pl.col("seg_start").alias("piece_start"),
                pl.col("seg_end").alias("piece_end"),
            ).filter(pl.col("vkey").is_not_null())
        else:
            pieces = (
                seg.join(versions, on="tariff", how="inner")
                .with_columns(
                    pl.max_horizontal("seg_start", "v_start").alias("piece_start"),
                    pl.min_horizontal("seg_end", "v_end").alias("piece_end"),
                )
                .filter(pl.col("piece_end") > pl.col("piece_start"))
                .drop("v_start", "v_end")
            )
        pieces = pieces.with_columns(
            ((pl.col("piece_end") - pl.col("piece_start")).dt.total_days().cast(pl.Int32)).alias("piece_days")
        )
        self.split = pieces.height != seg.height or not single
        if self.split:
            covered = pieces.group_by(ID, "segment").agg(pl.col("piece_days").sum().alias("covered"))
            check = seg.join(covered, on=[ID, "segment"], how="left")
            self.reject(
                check,
                (pl.col("covered").fill_null(0) != pl.col("seg_days")) & pl.col("tariff").is_in(list(self.schedules.codes)),
                "accounts.tariff",
                pl.format(
                    "tariff {} has no version in force on part of {}..{}", pl.col("tariff"), pl.col("seg_start"),
                    pl.col("seg_end"),
                ),
            )
            pieces = pieces.sort(ID, "piece_start")
        pieces = pieces.with_columns(
            ((pl.col("seg_start") == self.ps) & (pl.col("seg_end") == self.pe)).alias("seg_full"),
        )
        return pieces

    # ------------------------------------------------------------------------------------- usage

    def _usage_into_pieces(self, pieces: pl.DataFrame) -> pl.DataFrame:
        acc_ids = self.accounts[ID].implode()
        interval_ids = None
        if self.intervals is not None:
            iv = self.intervals
            self.reject(iv, ~pl.col(ID).is_in(acc_ids), "intervals.account_id", "intervals for an account not in accounts")
            interval_ids = iv[ID].unique()
        if self.usage is not None:
            u = self._register_windows(self.usage, acc_ids, interval_ids)
        else:
            u = None
        cols_zero = {c: 0 for c in B_M}
        if u is not None:
            if _aligned(pieces, u):
                joined = pieces.hstack(u.drop(ID, "segment"))
            else:
                joined = pieces.join(u, on=[ID, "segment"], how="left")
        else:
            joined = pieces.with_columns(
                *[pl.lit(None, dtype=pl.Int64).alias(c) for c in [*B_M, "m_total", "q_var", "dmax"]],
                pl.lit(False).alias("has_b"),
                pl.lit(False).alias("has_row"),
            )
        if self.split:
            joined = self._split_by_days(joined)
        if self.intervals is not None:
            joined = self._intervals_into_pieces(joined)
        joined = joined.with_columns(
            *[pl.col(c).fill_null(v) for c, v in cols_zero.items()],
            pl.col("m_total").fill_null(0),
            pl.col("has_b").fill_null(False),
        )
        if joined.height == self.accounts.height and not self.split and not self.has_segments:
            self.reject(joined, ~pl.col("has_row").fill_null(False), "usage", "no usage rows or intervals for the account")
        else:
            has_any = joined.group_by(ID).agg(pl.col("has_row").fill_null(False).any().alias("any_usage"))
            self.reject(has_any, ~pl.col("any_usage"), "usage", "no usage rows or intervals for the account")
        return joined

    def _register_windows(self, u: pl.DataFrame, acc_ids: pl.Series, interval_ids: pl.Series | None) -> pl.DataFrame:
        self.reject(u, ~pl.col(ID).is_in(acc_ids), "usage.account_id", "usage for an account not in accounts")
        bcols = [f"{b}_wh" for b in BUCKETS]
        qcols = ["total_wh", *bcols, "reactive_varh", "reverse_reactive_varh", "max_demand_w"]
        self.reject(u, pl.col("multiplier") < 1, "usage.multiplier", "multiplier must be at least 1")
        negative = pl.any_horizontal([pl.col(c) < 0 for c in qcols]).fill_null(False)
        self.reject(u, negative, "usage", "usage quantities must not be negative")
        u_checked = u.filter(~negative)
        has_b = pl.any_horizontal([pl.col(c).is_not_null() for c in bcols])
        others = pl.sum_horizontal([pl.col(f"{b}_wh").fill_null(0) for b in BUCKETS if b != "flat"])
        all_b = pl.sum_horizontal([pl.col(c).fill_null(0) for c in bcols])
        self.reject(
            u_checked,
            pl.col("total_wh").is_not_null() & pl.col("flat_wh").is_not_null() & (pl.col("total_wh") != all_b),
            "usage.total_wh",
            pl.format("total_wh {} is not the sum of the TOU registers {}", pl.col("total_wh"), all_b),
        )
        self.reject(
            u_checked,
            pl.col("total_wh").is_not_null() & pl.col("flat_wh").is_null() & (pl.col("total_wh") < others),
            "usage.total_wh",
            pl.format("total_wh {} is less than the other TOU registers {}", pl.col("total_wh"), others),
        )
        if interval_ids is not None:
            self.reject(
                u,
                pl.col(ID).is_in(interval_ids.implode()) & (pl.col("total_wh").is_not_null() | has_b),
                "usage.total_wh",
                "account has intervals; its usage row may carry only reactive_varh and max_demand_w",
            )
        m = pl.col("multiplier")
        flat = pl.when(pl.col("flat_wh").is_null() & pl.col("total_wh").is_not_null()).then(pl.col("total_wh") - others).otherwise(pl.col("flat_wh"))
        if self.has_segments:
            window = pl.when(pl.col(ID).is_in(self.seg_accounts.implode())).then(pl.col("segment")).otherwise(pl.lit(1, dtype=pl.Int32))
        else:
            window = pl.lit(1, dtype=pl.Int32)
        w = u.select(
            pl.col(ID),
            window.alias("segment"),
            *[
                ((flat if b == "flat" else pl.col(f"{b}_wh").fill_null(0)) * m).fill_null(0).alias(f"m_{b}")
                for b in BUCKETS
            ],
            has_b.alias("has_b"),
            (
                (pl.col("reactive_varh") + pl.col("reverse_reactive_varh").fill_null(0)) * m
            ).alias("q_var"),
            (pl.col("max_demand_w") * m).alias("dmax"),
            (pl.col("total_wh").is_not_null() | has_b).alias("has_row"),
        )
        if self.has_segments:
            known = self.segments.select(ID, "segment")  # type: ignore[union-attr]
            self.reject(
                u.filter(pl.col(ID).is_in(self.seg_accounts.implode())).join(known, on=[ID, "segment"], how="anti"),
                None,
                "usage.segment",
                pl.format("usage for segment {} which is not in segments", pl.col("segment")),
            )
        one_window = w.height == 0 or w["segment"].min() == w["segment"].max()
        distinct = w[ID].n_unique() if one_window else w.select(pl.struct(ID, "segment").n_unique()).item()
        if w.height != distinct:  # several rows for one window (e.g. per register): summed
            w = w.group_by(ID, "segment").agg(
                *[pl.col(c).sum() for c in B_M],
                pl.col("has_b").any(),
                pl.when(pl.col("q_var").is_null().all()).then(None).otherwise(pl.col("q_var").sum()).alias("q_var"),
                pl.col("dmax").max(),
                pl.col("has_row").any(),
            )
        return w.with_columns(pl.sum_horizontal(B_M).alias("m_total"))

    def _split_by_days(self, joined: pl.DataFrame) -> pl.DataFrame:
        """Register usage of a segment split across tariff versions by days, cumulatively rounded
        (rounding step ``usage_split``) so the pieces add up to the segment exactly."""
        mode = next(iter(self.versions.values())).rounding["usage_split"].mode if self.versions else "half_up"
        g = [ID, "segment"]
        joined = joined.with_columns(pl.col("piece_days").cum_sum().over(g).alias("_cum_days"))
        out = []
        for c in [*B_M, "q_var"]:
            cum = round_div(pl.col(c).cast(pl.Int128) * pl.col("_cum_days"), pl.col("seg_days").cast(pl.Int128), mode)
            out.append((cum - cum.shift(1).over(g).fill_null(0)).alias(c))
        # max demand is a segment maximum; it is not split
        return joined.with_columns(out).with_columns(pl.sum_horizontal(B_M).alias("m_total")).drop("_cum_days")

    def _bucket_lookup(self, codes: list[str]) -> pl.Series:
        return bucket_lookup(self.schedules, codes, self.ps, self.pe, self.points, self.hot_days)

    def _intervals_into_pieces(self, joined: pl.DataFrame) -> pl.DataFrame:
        iv = self.intervals
        assert iv is not None
        ppd = self.points
        self.reject(
            iv,
            (pl.col("point") < 0) | (pl.col("point") >= ppd),
            "intervals.point",
            pl.format("point {} is outside 0..{}", pl.col("point"), pl.lit(ppd - 1)),
        )
        self.reject(
            iv,
            (pl.col("date") < self.ps) | (pl.col("date") >= self.pe),
            "intervals.date",
            pl.format("interval on {} is outside the period", pl.col("date")),
        )
        self.reject(iv, pl.col("wh") < 0, "intervals.wh", "interval energy must not be negative")
        codes = sorted(set(joined["tariff"].unique().to_list()))
        lookup = self._bucket_lookup(codes)
        per_code = self.period_days * ppd
        day = (pl.col("date") - pl.lit(self.ps)).dt.total_days()
        pos = (day * ppd + pl.col("point").cast(pl.Int64)).clip(0, per_code - 1)
        one_piece = joined.height == joined.select(pl.col(ID).n_unique()).item()
        code_of = joined.group_by(ID).agg(pl.col("tariff").n_unique().alias("n"), pl.col("tariff").first())
        single_code = code_of.filter(pl.col("n") > 1).height == 0
        if not single_code:
            self.reject(
                code_of,
                pl.col("n") > 1,
                "segments.tariff",
                "an account rated from intervals must keep one tariff across its segments",
            )
        if len(codes) == 1:
            idx = pos
            ivx = iv
        else:
            cmap = code_of.select(ID, pl.col("tariff").replace_strict(codes, list(range(len(codes))), default=0).cast(pl.Int64).alias("_ci"))
            ivx = iv.join(cmap, on=ID, how="inner")
            idx = pl.col("_ci") * per_code + pos
        minutes = 1440 // ppd
        bucket = pl.lit(lookup).gather(idx)
        aggs = [
            *[pl.when(pl.col("_b") == i).then(pl.col("wh")).otherwise(0).sum().alias(f"m_{b}") for i, b in enumerate(BUCKETS)],
            pl.when(pl.col("varh").is_null().all()).then(None).otherwise(pl.col("varh").sum()).alias("iv_var"),
            (pl.col("wh").max() * (60 // minutes)).alias("iv_dmax"),
        ]
        if one_piece:
            # streaming keeps memory flat: no per-bucket temporary as long as the interval frame
            agg = ivx.lazy().with_columns(bucket.alias("_b")).group_by(ID).agg(aggs).collect(engine="streaming")
            key = [ID]
        else:
            # several pieces per account: map each date to its piece
            days = joined.select(ID, "piece_start", "piece_end", "segment", "vkey").with_columns(
                pl.date_ranges("piece_start", "piece_end", closed="left").alias("date")
            ).explode("date")
            agg = (
                ivx.with_columns(bucket.alias("_b"))
                .join(days, on=[ID, "date"], how="left")
            )
            self.reject(
                agg,
                pl.col("segment").is_null(),
                "intervals.date",
                pl.format("interval on {} is outside the account's segments", pl.col("date")),
            )
            agg = agg.lazy().filter(pl.col("segment").is_not_null()).group_by(ID, "segment", "vkey").agg(aggs).collect(
                engine="streaming")
            key = [ID, "segment", "vkey"]
        joined = joined.join(agg.with_columns(pl.lit(True).alias("_iv")), on=key, how="left", suffix="_iv")
        ivm = pl.col("_iv").fill_null(False)
        return joined.with_columns(
            *[pl.when(ivm).then(pl.col(f"m_{b}_iv")).otherwise(pl.col(f"m_{b}")).alias(f"m_{b}") for b in BUCKETS],
            pl.when(ivm).then(pl.lit(True)).otherwise(pl.col("has_b")).alias("has_b"),
            pl.when(ivm).then(pl.lit(True)).otherwise(pl.col("has_row")).alias("has_row"),
            pl.when(ivm & pl.col("q_var").is_null()).then(pl.col("iv_var")).otherwise(pl.col("q_var")).alias("q_var"),
            pl.when(ivm & pl.col("dmax").is_null()).then(pl.col("iv_dmax")).otherwise(pl.col("dmax")).alias("dmax"),
        ).with_columns(pl.sum_horizontal(B_M).alias("m_total")).drop(
            [f"m_{b}_iv" for b in BUCKETS] + ["_iv", "iv_var", "iv_dmax"]
        )

    # ------------------------------------------------------------------ losses, PF eligibility

    def _factor(self, proration: str) -> tuple[pl.Expr, pl.Expr]:
        """Day factor num/den of a piece for monthly quantities (basic charge, fixed losses).
        A segment covering the whole period is charged by its share of the period; a partial
        segment (新装、增容、变更、终止) by days/30 or days/actual days as configured."""
        if proration == "thirty_day":
            den = pl.when(pl.col("seg_full")).then(pl.lit(self.period_days)).otherwise(pl.lit(30))
        else:
            den = pl.lit(self.period_days)
        return pl.col("piece_days").cast(pl.Int64), den.cast(pl.Int64)

    def _losses_and_eligibility(self, pieces: pl.DataFrame) -> pl.DataFrame:
        out = []
        for key, sched in self.versions.items():
            pv = pieces.filter(pl.col("vkey") == key) if len(self.versions) > 1 else pieces
            if pv.height == 0:
                continue
            loss = next((c for c in sched.components if isinstance(c, LossComponent)), None)
            pfc = next((c for c in sched.components if isinstance(c, PowerFactorComponent)), None)
            if loss is not None:
                pv = self._losses(sched, loss, pv)
            else:
                pv = pv.with_columns(
                    *[pl.col(m).alias(b) for m, b in zip(B_M, B_B, strict=True)],
                    pl.col("q_var").alias("q_var_b"),
                )
            pv = pv.with_columns(pl.sum_horizontal(B_B).alias("b_total"))
            if pfc is not None and pfc.table is not None:
                std = pl.coalesce(pl.col("pf_standard"), pl.lit(pfc.default_standard, dtype=pl.String))
                exempt = pl.col("exemptions").list.contains(pfc.id).fill_null(False) | pl.col("exemptions").list.contains(
                    "pf"
                ).fill_null(False)
                known = list(pfc.table.rows)
                self.reject(
                    pv,
                    std.is_not_null() & (std != "none") & ~std.is_in(known),
                    "accounts.pf_standard",
                    pl.format("unknown power-factor standard {}; known: " + ", ".join(known), std),
                )
                eligible = (
                    std.is_not_null()
                    & (std != "none")
                    & ~exempt
                    & (pl.col("capacity_va").fill_null(0) >= int(pfc.min_capacity_kva * 1000))
                )
                pv = pv.with_columns(eligible.alias("pf_eligible"), std.alias("pf_std"),
                                     pl.lit(sched.rounding["cos_phi"].mode).alias("cos_mode"))
            else:
                pv = pv.with_columns(pl.lit(False).alias("pf_eligible"), pl.lit(None, dtype=pl.String).alias("pf_std"),
                                     pl.lit(None, dtype=pl.String).alias("cos_mode"))
            out.append(pv)
        return pl.concat(out, how="vertical_relaxed") if len(out) > 1 else out[0]

    def _losses(self, sched: Schedule, loss: LossComponent, pv: pl.DataFrame) -> pl.DataFrame:
        step = sched.rounding["loss_quantity"]
        unit = int((step.places or Decimal("0.001")) * 1000)  # Wh per rounding unit
        num, den = self._factor(loss.fixed_proration)
        fixed = round_div(pl.col("transformer_loss_wh").cast(pl.Int128) * num, (den * unit).cast(pl.Int128), step.mode) * unit
        pct = round_div(pl.col("m_total").cast(pl.Int128) * pl.col("loss_ppm"), pl.lit(1_000_000 * unit, dtype=pl.Int128), step.mode) * unit
        rfixed = round_div(pl.col("transformer_loss_varh").cast(pl.Int128) * num, (den * unit).cast(pl.Int128), step.mode) * unit
        rpct = round_div(pl.col("q_var").fill_null(0).cast(pl.Int128) * pl.col("reactive_loss_ppm"), pl.lit(1_000_000 * unit, dtype=pl.Int128), step.mode) * unit
        pv = pv.with_columns(
            fixed.alias("loss_fixed"), pct.alias("loss_pct"), rfixed.alias("loss_rfixed"), rpct.alias("loss_rpct")
        )
        pv = pv.with_columns((pl.col("loss_fixed") + pl.col("loss_pct")).alias("loss_active"))
        if loss.tou_allocation == "flat":
            alloc = [pl.when(pl.lit(b == "flat")).then(pl.col("loss_active")).otherwise(0) for b in BUCKETS]
        else:
            alloc = []
            prev: pl.Expr = pl.lit(0, dtype=pl.Int64)
            cum_m: pl.Expr = pl.lit(0, dtype=pl.Int64)
            for b in BUCKETS:
                cum_m = cum_m + pl.col(f"m_{b}")
                cum = pl.when(pl.col("m_total") == 0).then(
                    pl.col("loss_active") if b == BUCKETS[-1] else pl.lit(0, dtype=pl.Int64)
                ).otherwise(
                    round_div(pl.col("loss_active").cast(pl.Int128) * cum_m, pl.col("m_total").cast(pl.Int128), "half_up")
                )
                alloc.append(cum - prev)
                prev = cum
            # all loss lands in flat when nothing was metered
            alloc = [
                pl.when(pl.col("m_total") == 0).then(pl.col("loss_active") if b == "flat" else pl.lit(0, dtype=pl.Int64)).otherwise(a)
                for a, b in zip(alloc, BUCKETS, strict=True)
            ]
        pv = pv.with_columns(
            *[(pl.col(f"m_{b}") + a).alias(f"b_{b}") for a, b in zip(alloc, BUCKETS, strict=True)],
            (pl.col("q_var") + pl.col("loss_rfixed") + pl.col("loss_rpct")).alias("q_var_b"),
        )
        fn, fd = self._factor(loss.fixed_proration)
        pv = pv.with_columns(fn.alias("x_fn"), fd.alias("x_fd"))
        seq = 10
        kwh = pl.col("x_qs")
        self.emit(
            pv.with_columns(pl.col("transformer_loss_wh").alias("x_mon")),
            sched=sched, component=loss.id, line_code=f"{loss.id}.fixed", seq=seq, start="piece_start", end="piece_end",
            qty=pl.col("loss_fixed"), unit="kWh", price=0, amount=pl.lit(0), rule=loss.rule,
            zh=lambda: pl.format("{}（定额）{} kWh × {}/{} 天 = {} kWh", pl.lit(loss.label_zh), fmt_milli(pl.col("x_mon")),
                                 pl.col("x_fn"), pl.col("x_fd"), kwh),
            en=lambda: pl.format("{} (fixed) {} kWh × {}/{} days = {} kWh", pl.lit(loss.label_en), fmt_milli(pl.col("x_mon")),
                                 pl.col("x_fn"), pl.col("x_fd"), kwh),
        )
        self.emit(
            pv.with_columns(pl.col("m_total").alias("x_m"), pl.col("loss_ppm").alias("x_ppm")),
            sched=sched, component=loss.id, line_code=f"{loss.id}.percent", seq=seq + 1, start="piece_start", end="piece_end",
            qty=pl.col("loss_pct"), unit="kWh", price=0, amount=pl.lit(0), rule=loss.rule,
            zh=lambda: pl.format("{}（按比例）{} kWh × {} ppm = {} kWh", pl.lit(loss.label_zh), fmt_milli(pl.col("x_m")), pl.col("x_ppm"), kwh),
            en=lambda: pl.format("{} (share) {} kWh × {} ppm = {} kWh", pl.lit(loss.label_en), fmt_milli(pl.col("x_m")), pl.col("x_ppm"), kwh),
        )
        self.emit(
            pv,
            sched=sched, component=loss.id, line_code=f"{loss.id}.reactive", seq=seq + 2, start="piece_start", end="piece_end",
            qty=pl.col("loss_rfixed") + pl.col("loss_rpct"), unit="kvarh", price=0, amount=pl.lit(0), rule=loss.rule,
            text=(f"无功{loss.label_zh} ", " kvarh（计入功率因数）", f"Reactive {loss.label_en} ", " kvarh (counts towards power factor)"),
        )
        return pv.drop("loss_fixed", "loss_pct", "loss_rfixed", "loss_rpct", "loss_active", "x_fn", "x_fd")

    def _cos_phi(self, pieces: pl.DataFrame) -> pl.DataFrame:
        """Monthly power factor per account over its PF-eligible pieces, rounded exactly:
        the rounded value is the largest k/100 whose rounding boundary cos φ reaches, tested with
        integers (P²·(D² − b²) ≥ b²·Q²), so no square root or float is involved."""
        el = pieces.filter(pl.col("pf_eligible"))
        empty = pl.DataFrame(schema={"_a": pl.UInt32, "cos_k": pl.Int64, "pf_std": pl.String, "rate_e8": pl.Int64,
                                     "pct_text": pl.String})
        if el.height == 0:
            return empty
        self.reject(
            el,
            pl.col("q_var_b").is_null(),
            "usage.reactive_varh",
            "reactive_varh is required: power-factor adjustment applies",
        )
        acc = el.sort("_a", "piece_start").group_by("_a").agg(
            pl.col("b_total").sum().cast(pl.Int128).alias("P"),
            pl.col("q_var_b").sum().cast(pl.Int128).alias("Q"),
            pl.col("pf_std").first(),
            pl.col("cos_mode").first(),
        )
        p2 = pl.col("P") * pl.col("P")
        q2 = pl.col("Q") * pl.col("Q")
        conds_half = [p2 * (40000 - (2 * k - 1) ** 2) >= q2 * ((2 * k - 1) ** 2) for k in range(1, 101)]
        conds_down = [p2 * (10000 - k * k) >= q2 * (k * k) for k in range(1, 101)]
        conds_up = [p2 * (10000 - (k - 1) ** 2) > q2 * ((k - 1) ** 2) for k in range(1, 101)]
        modes = set(acc["cos_mode"].unique().to_list())
        k_expr: pl.Expr = pl.lit(None, dtype=pl.Int64)
        for mode, conds in (("half_up", conds_half), ("down", conds_down), ("up", conds_up)):
            if mode in modes:
                k_expr = pl.when(pl.col("cos_mode") == mode).then(
                    pl.sum_horizontal([c.cast(pl.Int64) for c in conds])
                ).otherwise(k_expr)
        acc = acc.with_columns(
            pl.when((pl.col("P") == 0) & (pl.col("Q") == 0)).then(None).otherwise(k_expr).alias("cos_k")
        )
        rows = []
        seen = set()
        for sched in self.versions.values():
            for comp in sched.components:
                if isinstance(comp, PowerFactorComponent) and comp.table is not None:
                    for std in comp.table.rows:
                        if std in seen:
                            continue
                        seen.add(std)
                        for k in range(0, 101):
                            pct = comp.table.percent(std, Decimal(k) / 100)
                            rows.append({"pf_std": std, "cos_k": k, "rate_e8": int(pct * 10**6),
                                         "pct_text": ("+" if pct > 0 else "") + fmt_decimal(pct.normalize() if pct == pct.to_integral() else pct)})
        table = pl.DataFrame(rows, schema={"pf_std": pl.String, "cos_k": pl.Int64, "rate_e8": pl.Int64, "pct_text": pl.String})
        return acc.select("_a", "cos_k", "pf_std").join(table, on=["pf_std", "cos_k"], how="left")

    def _parts(self, pieces: pl.DataFrame) -> pl.DataFrame:
        """Pool pieces per (account, version, PF eligibility); annual-tier offsets across parts."""
        key = [ID, "vkey", "pf_eligible"]
        simple = not self.split and (not self.has_segments)
        if simple:
            parts = pieces.with_columns(
                pl.col("piece_start").alias("part_start"),
                pl.col("piece_end").alias("part_end"),
                pl.col("piece_days").alias("part_days"),
            )
            return parts.with_columns(
                pl.col("part_days").alias("acct_days"), pl.col("ytd_wh").alias("offset_wh")
            )
        first_cols = [c for c in pieces.columns if c not in (*B_M, *B_B, "m_total", "b_total", "piece_start", "piece_end",
                                                             "piece_days", *key)]
        parts = pieces.group_by(key, maintain_order=True).agg(
            *[pl.col(c).sum() for c in [*B_M, *B_B, "m_total", "b_total"]],
            pl.col("has_b").all().alias("has_b_all"),
            pl.col("piece_start").min().alias("part_start"),
            pl.col("piece_end").max().alias("part_end"),
            pl.col("piece_days").sum().alias("part_days"),
            *[pl.col(c).first() for c in first_cols if c != "has_b"],
        ).rename({"has_b_all": "has_b"})
        parts = parts.sort(ID, "part_start").with_columns(
            pl.col("part_days").sum().over(ID).alias("acct_days"),
            (pl.col("ytd_wh") + pl.col("b_total").cum_sum().over(ID) - pl.col("b_total")).alias("offset_wh"),
        )
        return parts

    # ------------------------------------------------------------------------------------ pricing

    def _price_version(self, sched: Schedule, pv: pl.DataFrame, rv: pl.DataFrame, pf: pl.DataFrame) -> None:
        base_lines_start = len(self.lines)
        pf_comp = None
        for idx, comp in enumerate(sched.components):
            seq = 100 + idx * 20
            if isinstance(comp, EnergyComponent):
                self._energy(sched, comp, rv, seq)
            elif isinstance(comp, BasicComponent):
                self._basic(sched, comp, pv, seq)
            elif isinstance(comp, FundsComponent):
                self._funds(sched, comp, rv, seq)
            elif isinstance(comp, PowerFactorComponent):
                pf_comp = (comp, seq)
        if pf_comp is not None:
            comp, seq = pf_comp
            kinds = {i for i, k in enumerate(self.kinds) if k["component"] in comp.applies_to and k["tariff"] == sched.code
                     and k["version"] == sched.version}
            mine = [ls.frame for ls in self.lines[base_lines_start:] if ls.kind in kinds and "pfe" in ls.frame.columns]
            if mine:
                base = (
                    pl.concat([f.filter(pl.col("pfe")).select("_a", "amount_fen") for f in mine])
                    .group_by("_a")
                    .agg(pl.col("amount_fen").sum().alias("x_base"))
                )
            else:
                base = pl.DataFrame(schema={"_a": pl.UInt32, "x_base": pl.Int64})
            self._power_factor(sched, comp, rv, pf, base, seq)

    def _energy(self, sched: Schedule, comp: EnergyComponent, rv: pl.DataFrame, seq: int) -> None:
        mode = sched.rounding["line_amount"].mode
        qb = B_B if comp.includes_losses else B_M
        total = "b_total" if comp.includes_losses else "m_total"
        rv = rv.filter(~pl.col("category").is_in(list(comp.exempt_categories)).fill_null(False)) if comp.exempt_categories else rv
        exempt = pl.col("exemptions").list.contains(comp.id).fill_null(False)
        if rv.select(exempt.any()).item():
            rv = rv.filter(~exempt)
        if rv.height == 0:
            return
        max_qty = int(rv.select(pl.max_horizontal(pl.col(total).max(), pl.lit(0))).item() or 0)
        label_zh, label_en = comp.label_zh, comp.label_en
        opts = comp.tier_options
        combined = None
        if comp.tiers and opts.combined_meter_mode == "flat_price" and opts.combined_meter_price is not None:
            combined = pl.col("combined_meter").fill_null(False)
            cm_rows = rv.filter(combined)
            if cm_rows.height:
                p = price_e8(opts.combined_meter_price)
                ptxt = fmt_decimal(opts.combined_meter_price)
                self.emit(
                    cm_rows, sched=sched, component=comp.id, line_code=f"{comp.id}.combined", seq=seq, qty=pl.col(total),
                    unit="kWh", price=p, amount=amount_fen(pl.col(total), p, mode, max_qty=max_qty, nonnegative=True),
                    rule=comp.rule,
                    text=(f"{label_zh}（合表）", f" kWh × {ptxt} 元/kWh", f"{label_en} (combined meter) ", f" kWh × {ptxt} yuan/kWh"),
                )
                rv = rv.filter(~combined)
        if comp.tou_prices is not None:
            self.reject(
                rv,
                ~pl.col("has_b") & (pl.col("m_total") > 0),
                "usage",
                pl.format("tariff {} is time-of-use: give TOU registers (sharp/peak/flat/valley) or intervals", pl.lit(sched.code)),
            )
            unpriced = [b for b in BUCKETS if b not in comp.tou_prices]
            if unpriced:
                # usage in a bucket the tariff does not price would silently go unbilled
                self.reject(
                    rv,
                    pl.any_horizontal([pl.col(f"m_{b}") > 0 for b in unpriced]),
                    "usage",
                    f"tariff {sched.code} has no price for " + "/".join(unpriced) + " usage",
                )
            for i, b in enumerate(BUCKETS):
                if b not in comp.tou_prices:
                    continue
                price = comp.tou_prices[b]
                p = price_e8(price)
                ptxt = fmt_decimal(price)
                bzh, ben = BUCKET_ZH[b], BUCKET_EN[b]
                self.emit(
                    rv, sched=sched, component=comp.id, line_code=f"{comp.id}.{b}", seq=seq + i, qty=pl.col(qb[i]), unit="kWh",
                    price=p, amount=amount_fen(pl.col(qb[i]), p, mode, max_qty=max_qty, nonnegative=True), rule=comp.rule,
                    text=(f"{label_zh}（{bzh}）", f" kWh × {ptxt} 元/kWh", f"{label_en} ({ben}) ", f" kWh × {ptxt} yuan/kWh"),
                )
        if comp.tiers:
            self._tiers(sched, comp, rv, seq + 6, total, max_qty, mode)
        elif comp.tou_prices is None and comp.price is not None:
            p = price_e8(comp.price)
            ptxt = fmt_decimal(comp.price)
            self.emit(
                rv, sched=sched, component=comp.id, line_code=comp.id, seq=seq, qty=pl.col(total), unit="kWh", price=p,
                amount=amount_fen(pl.col(total), p, mode, max_qty=max_qty, nonnegative=True), rule=comp.rule,
                text=(f"{label_zh} ", f" kWh × {ptxt} 元/kWh", f"{label_en} ", f" kWh × {ptxt} yuan/kWh"),
            )

    def _thresholds(self, sched: Schedule, comp: EnergyComponent) -> list[pl.Expr]:
        """Tier upper bounds (Wh) per part: seasonal base + household allowance, × households,
        prorated by days for monthly cycles when a part is shorter than the account's days."""
        opts = comp.tier_options
        n = len(comp.tiers) - 1
        month = pl.col("part_start").dt.month() if opts.season_month == "period_start" else (pl.col("part_end") - timedelta(days=1)).dt.month()
        step = sched.rounding["threshold"]
        unit = int((step.places or Decimal("0.001")) * 1000)
        out = []
        prev = None
        for j in range(n):
            default = comp.tiers[j].upto_kwh
            expr: pl.Expr = pl.lit(int((default or Decimal(0)) * 1000), dtype=pl.Int64)
            for season in opts.seasons:
                expr = pl.when(month.is_in(list(season.months))).then(pl.lit(int(season.upto_kwh[j] * 1000), dtype=pl.Int64)).otherwise(expr)
            a = opts.household_allowance
            if a is not None:
                extra = int(a.extra_kwh[j] * 1000) if a.extra_kwh else 0
                per = int(a.per_extra_member_kwh[j] * 1000) if a.per_extra_member_kwh else 0
                members = pl.col("household_members").fill_null(0)
                expr = expr + pl.when(members >= a.min_members).then(
                    extra + (members - a.min_members).cast(pl.Int64) * per
                ).otherwise(0)
            expr = expr * pl.col("households").cast(pl.Int64)
            if opts.cycle == "monthly":
                if opts.prorate_partial_period:
                    num, den = pl.col("part_days").cast(pl.Int64), pl.lit(self.period_days, dtype=pl.Int64)
                else:
                    num, den = pl.col("part_days").cast(pl.Int64), pl.col("acct_days").cast(pl.Int64)
                scaled = round_div(expr.cast(pl.Int128) * num, (den * unit).cast(pl.Int128), step.mode) * unit
                expr = pl.when(num == den).then(expr).otherwise(scaled)
            if prev is not None:
                expr = pl.max_horizontal(expr, prev)
            out.append(expr)
            prev = expr
        return out

    def _tiers(self, sched: Schedule, comp: EnergyComponent, rv: pl.DataFrame, seq: int, total: str, max_qty: int,
               mode: str) -> None:
        bounds = self._thresholds(sched, comp)
        annual = comp.tier_options.cycle == "annual"
        off = pl.col("offset_wh") if annual else pl.lit(0, dtype=pl.Int64)
        q = pl.col(total)
        rv = rv.with_columns(*[b.alias(f"x_hi{j}") for j, b in enumerate(bounds)])
        qty_exprs = []
        for i in range(len(comp.tiers)):
            lo = pl.col(f"x_hi{i - 1}") if i > 0 else pl.lit(0, dtype=pl.Int64)
            hi = pl.col(f"x_hi{i}") if i < len(bounds) else None
            if hi is None:
                qty = pl.max_horizontal(off + q, lo) - pl.max_horizontal(off, lo)
            else:
                qty = (off + q).clip(lo, hi) - off.clip(lo, hi)
            qty_exprs.append(qty.alias(f"x_t{i}"))
        rv = rv.with_columns(qty_exprs)
        pre_zh = "年累计" if annual else ""
        pre_en = "annual " if annual else ""
        n = len(comp.tiers)
        for i, tier in enumerate(comp.tiers):
            name_zh = _tier_name_zh(i + 1)
            if tier.price is not None:
                price, code, zh_kind, en_kind = tier.price, f"{comp.id}.tier{i + 1}", name_zh, f"Tier {i + 1}"
            elif tier.adder:
                price, code, zh_kind, en_kind = tier.adder, f"{comp.id}.tier{i + 1}_adder", name_zh + "加价", f"Tier {i + 1} surcharge"
            else:
                continue
            p = price_e8(price)
            ptxt = fmt_decimal(price)
            # bounds of the tier: (lo, hi) in Wh, lo = 0 for the first tier, no hi for the last
            keys = ([pl.col(f"x_hi{i - 1}")] if i > 0 else []) + ([pl.col(f"x_hi{i}")] if i < n - 1 else [])

            def texts(*bounds: int, i: int = i, zh_kind: str = zh_kind, en_kind: str = en_kind, ptxt: str = ptxt
                      ) -> tuple[str, str, str, str]:
                lo = _milli_text(bounds[0]) if i > 0 else "0"
                if i < n - 1:
                    hi = _milli_text(bounds[-1])
                    bz, be = f"（{pre_zh}{lo}–{hi} kWh）", f" ({pre_en}{lo}–{hi} kWh)"
                else:
                    bz, be = f"（{pre_zh}{lo} kWh 以上）", f" ({pre_en}over {lo} kWh)"
                return f"{zh_kind}{bz}", f" kWh × {ptxt} 元/kWh", f"{en_kind}{be} ", f" kWh × {ptxt} yuan/kWh"

            bound_zh = self._bound_text(i, n, annual)
            self.emit(
                rv, sched=sched, component=comp.id, line_code=code, seq=seq + i, qty=pl.col(f"x_t{i}"), unit="kWh", price=p,
                amount=amount_fen(pl.col(f"x_t{i}"), p, mode, max_qty=max_qty, nonnegative=True), rule=comp.rule,
                variants=(keys, texts),
                zh=lambda zh_kind=zh_kind, ptxt=ptxt, bound_zh=bound_zh: pl.format(
                    "{}{}{} kWh × " + ptxt + " 元/kWh", pl.lit(zh_kind), bound_zh[0], pl.col("x_qs")),
                en=lambda en_kind=en_kind, ptxt=ptxt, bound_zh=bound_zh: pl.format(
                    "{}{} {} kWh × " + ptxt + " yuan/kWh", pl.lit(en_kind), bound_zh[1], pl.col("x_qs")),
            )

    @staticmethod
    def _bound_text(i: int, n: int, annual: bool) -> tuple[pl.Expr, pl.Expr]:
        """'（0–200 kWh）' bounds for the per-row fallback explanation; annual tiers say 年累计."""
        pre_zh = "年累计" if annual else ""
        pre_en = "annual " if annual else ""
        lo = fmt_milli(pl.col(f"x_hi{i - 1}")) if i > 0 else pl.lit("0")
        if i < n - 1:
            hi = fmt_milli(pl.col(f"x_hi{i}"))
            return (
                pl.format("（" + pre_zh + "{}–{} kWh）", lo, hi),
                pl.format(" (" + pre_en + "{}–{} kWh)", lo, hi),
            )
        return pl.format("（" + pre_zh + "{} kWh 以上）", lo), pl.format(" (" + pre_en + "over {} kWh)", lo)

    def _basic(self, sched: Schedule, comp: BasicComponent, pv: pl.DataFrame, seq: int) -> None:
        mode = sched.rounding["line_amount"].mode
        dmode = sched.rounding["billable_demand"].mode
        exempt = pl.col("exemptions").list.contains(comp.id).fill_null(False)
        pv = pv.filter(~exempt)
        if pv.height == 0:
            return
        basis = pl.coalesce(pl.col("basic_basis"), pl.lit(comp.default_basis))
        num, den = self._factor(comp.proration)
        pv = pv.with_columns(basis.alias("x_basis"), num.alias("x_fn"), den.alias("x_fd"))
        factor_zh = pl.when(pl.col("x_fn") == pl.col("x_fd")).then(pl.lit("")).otherwise(
            pl.format(" × {}/{} 天", pl.col("x_fn"), pl.col("x_fd")))
        factor_en = pl.when(pl.col("x_fn") == pl.col("x_fd")).then(pl.lit("")).otherwise(
            pl.format(" × {}/{} days", pl.col("x_fn"), pl.col("x_fd")))
        cap_rows = pv.filter(pl.col("x_basis") == "capacity")
        if cap_rows.height:
            if comp.capacity_price is None:
                self.reject(cap_rows, None, "accounts.basic_basis", f"tariff {sched.code} has no capacity price")
            else:
                susp_days = pl.coalesce(pl.col("suspension_days"), pl.col("seg_days"))
                suspended = pl.when(susp_days >= comp.suspension_min_days).then(pl.col("suspended_va")).otherwise(0)
                cap_rows = cap_rows.with_columns(
                    (pl.col("capacity_va") - suspended).clip(0).alias("x_q"), suspended.alias("x_susp")
                )
                p = price_e8(comp.capacity_price)
                ptxt = fmt_decimal(comp.capacity_price)
                max_q = int(cap_rows["x_q"].max() or 0)
                self.emit(
                    cap_rows, sched=sched, component=comp.id, line_code=f"{comp.id}.capacity", seq=seq,
                    start="piece_start", end="piece_end", qty=pl.col("x_q"), unit="kVA·月", price=p,
                    amount=amount_fen(pl.col("x_q"), p, mode, max_qty=max_q, nonnegative=True, num=pl.col("x_fn"),
                                      den=pl.col("x_fd"), max_num=31),
                    rule=comp.rule,
                    zh=lambda: pl.format("{}（容量）{} kVA × " + ptxt + " 元/kVA·月{}{}", pl.lit(comp.label_zh),
                                         pl.col("x_qs"), factor_zh,
                                         pl.when(pl.col("x_susp") > 0).then(pl.format("（暂停 {} kVA 不计）", fmt_milli(pl.col("x_susp")))).otherwise(pl.lit(""))),
                    en=lambda: pl.format("{} (capacity) {} kVA × " + ptxt + " yuan/kVA·month{}{}", pl.lit(comp.label_en),
                                         pl.col("x_qs"), factor_en,
                                         pl.when(pl.col("x_susp") > 0).then(pl.format(" ({} kVA suspended, not charged)", fmt_milli(pl.col("x_susp")))).otherwise(pl.lit(""))),
                )
        dem_rows = pv.filter(pl.col("x_basis") == "demand")
        if dem_rows.height:
            if comp.demand_price is None:
                self.reject(dem_rows, None, "accounts.basic_basis", f"tariff {sched.code} has no demand price")
                return
            rule = comp.demand
            floor_num = int((rule.floor_ratio or Decimal(0)) * 10000)
            floor = round_div(pl.col("capacity_va").fill_null(0) * floor_num, 10000, dmode, nonnegative=True)
            self.reject(dem_rows, pl.col("dmax").is_null(), "usage.max_demand_w",
                        "max_demand_w is required for a demand-based basic charge")
            if rule.basis == "contract":
                self.reject(dem_rows, pl.col("contract_demand_w").is_null(), "accounts.contract_demand_w",
                            "contract_demand_w is required for a contract-demand basic charge")
                c = pl.max_horizontal(pl.col("contract_demand_w"), floor)
                d = pl.col("dmax").fill_null(0)
                r = rule.threshold_ratio
                m = rule.excess_multiplier
                # exact rationals: r = rn/rd, m = mn/md; work in units of 1/(rd·md) W
                rn, rd = r.as_integer_ratio()
                mn, md = m.as_integer_ratio()
                big = pl.Int128
                C, D = c.cast(big), d.cast(big)
                over = D * rd > C * rn
                if rule.over_formula == "threshold_plus_double_excess":
                    num_b = C * rn * md + (D * rd - C * rn) * mn
                elif rule.over_formula == "contract_plus_double_excess":
                    num_b = C * rd * md + (D * rd - C * rn) * mn
                else:
                    num_b = C * rd * md + (D - C) * rd * mn
                billable = pl.when(over).then(round_div(num_b, rd * md, dmode)).otherwise(c)
                dem_rows = dem_rows.with_columns(billable.alias("x_q"), c.alias("x_c"), d.alias("x_d"))
                pct = fmt_decimal(((r - 1) * 100).normalize())
                detail_zh = pl.when(pl.col("x_d") * rd > pl.col("x_c") * rn).then(
                    pl.format("（合同 {} kW，实际 {} kW，超过 " + fmt_decimal((r * 100).normalize()) + "% 部分加" + ("倍" if m == 2 else f"{fmt_decimal(m)}倍") + "）",
                              fmt_milli(pl.col("x_c")), fmt_milli(pl.col("x_d")))
                ).otherwise(pl.format("（合同 {} kW，实际 {} kW）", fmt_milli(pl.col("x_c")), fmt_milli(pl.col("x_d"))))
                detail_en = pl.when(pl.col("x_d") * rd > pl.col("x_c") * rn).then(
                    pl.format(" (contract {} kW, actual {} kW; excess over " + fmt_decimal((r * 100).normalize()) + "% charged ×" + fmt_decimal(m) + ")",
                              fmt_milli(pl.col("x_c")), fmt_milli(pl.col("x_d")))
                ).otherwise(pl.format(" (contract {} kW, actual {} kW)", fmt_milli(pl.col("x_c")), fmt_milli(pl.col("x_d"))))
                del pct
            else:
                dem_rows = dem_rows.with_columns(pl.max_horizontal(pl.col("dmax"), floor).alias("x_q"), pl.col("dmax").alias("x_d"))
                detail_zh = pl.format("（实际最大需量 {} kW）", fmt_milli(pl.col("x_d")))
                detail_en = pl.format(" (actual maximum demand {} kW)", fmt_milli(pl.col("x_d")))
            p = price_e8(comp.demand_price)
            ptxt = fmt_decimal(comp.demand_price)
            max_q = int(dem_rows["x_q"].max() or 0)
            self.emit(
                dem_rows, sched=sched, component=comp.id, line_code=f"{comp.id}.demand", seq=seq + 1,
                start="piece_start", end="piece_end", qty=pl.col("x_q"), unit="kW·月", price=p,
                amount=amount_fen(pl.col("x_q"), p, mode, max_qty=max_q, nonnegative=True, num=pl.col("x_fn"),
                                  den=pl.col("x_fd"), max_num=31),
                rule=comp.rule,
                zh=lambda: pl.format("{}（需量）{} kW × " + ptxt + " 元/kW·月{}{}", pl.lit(comp.label_zh), pl.col("x_qs"),
                                     factor_zh, detail_zh),
                en=lambda: pl.format("{} (demand) {} kW × " + ptxt + " yuan/kW·month{}{}", pl.lit(comp.label_en),
                                     pl.col("x_qs"), factor_en, detail_en),
            )

    def _funds(self, sched: Schedule, comp: FundsComponent, rv: pl.DataFrame, seq: int) -> None:
        mode = sched.rounding["line_amount"].mode
        exempt_all = pl.col("exemptions").list.contains(comp.id).fill_null(False)
        rv = rv.filter(~exempt_all)
        if rv.height == 0:
            return
        max_qty = int(rv["b_total"].max() or 0)
        for i, item in enumerate(comp.items):
            rate_expr: pl.Expr = pl.lit(price_e8(item.rate), dtype=pl.Int64)
            for cat, value in item.category_rates.items():
                rate_expr = pl.when(pl.col("category") == cat).then(pl.lit(price_e8(value), dtype=pl.Int64)).otherwise(rate_expr)
            exempt = pl.col("exemptions").list.contains(f"{comp.id}.{item.code}").fill_null(False)
            if item.exempt_categories:
                exempt = exempt | pl.col("category").is_in(list(item.exempt_categories)).fill_null(False)
            rows = rv.filter(~exempt).with_columns(rate_expr.alias("x_rate"))
            max_rate = max([price_e8(item.rate), *[price_e8(v) for v in item.category_rates.values()]])
            zh_label, en_label = item.label_zh, item.label_en
            rate_txt = milli_free_price_text()

            def texts(rate: int, zh_label: str = zh_label, en_label: str = en_label) -> tuple[str, str, str, str]:
                return f"{zh_label} ", f" kWh × {_price_text(rate)} 元/kWh", f"{en_label} ", f" kWh × {_price_text(rate)} yuan/kWh"

            self.emit(
                rows, sched=sched, component=comp.id, line_code=f"{comp.id}.{item.code}", seq=seq + i, qty=pl.col("b_total"),
                unit="kWh", price=pl.col("x_rate"),
                amount=amount_fen(pl.col("b_total"), pl.col("x_rate"), mode, max_qty=max_qty, max_price=max_rate, nonnegative=True),
                rule=item.rule or comp.rule,
                text=None if item.category_rates else texts(price_e8(item.rate)),
                variants=([pl.col("price")], texts) if item.category_rates else None,
                zh=lambda zh_label=zh_label, rate_txt=rate_txt: pl.format("{} {} kWh × {} 元/kWh", pl.lit(zh_label), pl.col("x_qs"), rate_txt),
                en=lambda en_label=en_label, rate_txt=rate_txt: pl.format("{} {} kWh × {} yuan/kWh", pl.lit(en_label), pl.col("x_qs"), rate_txt),
            )

    def _power_factor(self, sched: Schedule, comp: PowerFactorComponent, rv: pl.DataFrame, pf: pl.DataFrame,
                      base: pl.DataFrame, seq: int) -> None:
        """One adjustment line per PF-eligible part: (its basic + energy lines) × table rate."""
        mode = sched.rounding["pf_amount"].mode
        parts = rv.filter(pl.col("pf_eligible"))
        if parts.height == 0 or pf.height == 0:
            return
        rows = (
            parts.select("_a", "part_start", "part_end", "pf_eligible")
            .join(base, on="_a", how="left")
            .join(pf, on="_a", how="inner")
            .filter(pl.col("cos_k").is_not_null())
            .with_columns(pl.col("x_base").fill_null(0))
        )
        if rows.height == 0:
            return
        cos_txt = pl.when(pl.col("cos_k") == 100).then(pl.lit("1.00")).otherwise(
            pl.lit("0.") + pl.col("cos_k").cast(pl.String).str.zfill(2))
        rows = rows.with_columns(cos_txt.alias("x_cos"), pl.col("pct_text").alias("x_pct"), pl.col("pf_std").alias("x_std"))
        max_base = int(rows["x_base"].abs().max() or 0)
        self.emit(
            rows, sched=sched, component=comp.id, line_code=f"{comp.id}.adjustment", seq=seq,
            qty=pl.col("x_base") * 10, unit="元", price=pl.col("rate_e8"),
            amount=amount_fen(pl.col("x_base") * 10, pl.col("rate_e8"), mode, max_qty=max_base * 10, max_price=2 * PRICE_UNIT),
            rule=comp.rule, keep_zero=False,
            zh=lambda: pl.format("{}：功率因数 {}（标准 {}），调整 {}%：{} 元 × {}%", pl.lit(comp.label_zh), pl.col("x_cos"), pl.col("x_std"),
                                 pl.col("x_pct"), fmt_fen(pl.col("qty") // 10), pl.col("x_pct")),
            en=lambda: pl.format("{}: power factor {} (standard {}), adjustment {}%: {} yuan × {}%", pl.lit(comp.label_en), pl.col("x_cos"),
                                 pl.col("x_std"), pl.col("x_pct"), fmt_fen(pl.col("qty") // 10), pl.col("x_pct")),
        )

    # ----------------------------------------------------------------------------------- assemble

    def _explanations(self, placed: Mapping[str, Any]) -> list[pl.Series]:
        """Explanation texts of the ordered lines in one pass: template lines are prefix +
        quantity + suffix, gathered from small tables (prefix with the whole kWh, fraction with
        the suffix, when those tables stay small); the rest take their per-row text."""

        qty = placed["qty"]
        tpl = placed["tpl"]
        if qty.shape[0] == 0:
            return [pl.Series(name, [], dtype=pl.String) for name in ("explanation_zh", "explanation_en")]
        by_code = sorted(self.templates.items(), key=lambda kv: kv[1])
        columns = list(zip(*[t for t, _ in by_code], strict=True)) if by_code else [(), (), (), ()]
        pre_zh, suf_zh, pre_en, suf_en = (pl.Series(list(c), dtype=pl.String) for c in columns)
        n_tpl = len(by_code)
        frame = pl.DataFrame([pl.Series("qty", qty), pl.Series("tpl", tpl)]
                             + ([pl.Series("fidx", placed["fidx"])] if "fidx" in placed else []))
        mask = tpl >= 0
        templated = qty if mask.all() else qty[mask]
        lo = int(templated.min()) if templated.size else 0
        hi = int(templated.max()) if templated.size else 0
        t = pl.col("tpl").clip(0)
        q = pl.col("qty")
        exprs = []
        if lo >= 0 and hi // 1000 < _WHOLE_LIMIT:
            whole = _whole_table(hi // 1000 + 1).head(hi // 1000 + 1)
            qc = q.clip(0, whole.len() * 1000 - 1)  # per-row lines may have other quantities; their template is unused
            w, f = qc // 1000, qc % 1000
            if n_tpl * whole.len() <= _PAIR_LIMIT and n_tpl * 1000 <= _PAIR_LIMIT:
                # two gathers and one concatenation per line: (prefix, whole kWh) and (fraction, suffix)
                for pre, suf in ((pre_zh, suf_zh), (pre_en, suf_en)):
                    head, tail = _cross(pre, whole), _cross(MILLI_FRACTIONS, suf)
                    exprs.append(pl.concat_str([pl.lit(head).gather(t * whole.len() + w), pl.lit(tail).gather(f * n_tpl + t)]))
            else:
                for pre, suf in ((pre_zh, suf_zh), (pre_en, suf_en)):
                    exprs.append(pl.concat_str([pl.lit(pre).gather(t), pl.lit(whole).gather(w), pl.lit(MILLI_FRACTIONS).gather(f),
                                                pl.lit(suf).gather(t)]))
        else:
            for pre, suf in ((pre_zh, suf_zh), (pre_en, suf_en)):
                exprs.append(pl.concat_str([pl.lit(pre).gather(t), fmt_milli(q), pl.lit(suf).gather(t)]))
        out = []
        for expr, full, name in ((exprs[0], self.full_zh, "explanation_zh"), (exprs[1], self.full_en, "explanation_en")):
            if full:
                per_row = pl.lit(pl.concat(full, rechunk=True)).gather(pl.col("fidx").clip(0))
                expr = per_row if n_tpl == 0 else pl.when(pl.col("tpl") >= 0).then(expr).otherwise(per_row)
            elif n_tpl == 0:
                expr = pl.lit(None, dtype=pl.String)
            out.append(expr.alias(name))
        return frame.lazy().select(out).collect().get_columns()

    def _assemble(self, parts: pl.DataFrame, pf: pl.DataFrame) -> RatingResult:
        """Order the lines (account order of the input, then date, then the component order of the
        tariff file), number them, attach the constant columns of their kind and the explanations.

        When no account is split (one part per account, each kind at most one line per account),
        the order is computed without sorting (:func:`_place`)."""
        import numpy as np

        ids = self.accounts[ID]
        rejected = (
            pl.concat(self.rejects).unique(maintain_order=True)
            if self.rejects
            else pl.DataFrame(schema={ID: self.id_dtype, "field": pl.String, "reason": pl.String})
        )
        sets, self.lines = self.lines, []
        if rejected.height:
            bad = self.accounts.join(rejected.select(ID).unique(), on=ID, how="semi")["_a"].implode()
            for ls in sets:
                ls.frame = ls.frame.filter(~pl.col("_a").is_in(bad))
            parts = parts.filter(~pl.col("_a").is_in(bad))
        sets = [ls for ls in sets if ls.frame.height]
        kinds = pl.DataFrame(
            self.kinds or None,
            schema={"seq": pl.Int64, "tariff": pl.String, "version": pl.String, "component": pl.String,
                    "line_code": pl.String, "unit": pl.String, "rule": pl.String},
        )
        n_acc = self.accounts.height
        counts = np.zeros(n_acc, dtype=np.int64)
        if self.fixed_dates:
            sets.sort(key=lambda ls: self.kinds[ls.kind]["seq"])
            placed = _place(sets, counts, self.explain, _days(self.ps), _days(self.pe),
                            ids.to_numpy() if self.id_dtype == pl.Int64 else None)
        else:
            placed = self._sorted(sets, counts, kinds)
        del sets
        kind = pl.Series("kind", placed["kind"])
        explanations = (
            self._explanations(placed)
            if self.explain
            else [pl.repeat(None, kind.len(), dtype=pl.String, eager=True).alias("explanation_zh"),
                  pl.repeat(None, kind.len(), dtype=pl.String, eager=True).alias("explanation_en")]
        )
        if "account_id" in placed:
            account = pl.Series(ID, placed["account_id"])
        elif self.id_dtype == pl.Int64:
            account = pl.Series(ID, ids.to_numpy()[placed["_a"]])
        else:
            account = ids.gather(pl.Series(placed["_a"])).alias(ID)
        kinds = kinds.with_columns(pl.exclude("seq").cast(pl.Categorical))
        final = pl.DataFrame([
            account,
            pl.Series("line_no", placed["line_no"]),
            kinds["tariff"].gather(kind),
            kinds["version"].gather(kind),
            pl.Series("start_date", placed["start_date"]).cast(pl.Date),
            pl.Series("end_date", placed["end_date"]).cast(pl.Date),
            kinds["component"].gather(kind),
            kinds["line_code"].gather(kind),
            _decimal_array(placed["qty"], 3).alias("quantity"),
            kinds["unit"].gather(kind),
            _decimal_array(placed["price"], 8).alias("unit_price"),
            pl.Series("amount_fen", placed["amount_fen"]),
            kinds["rule"].gather(kind),
            *explanations,
        ]).select(list(LINES_SCHEMA))
        # per-account sums over the now contiguous lines: exact Int64, no float
        amounts = placed["amount_fen"]
        del placed
        has = np.nonzero(counts)[0]
        starts = (np.cumsum(counts) - counts)[has]
        # totals by account position (scatter into arrays indexed by _a instead of joining)
        part_a = parts["_a"].to_numpy().astype(np.int64)
        billed = np.zeros(n_acc, dtype=np.int64)
        np.add.at(billed, part_a, parts["b_total"].to_numpy().astype(np.int64))
        amount = np.zeros(n_acc, dtype=np.int64)
        if has.size:
            amount[has] = np.add.reduceat(amounts, starts)
        present = np.zeros(n_acc, dtype=bool)
        present[part_a] = True
        rated = np.nonzero(present)[0]
        pf_a = pf["_a"].to_numpy().astype(np.int64)
        cos_k = pl.repeat(None, n_acc, dtype=pl.Int64, eager=True).scatter(pf_a, pf["cos_k"]) if pf.height else None
        rate_e8 = pl.repeat(None, n_acc, dtype=pl.Int64, eager=True).scatter(pf_a, pf["rate_e8"]) if pf.height else None
        pick = pl.Series(rated, dtype=pl.Int64)
        totals = pl.DataFrame([
            ids.gather(pick).alias(ID),
            pl.Series("amount_fen", amount[rated], dtype=pl.Int64),
            pl.Series("billed_wh", billed[rated], dtype=pl.Int64),
            pl.Series("line_count", counts[rated], dtype=pl.UInt32),
            _decimal_series(cos_k.gather(pick) if cos_k is not None else pl.repeat(None, rated.size, dtype=pl.Int64, eager=True), 2)
            .alias("cos_phi"),
            _decimal_series(rate_e8.gather(pick) if rate_e8 is not None else pl.repeat(None, rated.size, dtype=pl.Int64, eager=True), 8)
            .alias("pf_rate"),
        ])
        return RatingResult(lines=final, totals=totals, rejected=rejected)

    def _sorted(self, sets: list[_LineSet], counts: Any, kinds: pl.DataFrame) -> dict[str, Any]:
        """Lines of a run with split accounts, ordered by a sort on (account, start day, kind)."""
        import numpy as np

        cols = ["_a", "kind", "start_date", "end_date", "qty", "price", "amount_fen"] + (["tpl", "fidx"] if self.explain else [])
        frames = []
        for ls in sets:
            f = ls.frame
            frames.append(f.select(
                pl.col("_a"),
                pl.lit(ls.kind, dtype=pl.UInt32).alias("kind"),
                pl.col("start_date"),
                pl.col("end_date"),
                pl.col("qty"),
                pl.col("price") if ls.price is None else pl.lit(ls.price, dtype=pl.Int64).alias("price"),
                pl.col("amount_fen"),
                *([pl.col("tpl") if "tpl" in f.columns else pl.lit(-1 if ls.tpl is None else ls.tpl, dtype=pl.Int32).alias("tpl"),
                   pl.col("fidx") if "fidx" in f.columns else pl.lit(-1, dtype=pl.Int64).alias("fidx")] if self.explain else []),
            ))
        lines = (pl.concat(frames, how="vertical", rechunk=True) if frames
                 else pl.DataFrame(schema={c: (pl.Int32 if c == "tpl" else _LINE_DTYPES[c]) for c in cols}))
        seqs = kinds["seq"].cast(pl.Int64)
        day = (pl.col("start_date") - pl.lit(self.ps)).dt.total_days().cast(pl.Int64)
        order_key = (pl.col("_a").cast(pl.Int64) * (1 << 22)) + day * (1 << 12) + pl.lit(seqs).gather(pl.col("kind"))
        lines = lines.with_columns(order_key.alias("_k")).sort("_k").drop("_k")
        idx = pl.int_range(pl.len(), dtype=pl.Int64)
        new = (pl.col("_a") != pl.col("_a").shift(1)).fill_null(True)
        lines = lines.with_columns(
            (idx - pl.when(new).then(idx).otherwise(None).forward_fill() + 1).cast(pl.Int32).alias("line_no"))
        placed = {c: lines[c].to_physical().to_numpy() for c in [*cols, "line_no"]}
        np.add.at(counts, placed["_a"].astype(np.int64), 1)
        return placed


def _days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _cross(left: pl.Series, right: pl.Series) -> pl.Series:
    """Every left text followed by every right text, left-major: entry i × len(right) + j."""
    return pl.DataFrame({"l": left}).join(pl.DataFrame({"r": right}), how="cross").select(
        pl.concat_str("l", "r"))["l"]


def _place(sets: list[_LineSet], counts: Any, explain: bool, start_day: int, end_day: int, ids: Any) -> dict[str, Any]:
    """Lines of unsplit accounts in their final order without a sort: kinds come in tariff order
    and an account appears at most once per kind, so a line's number is its account's running
    count and its row is the account's offset plus that number. Lines are account-major, so the
    account and line-number columns are runs (``np.repeat``), not scatters; what a kind shares
    (price, template) is one gather from a per-kind table; only what varies per line (kind,
    quantity, amount, and a varying price or template) is scattered, one increasing scatter per
    kind. Int64 account ids (``ids``, a numpy array) go straight into the output column.
    ``tpl``/``fidx`` come out with -1 for "none"."""
    import numpy as np

    where = []
    for ls in sets:
        a = ls.frame["_a"].to_numpy()
        number = counts[a] + 1
        counts[a] = number
        where.append((a, number))
    offsets = np.cumsum(counts) - counts
    total = int(counts.sum())
    n_kinds = max((ls.kind for ls in sets), default=-1) + 1
    price_of = np.zeros(n_kinds, dtype=np.int64)
    tpl_of = np.full(n_kinds, -1, dtype=np.int32)
    for ls in sets:
        price_of[ls.kind] = ls.price if ls.price is not None else 0
        tpl_of[ls.kind] = ls.tpl if ls.tpl is not None else -1
    out = {
        "kind": np.empty(total, dtype=np.uint32),
        "qty": np.empty(total, dtype=np.int64),
        "amount_fen": np.empty(total, dtype=np.int64),
        "start_date": np.full(total, start_day, dtype=np.int32),
        "end_date": np.full(total, end_day, dtype=np.int32),
    }
    out["line_no"] = (np.arange(1, total + 1, dtype=np.int64) - np.repeat(offsets, counts)).astype(np.int32)
    if ids is None:
        out["_a"] = np.repeat(np.arange(counts.shape[0], dtype=np.uint32), counts)
    else:
        out["account_id"] = np.repeat(ids, counts)
    if explain and any("fidx" in ls.frame.columns for ls in sets):
        out["fidx"] = np.full(total, -1, dtype=np.int64)
    where.reverse()
    prices, tpls = [], []  # (rows, values) of kinds whose price / template varies per line
    while sets:  # each kind's frame is released once its lines are written
        ls = sets.pop(0)
        a, number = where.pop()
        f = ls.frame
        pos = offsets[a] + number - 1
        out["kind"][pos] = ls.kind
        out["qty"][pos] = f["qty"].to_numpy()
        out["amount_fen"][pos] = f["amount_fen"].to_numpy()
        if ls.price is None:
            prices.append((pos, f["price"].to_numpy()))
        if explain and ls.tpl is None and "tpl" in f.columns:
            tpls.append((pos, f["tpl"].to_numpy()))
        if explain and "fidx" in f.columns:
            out["fidx"][pos] = f["fidx"].to_numpy()
    # what a kind shares comes from one gather on the per-kind tables, then what varies is written
    out["price"] = price_of[out["kind"]]
    for pos, values in prices:
        out["price"][pos] = values
    if explain:
        out["tpl"] = tpl_of[out["kind"]]
        for pos, values in tpls:
            out["tpl"][pos] = values
    return out


def _aligned(left: pl.DataFrame, right: pl.DataFrame, *, segment: bool = True) -> bool:
    """True when ``right`` has exactly the rows of ``left`` in the same key order, so columns can be
    placed side by side instead of joined (the usual case: frames built from one query)."""
    if left.height != right.height:
        return False
    if not left[ID].equals(right[ID]):
        return False
    if segment and "segment" in right.columns:
        return bool(left["segment"].equals(right["segment"]))
    return True


def _decimal_array(values: Any, scale: int, validity: Any = None, null_count: int = 0) -> pl.Series:
    """Scaled integers (a 1-d Int64 numpy array) → Decimal(38, scale), reinterpreted as Arrow
    decimal128: the unscaled integer *is* the value, so this is exact and avoids two passes of
    Decimal arithmetic. ``validity`` is an Arrow bitmap when some values are null."""
    import numpy as np
    import pyarrow as pa

    # The buffer comes from Arrow's memory pool, not numpy: Polars then takes it without a copy, and
    # the pool keeps its pages between runs instead of mapping fresh ones each time.
    buffer = pa.allocate_buffer(values.shape[0] * 16)
    wide = np.frombuffer(buffer, dtype=np.int64).reshape(values.shape[0], 2)
    wide[:, 0] = values
    wide[:, 1] = values >> 63  # sign extension to 128 bits (little-endian)
    array = pa.Array.from_buffers(pa.decimal128(38, scale), wide.shape[0], [validity, buffer], null_count=null_count)
    return pl.Series("", array)


def _decimal_series(values: pl.Series, scale: int) -> pl.Series:
    """Scaled Int64 series → Decimal(38, scale) (:func:`_decimal_array`); nulls stay null."""
    import pyarrow as pa

    nulls = values.null_count()
    if values.len() == 0 or nulls == values.len():
        return pl.repeat(None, values.len(), dtype=pl.Decimal(38, scale), eager=True).alias(values.name)
    validity = pa.array(values.is_not_null().to_numpy()).buffers()[1] if nulls else None
    low = values.fill_null(0).cast(pl.Int64).to_numpy()
    return _decimal_array(low, scale, validity, nulls).alias(values.name)


_LINE_DTYPES: Mapping[str, Any] = {
    "_a": pl.UInt32,
    "kind": pl.UInt32,
    "tariff": pl.String,
    "version": pl.String,
    "start_date": pl.Date,
    "end_date": pl.Date,
    "component": pl.String,
    "line_code": pl.String,
    "qty": pl.Int64,
    "unit": pl.String,
    "price": pl.Int64,
    "amount_fen": pl.Int64,
    "rule": pl.String,
    "explanation_zh": pl.String,
    "explanation_en": pl.String,
    "tpl": pl.UInt32,
    "fidx": pl.Int64,
}


def _price_text(e8: int) -> str:
    """Python twin of milli_free_price_text for one price."""
    a = abs(e8)
    frac = f"{a % PRICE_UNIT:08d}".rstrip("0")
    return f"{a // PRICE_UNIT}" + (f".{frac}" if frac else "")


_WHOLE_LIMIT = 1 << 20
_VARIANT_LIMIT = 4096  # distinct template keys of one line kind; more → per-row explanations
_PAIR_LIMIT = 1 << 16  # entries of a (prefix, whole kWh) or (fraction, suffix) table
_WHOLE: list[pl.Series] = []


def _whole_table(size: int) -> pl.Series:
    """'0', '1', … as a string series of at least ``size`` entries (kept and grown by doubling):
    gathering the whole part of a quantity from it is much cheaper than formatting integers."""
    if not _WHOLE or _WHOLE[0].len() < size:
        n = 1024
        while n < size:
            n *= 2
        _WHOLE[:] = [pl.int_range(0, n, dtype=pl.Int64, eager=True).cast(pl.String)]
    return _WHOLE[0]


def milli_free_price_text() -> pl.Expr:
    """A per-row price (10⁻⁸ yuan Int64 in column ``price``) as text without trailing zeros."""
    a = pl.col("price").abs()
    frac = (a % PRICE_UNIT).cast(pl.String).str.zfill(8).str.strip_chars_end("0")
    return (a // PRICE_UNIT).cast(pl.String) + pl.when(frac == "").then(pl.lit("")).otherwise(pl.lit(".") + frac)


__all__ = ["rate"]
