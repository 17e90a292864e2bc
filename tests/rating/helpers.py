"""Small builders for rating tests: frames from dicts, tariffs from YAML text, lines as tuples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from gridcare.rating import RatingResult, ScheduleSet, load_library, parse_yaml, rate

LIBRARY = load_library()

HEADER = """
code: {code}
version: "{version}"
name_zh: 测试电价
name_en: Test tariff
effective_from: {start}
{end}sources: ["test: worked example"]
"""


def tariff(body: str, *, code: str = "t", version: str = "1", start: str = "2020-01-01", end: str | None = None) -> str:
    """A tariff document: a standard header plus ``body`` (rounding/tou/components YAML)."""
    head = HEADER.format(code=code, version=version, start=start, end=f"effective_to: {end}\n" if end else "")
    return head + body


def schedules(*texts: str) -> ScheduleSet:
    out = []
    for text in texts:
        out.extend(parse_yaml(text, source="test.yaml"))
    return ScheduleSet(tuple(out))


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.from_dicts(rows, infer_schema_length=None)


def run(
    sched: ScheduleSet | str,
    accounts: list[dict[str, Any]],
    usage: list[dict[str, Any]] | None,
    start: date,
    end: date,
    **kwargs: Any,
) -> RatingResult:
    if isinstance(sched, str):
        sched = schedules(sched)
    for key in ("intervals", "segments"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = frame(kwargs[key])
    return rate(frame(accounts), frame(usage) if usage is not None else None, sched, start, end, **kwargs)


def lines(result: RatingResult, account_id: Any = None) -> list[tuple[str, Decimal, Decimal, int]]:
    """(line_code, quantity, unit_price, amount_fen) in line order."""
    frame_ = result.lines if account_id is None else result.lines.filter(pl.col("account_id") == account_id)
    return [
        (code, Decimal(q).normalize(), Decimal(p).normalize(), a)
        for code, q, p, a in frame_.select("line_code", "quantity", "unit_price", "amount_fen").iter_rows()
    ]


def amounts(result: RatingResult, account_id: Any = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for code, _q, _p, a in lines(result, account_id):
        out[code] = out.get(code, 0) + a
    return out


def total(result: RatingResult, account_id: Any) -> int:
    row = result.totals.filter(pl.col("account_id") == account_id)
    assert row.height == 1, f"account {account_id} has no total; rejected: {result.rejected.to_dicts()}"
    return int(row["amount_fen"][0])


def explanations(result: RatingResult, account_id: Any = None, lang: str = "zh") -> list[str]:
    frame_ = result.lines if account_id is None else result.lines.filter(pl.col("account_id") == account_id)
    return frame_[f"explanation_{lang}"].to_list()


def rejected(result: RatingResult) -> list[tuple[Any, str, str]]:
    return [tuple(r) for r in result.rejected.iter_rows()]


def D(text: str) -> Decimal:  # noqa: N802 - reads like a literal
    return Decimal(text).normalize()
