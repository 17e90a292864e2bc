"""Usage files for rating from files alone (``gridcare rate``, quotes): CSV or Parquet in everyday
units (kWh, kvarh, kW, kVA) → the kernel's frames in scaled integers.

Every bad row is reported with its line number (CSV: the header is line 1; Parquet: ``row N``,
1-based) and the column, and nothing is rated while any remains. Numbers are parsed from text,
never through float: at most 3 decimal places for energy, demand and capacity. The format is in
docs/rating.md ("Usage files").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from gridcare.rating.errors import UsageFileInvalid
from gridcare.rating.model import BUCKETS

MAX_PROBLEMS = 500

# column: (kernel frame, kernel column, kind). kind: milli (3-place decimal → ×1000), int, text,
# bool, date, list (semicolon-separated text).
USAGE_COLUMNS: dict[str, tuple[str, str, str]] = {
    "account_id": ("both", "account_id", "text"),
    "tariff": ("accounts", "tariff", "text"),
    "category": ("accounts", "category", "text"),
    "household_members": ("accounts", "household_members", "int"),
    "households": ("accounts", "households", "int"),
    "combined_meter": ("accounts", "combined_meter", "bool"),
    "capacity_kva": ("accounts", "capacity_va", "milli"),
    "contract_demand_kw": ("accounts", "contract_demand_w", "milli"),
    "basic_basis": ("accounts", "basic_basis", "text"),
    "pf_standard": ("accounts", "pf_standard", "text"),
    "exemptions": ("accounts", "exemptions", "list"),
    "ytd_kwh": ("accounts", "ytd_wh", "milli"),
    "annual_cycle_start": ("accounts", "annual_cycle_start", "date"),
    "segment": ("usage", "segment", "int"),
    "multiplier": ("usage", "multiplier", "int"),
    "total_kwh": ("usage", "total_wh", "milli"),
    **{f"{b}_kwh": ("usage", f"{b}_wh", "milli") for b in BUCKETS},
    "reactive_kvarh": ("usage", "reactive_varh", "milli"),
    "reverse_reactive_kvarh": ("usage", "reverse_reactive_varh", "milli"),
    "max_demand_kw": ("usage", "max_demand_w", "milli"),
}

INTERVAL_COLUMNS: dict[str, tuple[str, str, str]] = {
    "account_id": ("intervals", "account_id", "text"),
    "date": ("intervals", "date", "date"),
    "point": ("intervals", "point", "int"),
    "kwh": ("intervals", "wh", "milli"),
    "kvarh": ("intervals", "varh", "milli"),
}

CHOICES = {"basic_basis": ("capacity", "demand"), "pf_standard": ("0.90", "0.85", "0.80", "none")}
REQUIRED = {"usage": ("account_id",), "intervals": ("account_id", "date", "point", "kwh")}
_TRUE = ("1", "true", "yes", "y", "是")
_FALSE = ("0", "false", "no", "n", "否")


@dataclass(frozen=True)
class UsageFile:
    accounts: pl.DataFrame  # ACCOUNTS_SCHEMA (account_id String)
    usage: pl.DataFrame  # USAGE_SCHEMA


def _read_text_frame(path: Path) -> tuple[pl.DataFrame, str]:
    """Every column as text, plus how rows are numbered ("line" for CSV, "row" for Parquet)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageFileInvalid(f"{path}: cannot read ({exc.strerror})", problems=[(0, "cannot read the file")],
                               field="file") from None
    if path.suffix.lower() == ".parquet":
        try:
            frame = pl.read_parquet(raw)
        except Exception as exc:  # polars/pyarrow raise several kinds for a file that is not Parquet
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageFileInvalid(f"{path}: not a readable Parquet file ({first})",
                                   problems=[(0, "not a readable Parquet file")], field="file") from None
        return frame.select(pl.all().cast(pl.String)), "row"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gbk")
        except UnicodeDecodeError:
            raise UsageFileInvalid(f"{path}: not UTF-8 or GBK text", problems=[(0, "not UTF-8 or GBK text")],
                                   field="file") from None
    if not text.strip():
        raise UsageFileInvalid(f"{path}: the file is empty", problems=[(1, "the file is empty")], field="file")
    try:
        frame = pl.read_csv(text.encode(), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).splitlines()[0]
        raise UsageFileInvalid(f"{path}: not a readable CSV file ({first})", problems=[(0, first)], field="file") from None
    return frame.select(pl.all().str.strip_chars()), "line"


def _parse(frame: pl.DataFrame, spec: dict[str, tuple[str, str, str]], what: str, path: Path, unit: str
           ) -> pl.DataFrame:
    """Validate and convert; raise with every bad (line, reason)."""
    problems: list[tuple[int, str]] = []
    unknown = [c for c in frame.columns if c not in spec]
    if unknown:
        known = ", ".join(spec)
        raise UsageFileInvalid(f"{path}: unknown column {unknown[0]!r}; known columns: {known}",
                               problems=[(1, f"unknown column {unknown[0]!r}")], field=unknown[0])
    for column in REQUIRED[what]:
        if column not in frame.columns:
            raise UsageFileInvalid(f"{path}: column {column!r} is required", problems=[(1, f"column {column!r} is required")],
                                   field=column)
    first_line = 2 if unit == "line" else 1
    frame = frame.with_row_index("_line", offset=first_line)
    out = [pl.col("_line")]
    checks: list[tuple[str, pl.Expr, pl.Expr]] = []  # (column, bad condition, reason)
    for column in frame.columns:
        if column == "_line":
            continue
        _, target, kind = spec[column]
        v = pl.col(column)
        empty = v.is_null() | (v == "")
        if kind == "text":
            out.append(pl.when(empty).then(None).otherwise(v).alias(target))
            if column in CHOICES:
                checks.append((column, ~empty & ~v.is_in(list(CHOICES[column])),
                               pl.format("must be one of " + ", ".join(CHOICES[column]) + "; got '{}'", v)))
        elif kind == "milli":
            ok = v.str.contains(r"^\d+(\.\d{1,3})?$")
            checks.append((column, ~empty & ~ok,
                           pl.format("'{}' is not a non-negative number with at most 3 decimal places", v)))
            parts = v.str.split_exact(".", 1)
            milli = parts.struct.field("field_0").cast(pl.Int64, strict=False) * 1000 + parts.struct.field(
                "field_1").str.pad_end(3, "0").cast(pl.Int64, strict=False).fill_null(0)
            out.append(pl.when(empty | ~ok).then(None).otherwise(milli).alias(target))
        elif kind == "int":
            ok = v.str.contains(r"^\d{1,9}$")
            checks.append((column, ~empty & ~ok, pl.format("'{}' is not a whole number", v)))
            out.append(pl.when(empty | ~ok).then(None).otherwise(v.cast(pl.Int64, strict=False)).alias(target))
        elif kind == "bool":
            low = v.str.to_lowercase()
            checks.append((column, ~empty & ~low.is_in([*_TRUE, *_FALSE]), pl.format("'{}' is not true or false", v)))
            out.append(pl.when(empty).then(None).otherwise(low.is_in(list(_TRUE))).alias(target))
        elif kind == "date":
            parsed = v.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            checks.append((column, ~empty & parsed.is_null(), pl.format("'{}' is not a date YYYY-MM-DD", v)))
            out.append(parsed.alias(target))
        elif kind == "list":
            out.append(pl.when(empty).then(pl.lit([], dtype=pl.List(pl.String))).otherwise(
                v.str.split(";").list.eval(pl.element().str.strip_chars()).list.filter(pl.element() != "")).alias(target))
    for column in REQUIRED[what]:
        checks.append((column, pl.col(column).is_null() | (pl.col(column) == ""), pl.lit("is required")))
    if checks:
        bad = frame.select(
            pl.col("_line"),
            *[pl.when(cond).then(pl.format(f"{column}: {{}}", reason)).otherwise(None).alias(f"_p{i}")
              for i, (column, cond, reason) in enumerate(checks)],
        )
        for row in bad.iter_rows():
            for reason in row[1:]:
                if reason is not None:
                    problems.append((row[0], reason))
    if problems:
        problems.sort(key=lambda p: p[0])
        line, reason = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageFileInvalid(f"{path}: {unit} {line}: {reason}{more}", problems=problems[:MAX_PROBLEMS],
                               field=reason.split(":", 1)[0])
    return frame.select(out)


def read_usage_file(path: Path | str, *, default_tariff: str | None = None) -> UsageFile:
    """Accounts and register usage from one file: one row per account (and meter segment).
    Account columns are repeated on each segment row; rows of one account must agree on them."""
    path = Path(path)
    text, unit = _read_text_frame(path)
    parsed = _parse(text, USAGE_COLUMNS, "usage", path, unit)
    if "tariff" not in parsed.columns:
        parsed = parsed.with_columns(pl.lit(default_tariff, dtype=pl.String).alias("tariff"))
    elif default_tariff is not None:
        parsed = parsed.with_columns(pl.col("tariff").fill_null(default_tariff))
    problems: list[tuple[int, str]] = []
    for line in parsed.filter(pl.col("tariff").is_null())["_line"].to_list():
        problems.append((line, "tariff: is required (a tariff column or --tariff)"))
    account_cols = [spec[1] for name, spec in USAGE_COLUMNS.items() if spec[0] == "accounts" and spec[1] in parsed.columns]
    usage_cols = [spec[1] for name, spec in USAGE_COLUMNS.items() if spec[0] == "usage" and spec[1] in parsed.columns]
    if "segment" not in usage_cols:
        parsed = parsed.with_columns(pl.lit(1, dtype=pl.Int64).alias("segment"))
        usage_cols.append("segment")
    dup = parsed.filter(pl.struct("account_id", "segment").is_duplicated())
    for line, acc, seg in dup.select("_line", "account_id", "segment").iter_rows():
        problems.append((line, f"segment: account {acc} has segment {seg} twice"))
    first = parsed.group_by("account_id", maintain_order=True).agg(pl.col("_line").first(), *[pl.col(c).first() for c in account_cols])
    check = parsed.join(first.select("account_id", *[pl.col(c).alias(f"_f_{c}") for c in account_cols]), on="account_id")
    file_name = {spec[1]: name for name, spec in USAGE_COLUMNS.items()}
    for c in account_cols:
        differs = check.filter(~pl.col(c).eq_missing(pl.col(f"_f_{c}")))
        for line, acc in differs.select("_line", "account_id").iter_rows():
            problems.append((line, f"{file_name[c]}: differs from the account's first row (account {acc})"))
    if problems:
        problems.sort(key=lambda p: p[0])
        line, reason = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageFileInvalid(f"{path}: {unit} {line}: {reason}{more}", problems=problems[:MAX_PROBLEMS],
                               field=reason.split(":", 1)[0])
    accounts = first.drop("_line")
    usage = parsed.select("account_id", *[pl.col(c) for c in usage_cols])
    casts = {"household_members": pl.Int32, "households": pl.Int32}
    accounts = accounts.with_columns(*[pl.col(c).cast(t) for c, t in casts.items() if c in accounts.columns])
    usage = usage.with_columns(pl.col("segment").cast(pl.Int32))
    return UsageFile(accounts=accounts, usage=usage)


def read_intervals_file(path: Path | str) -> pl.DataFrame:
    """Interval usage: account_id, date, point (0-based), kwh [, kvarh] → INTERVALS_SCHEMA."""
    path = Path(path)
    text, unit = _read_text_frame(path)
    parsed = _parse(text, INTERVAL_COLUMNS, "intervals", path, unit)
    problems = [(line, f"point: {p} is outside 0..95") for line, p in
                parsed.filter(pl.col("point") > 95).select("_line", "point").iter_rows()]
    dup = parsed.filter(pl.struct("account_id", "date", "point").is_duplicated())
    problems += [(line, "point: the same account, date and point appear twice") for line in dup["_line"].to_list()]
    if problems:
        problems.sort(key=lambda p: p[0])
        line, reason = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageFileInvalid(f"{path}: {unit} {line}: {reason}{more}", problems=problems[:MAX_PROBLEMS], field="point")
    return parsed.drop("_line").with_columns(pl.col("point").cast(pl.Int16))


__all__ = ["INTERVAL_COLUMNS", "USAGE_COLUMNS", "UsageFile", "read_intervals_file", "read_usage_file"]
