"""Working-day calendar and quiet hours: the only place that does working-time arithmetic.

Why a module of its own: official service limits are written in 工作日 ("reply within 4 working
days"), and the Chinese working week is not Monday–Friday. The State Council moves working days
around public holidays (调休): National Day 2025 ran 2025-10-01..08 and Sunday 2025-09-28 and
Saturday 2025-10-11 were working days. The `chinesecalendar` package carries the State Council
notices year by year; a company may add its own holidays or working days on top (a local
festival, a data year the package does not know yet) through an override file.

Clock model (see docs/service-desk.md): a limit in working days or working hours counts only the
time that lies inside *working windows*. By default a working day's window is the whole day
(00:00–24:00), so "4 working days" from Friday 10:00 ends Thursday 10:00 and a clock started on a
Saturday starts counting on Monday 00:00. A calendar may instead declare business hours
(e.g. 08:30–12:00 and 13:30–17:30) for limits given in working hours.

Pure: no Django, no clock reads. Every function takes aware datetimes and returns aware
datetimes in the calendar's time zone.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
_DAY = timedelta(days=1)
_MIDNIGHT = time(0, 0)


class CalendarError(ValueError):
    """A calendar or quiet-hours configuration that cannot be used (bad date, bad window)."""


class DayKind(enum.StrEnum):
    WORKDAY = "workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # statutory holiday (法定节假日) or an override holiday
    MAKEUP_WORKDAY = "makeup_workday"  # 调休上班: a Saturday/Sunday that is a working day


class TimeUnit(enum.StrEnum):
    """Units a configured limit may use. Calendar units run 7×24; working units follow the calendar."""

    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"


@dataclass(frozen=True)
class Duration:
    """A configured amount of time, e.g. `Duration(4, "working_days")`."""

    amount: float
    unit: TimeUnit

    @classmethod
    def parse(cls, value: Mapping[str, Any] | Duration, *, where: str = "duration") -> Duration:
        if isinstance(value, Duration):
            return value
        if not isinstance(value, Mapping) or "amount" not in value or "unit" not in value:
            raise CalendarError(f"{where}: expected a mapping with 'amount' and 'unit'")
        try:
            unit = TimeUnit(str(value["unit"]))
        except ValueError:
            raise CalendarError(
                f"{where}: unit {value['unit']!r} is not one of {', '.join(u.value for u in TimeUnit)}"
            ) from None
        amount = value["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise CalendarError(f"{where}: amount must be a number ≥ 0, got {amount!r}")
        return cls(amount=amount, unit=unit)

    def __str__(self) -> str:
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount} {self.unit.value}"


@dataclass
class WorkingCalendar:
    """Chinese working-day calendar plus company overrides.

    `holidays` and `workdays` (override dates) win over the package. For a year the package has no
    data for, weekends are Saturday/Sunday and only the overrides add holidays: `covers(day)` says
    whether a date relies on that fallback so operators can be warned before a new year starts.
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    business_hours: tuple[tuple[time, time], ...] = ()
    tz: ZoneInfo = BUSINESS_TZ
    name: str = "default"
    _kinds: dict[date, DayKind] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            raise CalendarError(f"dates listed both as holiday and working day: {sorted(both)}")
        previous_end = _MIDNIGHT
        for i, (start, end) in enumerate(self.business_hours):
            if not (start < end or end == _MIDNIGHT) or (i and start < previous_end):
                raise CalendarError("business_hours must be ordered, non-overlapping [start, end) windows")
            previous_end = end

    # -- days ------------------------------------------------------------------------------------
    def covers(self, day: date) -> bool:
        """True when the package (or an override) knows this date; False means weekday fallback."""
        if day in self.holidays or day in self.workdays:
            return True
        return _package_knows(day.year)

    def day_kind(self, day: date) -> DayKind:
        kind = self._kinds.get(day)
        if kind is not None:
            return kind
        weekend = day.weekday() >= 5
        if day in self.holidays:
            kind = DayKind.HOLIDAY
        elif day in self.workdays:
            kind = DayKind.MAKEUP_WORKDAY if weekend else DayKind.WORKDAY
        elif _package_knows(day.year):
            if chinese_calendar.is_workday(day):
                kind = DayKind.MAKEUP_WORKDAY if weekend else DayKind.WORKDAY
            else:
                is_holiday, _name = chinese_calendar.get_holiday_detail(day)
                kind = DayKind.HOLIDAY if (is_holiday and _name) else DayKind.WEEKEND
        else:
            kind = DayKind.WEEKEND if weekend else DayKind.WORKDAY
        self._kinds[day] = kind
        return kind

    def is_working_day(self, day: date) -> bool:
        return self.day_kind(day) in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY)

    def next_working_day(self, day: date, *, include_today: bool = False) -> date:
        current = day if include_today else day + _DAY
        for _ in range(366):
            if self.is_working_day(current):
                return current
            current += _DAY
        raise CalendarError(f"no working day within a year after {day}")

    def add_working_days_to_date(self, day: date, days: int) -> date:
        """The `days`-th working day after `day` (date arithmetic, e.g. for '7 working days' on a form)."""
        if days < 0:
            raise CalendarError("days must be ≥ 0")
        current = day
        for _ in range(days):
            current = self.next_working_day(current)
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in `[start, end)`."""
        count, current = 0, start
        while current < end:
            count += self.is_working_day(current)
            current += _DAY
        return count

    # -- time ------------------------------------------------------------------------------------
    def _windows(self, day: date, *, business: bool) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        spans = self.business_hours if (business and self.business_hours) else ((_MIDNIGHT, _MIDNIGHT),)
        out = []
        for start, end in spans:
            ws = datetime.combine(day, start, tzinfo=self.tz)
            we = datetime.combine(day + _DAY if end == _MIDNIGHT else day, end, tzinfo=self.tz)
            out.append((ws, we))
        return out

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise CalendarError("naive datetime: pass an aware datetime")
        return at.astimezone(self.tz)

    def _add(self, start: datetime, amount: timedelta, *, business: bool) -> datetime:
        if amount < timedelta(0):
            raise CalendarError("cannot add a negative working time")
        cursor = self._local(start)
        remaining = amount
        day = cursor.date()
        for _ in range(3660):
            for ws, we in self._windows(day, business=business):
                if we <= cursor:
                    continue
                begin = max(ws, cursor)
                available = we - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
                cursor = we
            day += _DAY
        raise CalendarError("working time does not fit in ten years of calendar")

    def _elapsed(self, start: datetime, end: datetime, *, business: bool) -> timedelta:
        start, end = self._local(start), self._local(end)
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.date()
        while day <= end.date():
            for ws, we in self._windows(day, business=business):
                lo, hi = max(ws, start), min(we, end)
                if hi > lo:
                    total += hi - lo
            day += _DAY
        return total

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """`start` plus `days` × 24 h of working-day time (non-working days do not count)."""
        return self._add(start, timedelta(days=days), business=False)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """`start` plus working hours inside business hours (whole working days if none configured)."""
        return self._add(start, timedelta(hours=hours), business=True)

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        return self._add(start, timedelta(minutes=minutes), business=True)

    def working_time_between(self, start: datetime, end: datetime, *, business: bool = False) -> timedelta:
        """Working time in `[start, end)`: whole working days, or business hours when `business`."""
        return self._elapsed(start, end, business=business)

    # -- durations in any unit ------------------------------------------------------------------
    def add(self, start: datetime, duration: Duration) -> datetime:
        """`start` + `duration` in the duration's own unit; calendar units ignore the calendar."""
        unit, amount = duration.unit, duration.amount
        if unit == TimeUnit.MINUTES:
            return self._local(start) + timedelta(minutes=amount)
        if unit == TimeUnit.HOURS:
            return self._local(start) + timedelta(hours=amount)
        if unit == TimeUnit.DAYS:
            return self._local(start) + timedelta(days=amount)
        if unit == TimeUnit.WORKING_DAYS:
            return self.add_working_days(start, amount)
        return self.add_working_hours(start, amount)

    def subtract(self, end: datetime, duration: Duration) -> datetime:
        """`end` minus the duration, counted backwards on the duration's clock.

        Used for "warn 2 working days before the due time"; walks backwards through the windows.
        """
        unit, amount = duration.unit, duration.amount
        if unit in (TimeUnit.MINUTES, TimeUnit.HOURS, TimeUnit.DAYS):
            delta = {TimeUnit.MINUTES: timedelta(minutes=amount), TimeUnit.HOURS: timedelta(hours=amount),
                     TimeUnit.DAYS: timedelta(days=amount)}[unit]
            return self._local(end) - delta
        business = unit == TimeUnit.WORKING_HOURS
        remaining = timedelta(days=amount) if unit == TimeUnit.WORKING_DAYS else timedelta(hours=amount)
        cursor = self._local(end)
        day = cursor.date()
        for _ in range(3660):
            for ws, we in reversed(self._windows(day, business=business)):
                if ws >= cursor:
                    continue
                finish = min(we, cursor)
                available = finish - ws
                if remaining <= available:
                    return finish - remaining
                remaining -= available
                cursor = ws
            day -= _DAY
        raise CalendarError("working time does not fit in ten years of calendar")

    def elapsed(self, start: datetime, end: datetime, unit: TimeUnit) -> timedelta:
        """Time between two instants as the clock of `unit` counts it (calendar or working time)."""
        if unit in (TimeUnit.MINUTES, TimeUnit.HOURS, TimeUnit.DAYS):
            return max(self._local(end) - self._local(start), timedelta(0))
        return self._elapsed(start, end, business=unit == TimeUnit.WORKING_HOURS)

    def add_elapsed(self, start: datetime, amount: timedelta, unit: TimeUnit) -> datetime:
        """Inverse of `elapsed`: move `start` forward by `amount` of the clock of `unit`."""
        if unit in (TimeUnit.MINUTES, TimeUnit.HOURS, TimeUnit.DAYS):
            return self._local(start) + amount
        return self._add(start, amount, business=unit == TimeUnit.WORKING_HOURS)


_PACKAGE_YEARS: dict[int, bool] = {}


def _package_knows(year: int) -> bool:
    known = _PACKAGE_YEARS.get(year)
    if known is None:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
            known = True
        except NotImplementedError:
            known = False
        _PACKAGE_YEARS[year] = known
    return known


def package_years() -> range:
    """Years for which the installed chinesecalendar release carries State Council data."""
    years = [y for y in range(2000, 2100) if _package_knows(y)]
    return range(years[0], years[-1] + 1) if years else range(0)


def _parse_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CalendarError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _parse_time(value: Any, where: str) -> time:
    text = str(value)
    if text in ("24:00", "24:00:00"):
        return _MIDNIGHT
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise CalendarError(f"{where}: {value!r} is not a time (HH:MM)") from None


def _dates(values: Iterable[Any] | None, where: str) -> frozenset[date]:
    out: set[date] = set()
    for item in values or ():
        if isinstance(item, Mapping):  # {from: 2027-01-01, to: 2027-01-03}
            start = _parse_date(item.get("from"), where)
            end = _parse_date(item.get("to", item.get("from")), where)
            if end < start:
                raise CalendarError(f"{where}: range ends before it starts ({start}..{end})")
            while start <= end:
                out.add(start)
                start += _DAY
        else:
            out.add(_parse_date(item, where))
    return frozenset(out)


def calendar_from_mapping(data: Mapping[str, Any] | None, *, name: str = "default") -> WorkingCalendar:
    """Build a calendar from an override mapping (the YAML format in docs/service-desk.md)."""
    data = data or {}
    if not isinstance(data, Mapping):
        raise CalendarError("calendar overrides must be a mapping")
    hours = []
    for i, span in enumerate(data.get("business_hours") or ()):
        if not isinstance(span, list | tuple) or len(span) != 2:
            raise CalendarError(f"business_hours[{i}]: expected [start, end]")
        hours.append((_parse_time(span[0], f"business_hours[{i}]"), _parse_time(span[1], f"business_hours[{i}]")))
    tz_name = data.get("timezone", "Asia/Shanghai")
    try:
        tz = ZoneInfo(str(tz_name))
    except Exception:  # noqa: BLE001 - any lookup failure is a config error
        raise CalendarError(f"unknown time zone {tz_name!r}") from None
    return WorkingCalendar(
        holidays=_dates(data.get("holidays"), "holidays"),
        workdays=_dates(data.get("workdays"), "workdays"),
        business_hours=tuple(hours),
        tz=tz,
        name=str(data.get("name", name)),
    )


def load_calendar(path: str | Path | None = None) -> WorkingCalendar:
    """The packaged default overrides, or a company's own file."""
    file = Path(path) if path else Path(__file__).with_name("calendar.yaml")
    with file.open(encoding="utf-8") as fh:
        return calendar_from_mapping(yaml.safe_load(fh), name=file.stem)


@dataclass(frozen=True)
class QuietHours:
    """A daily window in which customers are not contacted (e.g. 21:00–08:00 for return visits).

    Wraps midnight when `start > end`. `start == end` means no quiet hours at all.
    """

    start: time
    end: time
    tz: ZoneInfo = BUSINESS_TZ

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, tz: ZoneInfo = BUSINESS_TZ) -> QuietHours:
        return cls(start=_parse_time(data.get("start"), "quiet_hours.start"),
                   end=_parse_time(data.get("end"), "quiet_hours.end"), tz=tz)

    def contains(self, at: datetime) -> bool:
        if at.tzinfo is None:
            raise CalendarError("naive datetime: pass an aware datetime")
        if self.start == self.end:
            return False
        now = at.astimezone(self.tz).timetz().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, at: datetime) -> datetime:
        """`at` itself when outside the window, otherwise the window's end (the next morning)."""
        if not self.contains(at):
            return at.astimezone(self.tz)
        local = at.astimezone(self.tz)
        end_today = datetime.combine(local.date(), self.end, tzinfo=self.tz)
        return end_today if end_today > local else end_today + _DAY

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"
