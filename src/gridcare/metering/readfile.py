"""Parsing of read files (CSV or Parquet, as collection systems export them) into typed frames.

Syntax problems (missing columns, a value that is not a number, a bad date, an unknown register
code) make the whole file invalid: every bad row is listed with its line number and nothing is
written. Plausibility problems (unknown meter, decrease, spike, ...) are not decided here; those
rows are stored and quarantined by the validation step.

Register reads, one row per meter, register and day (`value` is the dial reading in the
register's unit, up to 3 decimals; `estimated` is optional)::

    asset_number,register,read_date,value,estimated
    M0000000001,total,2026-11-01,12345.67,0

Interval data, long form (one row per point; `value` is the kWh in that interval)::

    asset_number,read_date,point,value

or wide form with columns p1..p24 or p1..p96 (p01 etc. also accepted). A point may be missing (no
row, or an empty value, "-" or "null"): the import estimates it (metering/intervals.py). A meter's
day has 24 points, or 96 when the wide columns are p1..p96 or any of its points in the file is
above 24.

Messages are gettext strings with named placeholders, made in the active language: the console
shows them in zh-Hans, the CLI in English, the API in the request's language.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import polars as pl
from django.utils.translation import gettext as _

from gridcare.metering.errors import ReadFileInvalid

REGISTER_CODES = ("total", "sharp", "peak", "flat", "valley", "reactive", "demand")
CUMULATIVE_REGISTERS = ("total", "sharp", "peak", "flat", "valley", "reactive")
REGISTER_ALIASES = {
    "总": "total", "尖": "sharp", "峰": "peak", "平": "flat", "谷": "valley", "无功": "reactive", "需量": "demand",
    "active": "total", "kwh": "total", "kvarh": "reactive", "max_demand": "demand",
}
COLUMN_ALIASES = {
    "meter": "asset_number", "meter_no": "asset_number", "meter_number": "asset_number", "asset": "asset_number",
    "表号": "asset_number", "资产编号": "asset_number",
    "date": "read_date", "read_on": "read_date", "抄表日期": "read_date",
    "reading": "value", "kwh": "value", "示数": "value", "表码": "value",
    "register_code": "register", "示数类型": "register",
    "is_estimated": "estimated", "估抄": "estimated",
    "hour": "point", "slot": "point",
}
REGISTER_COLUMNS = ("asset_number", "register", "read_date", "value")
INTERVAL_COLUMNS = ("asset_number", "read_date", "point", "value")
_WIDE_RE = re.compile(r"^p0*(\d{1,2})$")
MAX_PROBLEMS = 200
_TRUE = {"1", "true", "yes", "y", "e", "est", "是"}
_FALSE = {"", "0", "false", "no", "n", "a", "否"}
_MISSING = ["", "-", "null", "none", "nan", "n/a"]


@dataclass(frozen=True)
class ParsedFile:
    kind: str  # register | interval
    file_format: str  # csv | parquet
    frame: pl.DataFrame
    ignored_columns: tuple[str, ...]


def _load(content: bytes, filename: str) -> tuple[pl.DataFrame, str]:
    is_parquet = filename.lower().endswith(".parquet") or content[:4] == b"PAR1"
    try:
        if is_parquet:
            frame = pl.read_parquet(io.BytesIO(content))
            frame = frame.with_columns(
                [pl.col(c).cast(pl.Utf8) for c, dt in frame.schema.items() if dt != pl.Utf8]
            )
            return frame, "parquet"
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReadFileInvalid(_("the file is not UTF-8 text or Parquet"), field="file") from None
    except Exception as exc:  # pyarrow/polars raise many types for a corrupt file
        raise ReadFileInvalid(_("the Parquet file cannot be read: %(error)s") % {"error": exc}, field="file") from None
    if not text.strip():
        raise ReadFileInvalid(_("the file is empty"), field="file")
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, truncate_ragged_lines=False)
    except Exception as exc:
        raise ReadFileInvalid(_("the CSV cannot be parsed: %(error)s") % {"error": str(exc).splitlines()[0]},
                              field="file") from None
    return frame, "csv"


def _normalise_columns(frame: pl.DataFrame) -> pl.DataFrame:
    renames = {}
    for col in frame.columns:
        key = col.strip().lower().replace(" ", "_")
        renames[col] = COLUMN_ALIASES.get(key, key)
    if len(set(renames.values())) != len(renames):
        raise ReadFileInvalid(_("two columns map to the same field: %(columns)s") % {"columns": ", ".join(frame.columns)},
                              field="columns")
    return frame.rename(renames)


def _parse_value(col: str, *, places: int = 3) -> tuple[pl.Expr, pl.Expr]:
    """(ok, milli) expressions: a non-negative decimal with at most `places` significant decimals."""
    text = pl.col(col).str.strip_chars()
    frac = text.str.extract(r"\.(\d+)$", 1).fill_null("").str.strip_chars_end("0")
    ok = text.str.contains(r"^\d{1,15}(\.\d+)?$").fill_null(False) & (frac.str.len_chars() <= places)
    int_part = text.str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False)
    milli = int_part * 1000 + frac.str.pad_end(3, "0").str.slice(0, 3).cast(pl.Int64, strict=False)
    return ok, pl.when(ok).then(milli).otherwise(None)


def _parse_date(col: str) -> pl.Expr:
    text = pl.col(col).str.strip_chars()
    compact = text.str.to_date("%Y%m%d", strict=False)
    iso = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return pl.when(text.str.contains(r"^\d{8}$").fill_null(False)).then(compact).otherwise(iso)


def _raise_problems(problems: list[tuple[int, str]], file_format: str) -> None:
    if problems:
        problems.sort()
        first_line, first_msg = problems[0]
        values = {"line": first_line, "message": first_msg, "more": len(problems) - 1}
        if file_format == "csv":
            text = (_("line %(line)s: %(message)s (and %(more)s more); nothing was imported") if len(problems) > 1
                    else _("line %(line)s: %(message)s; nothing was imported"))
        else:
            text = (_("row %(line)s: %(message)s (and %(more)s more); nothing was imported") if len(problems) > 1
                    else _("row %(line)s: %(message)s; nothing was imported"))
        raise ReadFileInvalid(text % values, problems=problems[:MAX_PROBLEMS], field="file")


def _collect(frame: pl.DataFrame, bad: pl.Expr, message: str, **values: pl.Expr) -> list[tuple[int, str]]:
    """(line, message) for the first bad rows; `message` is a translated string whose %(name)s
    placeholders take the row's `values` (raw text, so the clerk sees what the file said)."""
    rows = frame.filter(bad).select("line_no", *(e.fill_null("").alias(n) for n, e in values.items()))
    rows = rows.head(MAX_PROBLEMS)
    return [(row["line_no"], message % {n: row[n] for n in values}) for row in rows.iter_rows(named=True)]


def parse_read_file(content: bytes, filename: str) -> ParsedFile:
    frame, file_format = _load(content, filename)
    frame = _normalise_columns(frame)
    if frame.height == 0:
        raise ReadFileInvalid(_("the file has a header but no rows"), field="file")
    offset = 2 if file_format == "csv" else 1
    frame = frame.with_row_index("line_no", offset=offset).with_columns(pl.col("line_no").cast(pl.Int64))
    cols = set(frame.columns)
    wide = sorted((int(m.group(1)), c) for c in frame.columns if (m := _WIDE_RE.match(c)))
    if {"register", "value"} <= cols or ("register" in cols and not wide):
        return _parse_register(frame, file_format)
    if "point" in cols or wide:
        return _parse_interval(frame, file_format, wide)
    missing = [c for c in REGISTER_COLUMNS if c not in cols]
    raise ReadFileInvalid(
        _("missing columns: %(missing)s (expected %(register)s for register reads, or %(interval)s or "
          "p1..p24/p1..p96 for interval data; found %(found)s)")
        % {"missing": ", ".join(missing), "register": ", ".join(REGISTER_COLUMNS),
           "interval": ", ".join(INTERVAL_COLUMNS), "found": ", ".join(c for c in frame.columns if c != "line_no")},
        field="columns",
    )


def _parse_register(frame: pl.DataFrame, file_format: str) -> ParsedFile:
    cols = set(frame.columns)
    missing = [c for c in REGISTER_COLUMNS if c not in cols]
    if missing:
        raise ReadFileInvalid(
            _("missing columns: %(missing)s (expected %(expected)s[, estimated]; found %(found)s)")
            % {"missing": ", ".join(missing), "expected": ", ".join(REGISTER_COLUMNS),
               "found": ", ".join(c for c in frame.columns if c != "line_no")},
            field="columns",
        )
    known = {*REGISTER_COLUMNS, "estimated", "line_no"}
    ignored = tuple(c for c in frame.columns if c not in known)
    if "estimated" not in cols:
        frame = frame.with_columns(pl.lit("").alias("estimated"))
    ok_value, milli = _parse_value("value")
    reg = pl.col("register").str.strip_chars().str.to_lowercase()
    reg = reg.replace(REGISTER_ALIASES)
    est = pl.col("estimated").fill_null("").str.strip_chars().str.to_lowercase()
    parsed = frame.select(
        "line_no",
        pl.col("asset_number").str.strip_chars().alias("asset_number"),
        reg.alias("register"),
        _parse_date("read_date").alias("read_date"),
        milli.alias("value_milli"),
        est.is_in(list(_TRUE)).alias("estimated"),
        pl.col("register").alias("_register_raw"),
        pl.col("read_date").alias("_date_raw"),
        pl.col("value").alias("_value_raw"),
        ok_value.alias("_ok_value"),
        est.is_in(list(_TRUE | _FALSE)).alias("_ok_est"),
        pl.col("estimated").alias("_est_raw"),
    )
    problems: list[tuple[int, str]] = []
    problems += _collect(parsed, pl.col("asset_number").fill_null("") == "", _("asset_number is empty"))
    problems += _collect(parsed, ~pl.col("register").is_in(list(REGISTER_CODES)).fill_null(False),
                         _("register '%(value)s' is not one of %(codes)s"), value=pl.col("_register_raw"),
                         codes=pl.lit(", ".join(REGISTER_CODES)))
    problems += _collect(parsed, pl.col("read_date").is_null(), _("read_date '%(value)s' is not a date (YYYY-MM-DD)"),
                         value=pl.col("_date_raw"))
    problems += _collect(parsed, ~pl.col("_ok_value"),
                         _("value '%(value)s' is not a non-negative number with at most 3 decimals"),
                         value=pl.col("_value_raw"))
    problems += _collect(parsed, ~pl.col("_ok_est"), _("estimated '%(value)s' is not a yes/no flag"),
                         value=pl.col("_est_raw"))
    _raise_problems(problems, file_format)
    return ParsedFile("register", file_format, parsed.drop([c for c in parsed.columns if c.startswith("_")]),
                      ignored)


def _parse_interval(frame: pl.DataFrame, file_format: str, wide: list[tuple[int, str]]) -> ParsedFile:
    cols = set(frame.columns)
    wide_ppd = None
    if wide:
        numbers = [n for n, _c in wide]
        if numbers not in (list(range(1, 25)), list(range(1, 97))):
            raise ReadFileInvalid(_("wide interval columns must be exactly p1..p24 or p1..p96"), field="columns")
        missing = [c for c in ("asset_number", "read_date") if c not in cols]
        if missing:
            raise ReadFileInvalid(_("missing columns: %(missing)s") % {"missing": ", ".join(missing)}, field="columns")
        wide_ppd = len(numbers)
        names = {c: str(n) for n, c in wide}
        frame = frame.select("line_no", "asset_number", "read_date", *names).rename(names).unpivot(
            index=["line_no", "asset_number", "read_date"], variable_name="point", value_name="value"
        )
    missing = [c for c in INTERVAL_COLUMNS if c not in set(frame.columns)]
    if missing:
        raise ReadFileInvalid(
            _("missing columns: %(missing)s (expected %(expected)s)")
            % {"missing": ", ".join(missing), "expected": ", ".join(INTERVAL_COLUMNS)},
            field="columns",
        )
    known = {*INTERVAL_COLUMNS, "line_no"}
    ignored = tuple(c for c in frame.columns if c not in known)
    ok_value, milli = _parse_value("value")
    absent = pl.col("value").str.strip_chars().str.to_lowercase().fill_null("").is_in(_MISSING)
    parsed = frame.select(
        "line_no",
        pl.col("asset_number").str.strip_chars(),
        _parse_date("read_date").alias("read_date"),
        pl.col("point").str.strip_chars().cast(pl.Int16, strict=False).alias("point"),
        milli.alias("value_milli"),
        pl.col("read_date").alias("_date_raw"),
        pl.col("point").alias("_point_raw"),
        pl.col("value").alias("_value_raw"),
        (ok_value | absent).alias("_ok_value"),
    )
    problems: list[tuple[int, str]] = []
    problems += _collect(parsed, pl.col("asset_number").fill_null("") == "", _("asset_number is empty"))
    problems += _collect(parsed, pl.col("read_date").is_null(), _("read_date '%(value)s' is not a date (YYYY-MM-DD)"),
                         value=pl.col("_date_raw"))
    problems += _collect(parsed, pl.col("point").is_null() | ~pl.col("point").is_between(1, 96),
                         _("point '%(value)s' is not 1..96"), value=pl.col("_point_raw"))
    problems += _collect(parsed, ~pl.col("_ok_value"),
                         _("value '%(value)s' is not a non-negative number with at most 3 decimals"),
                         value=pl.col("_value_raw"))
    _raise_problems(problems, file_format)
    parsed = parsed.drop([c for c in parsed.columns if c.startswith("_")])
    # A day is 24 or 96 points: the wide columns say which; in long form a meter with any point
    # above 24 in the file reads quarter-hours. Each point at most once; absent points are gaps.
    if wide_ppd is not None:
        parsed = parsed.with_columns(pl.lit(wide_ppd, dtype=pl.Int16).alias("points_per_day"))
    else:
        parsed = parsed.with_columns(
            pl.when(pl.col("point").max().over("asset_number") > 24).then(96).otherwise(24)
            .cast(pl.Int16).alias("points_per_day"))
    key = ["asset_number", "read_date"]
    days = parsed.group_by(key).agg(pl.len().alias("n"), pl.col("point").n_unique().alias("distinct"),
                                    pl.col("points_per_day").first().alias("ppd"),
                                    pl.col("line_no").min().alias("day_line"))
    doubled = days.filter(pl.col("distinct") != pl.col("n"))
    if doubled.height:
        repeated = (parsed.join(doubled.select(key), on=key, how="semi")
                    .group_by(*key, "point").agg(pl.len().alias("n"), pl.col("line_no").sort().alias("lines"))
                    .filter(pl.col("n") > 1).sort(*key, "point").head(MAX_PROBLEMS))
        _raise_problems([
            (lines[1], _("meter %(meter)s on %(date)s: point %(point)s appears %(n)s times (lines %(lines)s)")
             % {"meter": a, "date": d, "point": p, "n": n, "lines": ", ".join(map(str, lines))})
            for a, d, p, n, lines in repeated.select(*key, "point", "n", "lines").iter_rows()
        ], file_format)
    columns = ["line_no", "asset_number", "read_date", "point", "points_per_day", "value_milli"]
    short = days.filter(pl.col("n") < pl.col("ppd"))
    if short.height == 0:  # the usual file: every day complete, nothing to add
        return ParsedFile("interval", file_format, parsed.select(columns), ignored)
    # Absent points of short days become rows without a value (line: the day's first line).
    grid = (short.select(*key, pl.col("ppd").alias("points_per_day"), "day_line",
                         pl.int_ranges(1, pl.col("ppd") + 1, dtype=pl.Int16).alias("point"))
            .explode("point")
            .join(parsed.select(*key, "point"), on=[*key, "point"], how="anti")
            .select(pl.col("day_line").alias("line_no"), *key, "point", "points_per_day",
                    pl.lit(None, dtype=pl.Int64).alias("value_milli")))
    full = pl.concat([parsed.select(columns), grid.select(columns)])
    return ParsedFile("interval", file_format, full, ignored)
