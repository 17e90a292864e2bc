"""Reads of the tariffs app: the schedule set a rating run uses, and tariffs per account and date."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import polars as pl
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from gridcare.rating import ScheduleSet, parse_yaml
from gridcare.rating.loader import library_dir
from gridcare.tariffs.models import TariffAssignment, TariffFile, TariffSchedule


@lru_cache(maxsize=64)
def _parsed(sha256: str, text: str, name: str):
    return parse_yaml(text, source=name, base_dir=library_dir())


def schedule_set(*, codes: set[str] | None = None) -> ScheduleSet:
    """All loaded versions (of `codes`, if given), parsed from their stored text."""
    rows = TariffSchedule.objects.select_related("file")
    if codes is not None:
        rows = rows.filter(code__in=sorted(codes))
    wanted = {(r.code, r.version) for r in rows}
    files = {r.file_id: r.file for r in rows}
    out = []
    for f in files.values():
        for s in _parsed(f.sha256, f.text, f.name):
            if (s.code, s.version) in wanted:
                out.append(s)
    return ScheduleSet(tuple(sorted(out, key=lambda s: (s.code, s.effective_from))))


def tariff_list() -> QuerySet[TariffSchedule]:
    return TariffSchedule.objects.select_related("file").order_by("code", "effective_from")


def tariff_codes() -> set[str]:
    return set(TariffSchedule.objects.values_list("code", flat=True))


def tou_tariff_codes() -> set[str]:
    return set(TariffSchedule.objects.filter(time_of_use=True).values_list("code", flat=True))


def tariff_file_get(*, file_id: int) -> TariffFile | None:
    return TariffFile.objects.filter(pk=file_id).first()


def tariff_changes(*, account_ids: list[int], start: date, end: date) -> pl.DataFrame:
    """Assignments taking effect inside `(start, end)` plus the one in force at `start`, per account:
    account_id, tariff_code, effective_from (clipped to start). Accounts with no assignment rows
    are absent (their Account.tariff_code applies)."""
    if connection.vendor == "postgresql":
        # A billing chunk's thousands of ids bound as one array, not as an IN list of parameters
        # (each of which Django prepares and psycopg quotes one by one).
        in_chunk = RawSQL("SELECT unnest(%s::bigint[])", [list(account_ids)])
    else:
        in_chunk = account_ids
    rows = list(
        TariffAssignment.objects.filter(account_id__in=in_chunk, effective_from__lt=end)
        .order_by("account_id", "effective_from").values_list("account_id", "tariff_code", "effective_from")
    )
    schema = {"account_id": pl.Int64, "tariff_code": pl.Utf8, "effective_from": pl.Date}
    if not rows:
        return pl.DataFrame(schema=schema)
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    at_start = frame.filter(pl.col("effective_from") <= start).group_by("account_id").agg(
        pl.col("tariff_code").last(), pl.lit(start).alias("effective_from"))
    inside = frame.filter(pl.col("effective_from") > start)
    return pl.concat([at_start.select(list(schema)), inside]).sort("account_id", "effective_from")


def tariff_assignment_list(*, account_id: int) -> QuerySet[TariffAssignment]:
    return TariffAssignment.objects.filter(account_id=account_id).order_by("-effective_from")
