"""`gridcare rate`: rate accounts from files alone (no database), printing every bill line.

    gridcare rate --tariff gz-residential --usage usage.csv --period 2025-09
    gridcare rate --tariff my-tariff.yaml --usage u.parquet --start 2026-01-01 --end 2026-02-01 --json
    gridcare rate --tariff hubei-agency-2part-10kv --usage u.csv --intervals iv.csv --period 2026-01 --daily

``--tariff`` is a shipped tariff code (``gridcare rate --list``) or a tariff YAML file; a ``tariff``
column in the usage file overrides it per account. The usage and intervals formats are in
docs/rating.md ("Usage files").

Exit status: 0 every account rated; 1 some accounts could not be rated (they are listed with the
reason; the others are printed); 2 the arguments or a file are unusable (nothing is rated).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from gridcare.cli.app import app

MAX_SHOWN = 200


def _fail(message: str, problems: list[tuple[Any, str]] | None = None, unit: str = "line") -> None:
    err = Console(stderr=True)
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    if problems and len(problems) > 1:
        table = Table(title="problems", title_justify="left")
        table.add_column(unit, justify="right")
        table.add_column("reason")
        for where, reason in problems[:MAX_SHOWN]:
            table.add_row(str(where), reason)
        err.print(table)
        if len(problems) > MAX_SHOWN:
            err.print(f"… and {len(problems) - MAX_SHOWN} more")
    raise typer.Exit(2)


def _period(period: str | None, start: str | None, end: str | None) -> tuple[date, date]:
    if period and (start or end):
        _fail("give --period or --start/--end, not both")
    if period:
        try:
            year, month = (int(p) for p in period.split("-"))
            first = date(year, month, 1)
        except ValueError:
            _fail(f"--period: {period!r} is not a month YYYY-MM")
        return first, date(first.year + first.month // 12, first.month % 12 + 1, 1)
    if not (start and end):
        _fail("give the billing period: --period YYYY-MM, or --start and --end (end exclusive)")
    try:
        a, b = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        _fail(f"--start/--end: {start!r} or {end!r} is not a date YYYY-MM-DD")
    if b <= a:
        _fail(f"--end {b} must be after --start {a}")
    return a, b


def _schedules(tariff: str | None):
    from gridcare.rating import TariffFileInvalid, load_library, load_schedules

    library = load_library()
    if tariff is None:
        return library, None
    candidate = Path(tariff)
    if candidate.suffix.lower() in (".yaml", ".yml") or candidate.exists():
        try:
            own = load_schedules([candidate])
        except TariffFileInvalid as exc:
            _fail(str(exc), [(p, m) for p, m in exc.problems], unit="path")
        codes = own.codes
        if len(codes) != 1:
            _fail(f"{tariff}: holds tariffs {', '.join(codes)}; give a tariff column in the usage file")
        clash = set(codes) & set(library.codes)
        merged = own if clash else library.merged(own)
        return merged, codes[0]
    if tariff not in library.codes:
        _fail(f"--tariff: unknown tariff {tariff!r}; shipped tariffs: {', '.join(library.codes)} (or give a YAML file)")
    return library, tariff


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if value is not None and not isinstance(value, (int, str, bool, float)):
        return str(value)  # Decimal → exact text
    return value


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@app.command("rate")
def rate_command(
    tariff: str = typer.Option(None, "--tariff", "-t", help="shipped tariff code or a tariff YAML file"),
    usage: Path = typer.Option(None, "--usage", "-u", help="usage CSV or Parquet (one row per account/segment)"),
    intervals: Path = typer.Option(None, "--intervals", help="interval usage CSV or Parquet (24 or 96 points a day)"),
    period: str = typer.Option(None, "--period", help="billing month YYYY-MM"),
    start: str = typer.Option(None, "--start", help="first day YYYY-MM-DD (with --end)"),
    end: str = typer.Option(None, "--end", help="day after the last YYYY-MM-DD (exclusive)"),
    points: int = typer.Option(24, "--points", help="interval points a day: 24 or 96"),
    hot_day: list[str] = typer.Option(None, "--hot-day", help="a hot day (sharp-peak slots apply); repeatable"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    lang: str = typer.Option("zh", "--lang", help="explanation language: zh or en"),
    daily: bool = typer.Option(False, "--daily", help="also print the daily settlement (needs --intervals)"),
    list_tariffs: bool = typer.Option(False, "--list", help="list the shipped tariffs and exit"),
) -> None:
    """Rate usage from files against a tariff and print every bill line (no database needed)."""
    from gridcare.rating import UnableToRate, UsageFileInvalid, rate, settle_daily
    from gridcare.rating.usagefile import read_intervals_file, read_usage_file

    console = Console(highlight=False)
    if list_tariffs:
        from gridcare.rating import load_library

        table = Table(title="shipped tariffs", title_justify="left")
        for column in ("code", "version", "from", "to", "name"):
            table.add_column(column)
        for s in load_library():
            table.add_row(s.code, s.version, str(s.effective_from), str(s.effective_to or ""), s.name_zh)
        console.print(table)
        return
    if lang not in ("zh", "en"):
        _fail(f"--lang: must be zh or en; got {lang!r}")
    if points not in (24, 96):
        _fail(f"--points: must be 24 or 96; got {points}")
    if usage is None and intervals is None:
        _fail("give --usage FILE (and/or --intervals FILE)")
    if daily and intervals is None:
        _fail("--daily needs --intervals")
    first, after = _period(period, start, end)
    hot: list[date] = []
    for text in hot_day or []:
        try:
            hot.append(date.fromisoformat(text))
        except ValueError:
            _fail(f"--hot-day: {text!r} is not a date YYYY-MM-DD")
    schedules, default_code = _schedules(tariff)
    import polars as pl

    try:
        if usage is not None:
            uf = read_usage_file(usage, default_tariff=default_code)
            accounts, usage_frame = uf.accounts, uf.usage
        else:
            accounts, usage_frame = None, None
        iv = read_intervals_file(intervals) if intervals is not None else None
    except UsageFileInvalid as exc:
        unit = "row" if str(exc).split(": ", 1)[-1].startswith("row") else "line"
        _fail(str(exc), list(exc.problems), unit=unit)
    if accounts is None:
        assert iv is not None
        if default_code is None:
            _fail("--tariff is required when there is no usage file")
        accounts = iv.select("account_id").unique(maintain_order=True).with_columns(pl.lit(default_code).alias("tariff"))
    try:
        if daily:
            settlement = settle_daily(accounts, iv, schedules, first, after, usage=usage_frame, hot_days=hot,
                                      interval_points=points)
            result = settlement.statement
        else:
            settlement = None
            result = rate(accounts, usage_frame, schedules, first, after, intervals=iv, hot_days=hot,
                          interval_points=points)
    except UnableToRate as exc:
        _fail(f"{exc.field}: {exc.message}" if exc.field and not exc.message.startswith(exc.field) else exc.message)
    if as_json:
        payload: dict[str, Any] = {
            "period": {"start": first.isoformat(), "end": after.isoformat()},
            "lines": [{k: _jsonable(v) for k, v in row.items()} for row in result.lines.iter_rows(named=True)],
            "totals": [{**{k: _jsonable(v) for k, v in row.items()}, "amount_yuan": _yuan(row["amount_fen"])}
                       for row in result.totals.iter_rows(named=True)],
            "rejected": [{k: _jsonable(v) for k, v in row.items()} for row in result.rejected.iter_rows(named=True)],
        }
        if settlement is not None:
            payload["daily"] = [{k: _jsonable(v) for k, v in row.items()} for row in settlement.daily.iter_rows(named=True)]
            payload["reconciliation"] = [{k: _jsonable(v) for k, v in row.items()}
                                         for row in settlement.reconciliation.iter_rows(named=True)]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    else:
        _print_tables(console, result, lang, first, after)
        if settlement is not None:
            _print_daily(console, settlement, lang)
    if result.rejected.height:
        raise typer.Exit(1)


def _print_tables(console: Console, result, lang: str, first: date, after: date) -> None:
    explanation = f"explanation_{lang}"
    totals = {row["account_id"]: row for row in result.totals.iter_rows(named=True)}
    shown = 0
    for (acc,), group in result.lines.group_by("account_id", maintain_order=True):
        if shown >= MAX_SHOWN:
            console.print(f"… {len(totals) - shown} more accounts (use --json for all)")
            break
        shown += 1
        t = totals[acc]
        title = f"account {acc} · {first}–{after} · total {_yuan(t['amount_fen'])} 元"
        if t["cos_phi"] is not None:
            title += f" · cos φ {t['cos_phi']}"
        table = Table(title=title, title_justify="left")
        for column, justify in (("#", "right"), ("line", "left"), ("quantity", "right"), ("unit", "left"),
                                ("unit price", "right"), ("amount 元", "right"), ("explanation", "left")):
            table.add_column(column, justify=justify)
        for row in group.iter_rows(named=True):
            table.add_row(str(row["line_no"]), row["line_code"], f"{row['quantity'].normalize():f}", row["unit"],
                          f"{row['unit_price'].normalize():f}", _yuan(row["amount_fen"]), row[explanation] or "")
        table.add_row("", "[bold]total[/]", "", "", "", f"[bold]{_yuan(t['amount_fen'])}[/]", "")
        console.print(table)
    for acc, row in totals.items():
        if row["line_count"] == 0:
            console.print(f"account {acc}: no charges (total 0.00 元)")
    if result.rejected.height:
        table = Table(title="accounts not rated", title_justify="left")
        for column in ("account", "field", "reason"):
            table.add_column(column)
        for acc, field, reason in result.rejected.iter_rows():
            table.add_row(str(acc), field, reason)
        Console(stderr=True, highlight=False).print(table)
    console.print(f"{result.totals.height} accounts rated, {result.lines.height} lines, "
                  f"{_yuan(int(result.totals['amount_fen'].sum() or 0))} 元; "
                  f"{result.rejected['account_id'].n_unique()} accounts not rated")


def _print_daily(console: Console, settlement, lang: str) -> None:
    table = Table(title="daily settlement (日清) — reconciliation with the monthly statement (月结)", title_justify="left")
    for column in ("account", "line", "days", "kWh", "Σ daily 元", "monthly 元", "diff 分"):
        table.add_column(column, justify="left" if column in ("account", "line") else "right")
    for row in settlement.reconciliation.iter_rows(named=True):
        table.add_row(str(row["account_id"]), row["line_code"], str(row["days"]), f"{row['quantity'].normalize():f}",
                      _yuan(row["daily_sum_fen"]), _yuan(row["monthly_fen"]), str(row["diff_fen"]))
    console.print(table)
