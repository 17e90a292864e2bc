"""Working-day arithmetic on real 2025/2026 State Council calendars, company overrides, quiet hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.core.calendars import (
    CalendarError,
    DayKind,
    Duration,
    QuietHours,
    TimeUnit,
    WorkingCalendar,
    calendar_from_mapping,
    load_calendar,
    package_years,
)

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture(scope="module")
def cal():
    return WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2025, 9, 26), DayKind.WORKDAY),  # Friday
        (date(2025, 9, 27), DayKind.WEEKEND),  # Saturday
        (date(2025, 9, 28), DayKind.MAKEUP_WORKDAY),  # Sunday 调休上班 before National Day
        (date(2025, 10, 1), DayKind.HOLIDAY),
        (date(2025, 10, 8), DayKind.HOLIDAY),  # National Day + Mid-Autumn 2025: 10-01..10-08
        (date(2025, 10, 9), DayKind.WORKDAY),
        (date(2025, 10, 11), DayKind.MAKEUP_WORKDAY),  # Saturday 调休上班 after National Day
        (date(2025, 10, 12), DayKind.WEEKEND),
        (date(2026, 1, 1), DayKind.HOLIDAY),
        (date(2026, 2, 14), DayKind.MAKEUP_WORKDAY),  # Spring Festival 2026 make-up Saturday
        (date(2026, 2, 16), DayKind.HOLIDAY),
        (date(2026, 2, 28), DayKind.MAKEUP_WORKDAY),
        (date(2026, 10, 1), DayKind.HOLIDAY),
    ],
)
def test_day_kind_follows_state_council_calendar(cal, day, kind):
    assert cal.day_kind(day) == kind
    assert cal.is_working_day(day) == (kind in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY))


def test_package_knows_2026(cal):
    years = package_years()
    assert 2025 in years and 2026 in years
    assert cal.covers(date(2026, 12, 31))


def test_one_working_day_before_national_day_lands_after_the_holiday(cal):
    # Tue 2025-09-30 10:00: 14 h left that day, 10-01..10-08 are holidays, so 10 h on Thu 10-09.
    assert cal.add_working_days(at(2025, 9, 30, 10), 1) == at(2025, 10, 9, 10)


def test_four_working_days_count_the_makeup_sunday(cal):
    # Fri 09-26 15:00 → Sat off, Sun 09-28 works, Mon, Tue, holidays, Thu 10-09 15:00.
    assert cal.add_working_days(at(2025, 9, 26, 15), 4) == at(2025, 10, 9, 15)


def test_clock_started_on_a_holiday_starts_at_the_next_working_day(cal):
    # Started Fri 10-03 (holiday): counting begins Thu 10-09 00:00; 10-11 (Sat) works, 10-12 does not.
    # 7 working days = 10-09, 10, 11, 13, 14, 15, 16 → due when 10-17 begins.
    assert cal.add_working_days(at(2025, 10, 3, 11), 7) == at(2025, 10, 17, 0)


def test_spring_festival_2026(cal):
    # Fri 2026-02-13 09:00 + 2 working days: 15 h on Fri, 24 h on the make-up Sat 02-14, and the
    # remaining 9 h after the holiday 02-15..02-23, i.e. Tue 02-24 09:00.
    assert cal.add_working_days(at(2026, 2, 13, 9), 2) == at(2026, 2, 24, 9)


def test_working_days_between_dates(cal):
    # September 2025 had 22 weekdays plus the 09-28 make-up Sunday.
    assert cal.working_days_between(date(2025, 9, 1), date(2025, 10, 1)) == 23
    assert cal.working_days_between(date(2025, 10, 1), date(2025, 10, 9)) == 0
    assert cal.add_working_days_to_date(date(2025, 9, 30), 1) == date(2025, 10, 9)


def test_business_hours_for_working_hours_limits():
    cal = WorkingCalendar(business_hours=((time(8, 30), time(12)), (time(13, 30), time(17, 30))))
    # Fri 16:00: 1.5 h left; Sat off; Sun 09-28 works from 08:30 → 2.5 h more at 11:00.
    assert cal.add_working_hours(at(2025, 9, 26, 16), 4) == at(2025, 9, 28, 11)
    # Lunch break does not count.
    assert cal.working_time_between(at(2025, 9, 29, 11), at(2025, 9, 29, 14), business=True) == timedelta(hours=1.5)
    # Started at night: counts from 08:30.
    assert cal.add_working_minutes(at(2025, 9, 29, 22), 30) == at(2025, 9, 30, 9)


def test_elapsed_and_add_elapsed_are_inverse_for_pause_accounting(cal):
    start, end = at(2025, 9, 30, 10), at(2025, 10, 9, 10)
    assert cal.elapsed(start, end, TimeUnit.WORKING_DAYS) == timedelta(days=1)
    assert cal.elapsed(start, end, TimeUnit.HOURS) == timedelta(days=9)
    assert cal.add_elapsed(start, timedelta(days=1), TimeUnit.WORKING_DAYS) == end


def test_subtract_walks_back_over_holidays(cal):
    # Warn 2 working days before due Thu 10-09 10:00: 10 h on 10-09, 24 h on 09-30, 14 h on 09-29.
    assert cal.subtract(at(2025, 10, 9, 10), Duration(2, TimeUnit.WORKING_DAYS)) == at(2025, 9, 29, 10)
    assert cal.subtract(at(2025, 10, 9, 10), Duration(30, TimeUnit.MINUTES)) == at(2025, 10, 9, 9, 30)


def test_add_duration_in_every_unit(cal):
    start = at(2025, 9, 30, 23, 30)
    assert cal.add(start, Duration(45, TimeUnit.MINUTES)) == at(2025, 10, 1, 0, 15)
    assert cal.add(start, Duration(24, TimeUnit.HOURS)) == at(2025, 10, 1, 23, 30)
    assert cal.add(start, Duration(7, TimeUnit.DAYS)) == at(2025, 10, 7, 23, 30)
    assert cal.add(start, Duration(1, TimeUnit.WORKING_DAYS)) == at(2025, 10, 9, 23, 30)


def test_year_beyond_package_falls_back_to_weekends_plus_overrides():
    plain = WorkingCalendar()
    assert not plain.covers(date(2027, 1, 4))
    assert plain.day_kind(date(2027, 1, 1)) == DayKind.WORKDAY  # a Friday: unknown holiday
    company = calendar_from_mapping({"holidays": [{"from": "2027-01-01", "to": "2027-01-03"}],
                                     "workdays": ["2027-02-20"]})
    assert company.day_kind(date(2027, 1, 1)) == DayKind.HOLIDAY
    assert company.covers(date(2027, 1, 1))
    assert company.day_kind(date(2027, 2, 20)) == DayKind.MAKEUP_WORKDAY  # a Saturday
    assert company.add_working_days(at(2026, 12, 31, 12), 1) == at(2027, 1, 4, 12)


def test_company_override_beats_package():
    company = calendar_from_mapping({"holidays": ["2025-09-29"], "workdays": ["2025-10-08"]})
    assert company.day_kind(date(2025, 9, 29)) == DayKind.HOLIDAY
    assert company.day_kind(date(2025, 10, 8)) == DayKind.WORKDAY
    assert company.add_working_days(at(2025, 9, 28, 12), 1) == at(2025, 9, 30, 12)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"holidays": ["2025-13-01"]}, "not a date"),
        ({"holidays": ["2025-10-01"], "workdays": ["2025-10-01"]}, "both as holiday and working day"),
        ({"business_hours": [["12:00", "09:00"]]}, "business_hours"),
        ({"business_hours": [["09:00"]]}, "expected [start, end]"),
        ({"holidays": [{"from": "2025-10-05", "to": "2025-10-01"}]}, "ends before it starts"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_bad_overrides_are_rejected_with_a_reason(data, message):
    with pytest.raises(CalendarError, match=message.replace("[", r"\[").replace("]", r"\]")):
        calendar_from_mapping(data)


def test_packaged_default_file_loads():
    cal = load_calendar()
    assert cal.tz == TZ
    assert cal.business_hours == ((time(8, 30), time(12)), (time(13, 30), time(17, 30)))


def test_naive_datetime_is_refused(cal):
    with pytest.raises(CalendarError, match="naive"):
        cal.add_working_days(datetime(2025, 9, 30, 10), 1)


def test_duration_parse_rejects_bad_units():
    assert Duration.parse({"amount": 4, "unit": "working_days"}) == Duration(4, TimeUnit.WORKING_DAYS)
    with pytest.raises(CalendarError, match="unit 'fortnights'"):
        Duration.parse({"amount": 1, "unit": "fortnights"})
    with pytest.raises(CalendarError, match="amount"):
        Duration.parse({"amount": -1, "unit": "hours"})


class TestQuietHours:
    quiet = QuietHours(start=time(21), end=time(8))

    @pytest.mark.parametrize(
        ("local", "inside", "allowed"),
        [
            (at(2025, 10, 9, 20, 59), False, at(2025, 10, 9, 20, 59)),
            (at(2025, 10, 9, 21, 0), True, at(2025, 10, 10, 8, 0)),
            (at(2025, 10, 9, 23, 30), True, at(2025, 10, 10, 8, 0)),
            (at(2025, 10, 10, 0, 0), True, at(2025, 10, 10, 8, 0)),
            (at(2025, 10, 10, 7, 59), True, at(2025, 10, 10, 8, 0)),
            (at(2025, 10, 10, 8, 0), False, at(2025, 10, 10, 8, 0)),
        ],
    )
    def test_overnight_window(self, local, inside, allowed):
        assert self.quiet.contains(local) is inside
        assert self.quiet.next_allowed(local) == allowed

    def test_utc_input_is_judged_in_business_time(self):
        utc = datetime(2025, 10, 9, 13, 30, tzinfo=ZoneInfo("UTC"))  # 21:30 in Shanghai
        assert self.quiet.contains(utc)
        assert self.quiet.next_allowed(utc) == at(2025, 10, 10, 8)

    def test_daytime_window_and_disabled_window(self):
        lunch = QuietHours.parse({"start": "12:00", "end": "13:30"})
        assert lunch.contains(at(2025, 10, 9, 12, 45))
        assert lunch.next_allowed(at(2025, 10, 9, 12, 45)) == at(2025, 10, 9, 13, 30)
        assert not lunch.contains(at(2025, 10, 9, 22))
        off = QuietHours.parse({"start": "00:00", "end": "00:00"})
        assert not off.contains(at(2025, 10, 9, 3))


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 9, 1), max_value=datetime(2026, 11, 30)),
    minutes=st.integers(min_value=0, max_value=10 * 24 * 60),
)
def test_adding_then_measuring_working_time_round_trips(start, minutes):
    cal = WorkingCalendar()
    begin = start.replace(tzinfo=TZ)
    due = cal.add_elapsed(begin, timedelta(minutes=minutes), TimeUnit.WORKING_DAYS)
    assert due >= begin
    assert cal.elapsed(begin, due, TimeUnit.WORKING_DAYS) == timedelta(minutes=minutes)
    # Working time never advances on a rest day: the due instant is inside (or at the end of) a working day.
    if minutes:
        edge = due - timedelta(microseconds=1)
        assert cal.is_working_day(edge.date())
