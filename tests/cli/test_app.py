"""`--as-of` parsing shared by every command."""

from __future__ import annotations

from datetime import datetime, time

import pytest
import typer

from gridcare.cli.app import parse_as_of, setup_django
from gridcare.core.calendars import BUSINESS_TZ

setup_django()


def test_naive_date_time_is_business_time_and_an_offset_is_kept():
    assert parse_as_of("2026-11-30T02:00") == datetime(2026, 11, 30, 2, 0, tzinfo=BUSINESS_TZ)
    assert parse_as_of("2026-11-30T02:00+00:00").utcoffset().total_seconds() == 0


def test_a_bare_date_counts_at_the_command_s_time_of_day_or_is_refused():
    assert parse_as_of("2026-11-30", bare_date_at=time(9, 0)) == datetime(2026, 11, 30, 9, 0, tzinfo=BUSINESS_TZ)
    assert parse_as_of("2026-11-30") == datetime(2026, 11, 30, 0, 0, tzinfo=BUSINESS_TZ)  # ISO date-time of midnight
    with pytest.raises(typer.BadParameter, match="'30/11/2026' is not a date \\(YYYY-MM-DD\\) or ISO datetime"):
        parse_as_of("30/11/2026", bare_date_at=time(9, 0))
    with pytest.raises(typer.BadParameter, match="is not an ISO date-time such as 2026-11-10T10:00"):
        parse_as_of("tomorrow")


def test_empty_is_now():
    before = datetime.now(tz=BUSINESS_TZ)
    assert before <= parse_as_of(None) <= datetime.now(tz=BUSINESS_TZ)
