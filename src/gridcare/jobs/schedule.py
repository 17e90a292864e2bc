"""The schedule of periodic jobs, loaded from YAML and validated once.

Why YAML: when a job runs is an operating decision (a company that imports bank statements at noon
closes the reconciliation day later), so the times are defaults in `schedule.yaml`, overridable per
key by a company file (`GRIDCARE_JOBS_SCHEDULE=/path/file.yaml`), never constants in code.

Schedules are five crontab fields (minute hour day month day_of_week) read in the business time zone
(Asia/Shanghai), whatever the server's zone. Huey's crontab semantics apply: `*`, `N`, `A-B`
(wrapping round when A > B), `A-B/S`, `*/S` (not for day_of_week) and lists; day_of_week 0 and 7 are Sunday; a day must match
both the day and the day_of_week fields (unlike Vixie cron, which takes either).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.errors import ValidationFailed

SHIPPED = Path(__file__).with_name("schedule.yaml")
FIELDS = ("minute", "hour", "day", "month", "day_of_week")
RANGES = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12), "day_of_week": (0, 7)}
JOB_KEYS = {"schedule", "description", "enabled", "lock", "lock_ttl_minutes", "lock_wait_seconds", "expires_seconds"}
_RANGE = re.compile(r"(\d+)-(\d+)(?:/(\d+))?")
_EVERY = re.compile(r"\*/(\d+)")
_SEARCH_DAYS = 366 * 8  # 29 February on a given weekday recurs within 28 years; 8 covers every leap day


class ScheduleError(ValidationFailed):
    """The schedule file is unusable; the message names the job and the field."""


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    def matches(self, at: datetime) -> bool:
        """`at` in any zone; compared in the business time zone."""
        local = at.astimezone(BUSINESS_TZ) if at.tzinfo else at
        return (local.minute in self.minutes and local.hour in self.hours and self._day_matches(local.date()))

    def _day_matches(self, day: date) -> bool:
        return (day.month in self.months and day.day in self.days
                and (day.weekday() + 1) % 7 in self.weekdays)

    def next_after(self, after: datetime) -> datetime | None:
        """The first matching minute strictly after `after`, in the business time zone; None when no
        date in the next eight years matches (e.g. 31 February)."""
        start = after.astimezone(BUSINESS_TZ).replace(second=0, microsecond=0) + timedelta(minutes=1)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        day = start.date()
        for offset in range(_SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if not self._day_matches(current):
                continue
            for hour in hours:
                for minute in minutes:
                    candidate = datetime.combine(current, time(hour, minute), tzinfo=BUSINESS_TZ)
                    if candidate >= start:
                        return candidate
        return None

    def huey_fields(self) -> dict[str, str]:
        return dict(zip(FIELDS, self.text.split(), strict=True))


def _field_values(job: str, field: str, text: str) -> frozenset[int]:
    low, high = RANGES[field]
    values: set[int] = set()
    where = f"jobs.{job}.schedule.{field}"

    def bad(reason: str) -> ScheduleError:
        return ScheduleError(f"job {job!r}: schedule field {field} {text!r}: {reason}", field=where)

    def check(n: int) -> int:
        if not low <= n <= high:
            raise bad(f"{n} is outside {low}-{high}")
        return n

    for piece in text.split(","):
        if piece == "*":
            values.update(range(low, high + 1))
        elif piece.isdigit():
            values.add(check(int(piece)))
        elif m := _RANGE.fullmatch(piece):
            lhs, rhs, step = check(int(m[1])), check(int(m[2])), int(m[3] or 1)
            if step < 1:
                raise bad("a step must be at least 1")
            if lhs <= rhs:
                values.update(range(lhs, rhs + 1, step))
            else:  # wraps around, as in Huey: 22-2 is 22, 23, 0, 1, 2; day_of_week 5-1 is Friday to Monday
                top = 6 if field == "day_of_week" else high
                values.update([*range(lhs, top + 1), *range(low, rhs + 1)][::step])
        elif m := _EVERY.fullmatch(piece):
            if field == "day_of_week":
                raise bad("*/N is not supported for day_of_week; list the days (e.g. 1,3,5)")
            step = int(m[1])
            if step < 1:
                raise bad("a step must be at least 1")
            values.update(range(low, high + 1, step))
        else:
            raise bad(f"{piece!r} is not *, a number, A-B, A-B/S or */S")
    if field == "day_of_week":
        values = {v % 7 for v in values}
    return frozenset(values)


def parse_cron(text: Any, *, job: str) -> Cron:
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(f"job {job!r}: schedule must be five crontab fields ({' '.join(FIELDS)}), "
                            f"e.g. '0 2 * * *'", field=f"jobs.{job}.schedule")
    parts = text.split()
    if len(parts) != len(FIELDS):
        raise ScheduleError(f"job {job!r}: schedule {text!r} has {len(parts)} fields; expected {len(FIELDS)} "
                            f"({' '.join(FIELDS)})", field=f"jobs.{job}.schedule")
    sets = [_field_values(job, field, part) for field, part in zip(FIELDS, parts, strict=True)]
    return Cron(" ".join(parts), *sets)


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Cron
    description: str
    enabled: bool
    lock: str | None  # lock name: jobs sharing one never run at the same time
    lock_ttl: timedelta  # a lock older than this belongs to a dead worker and is taken over
    lock_wait: timedelta  # how long a run waits for its lock before it is recorded as skipped
    expires: timedelta | None  # a queued periodic run older than this is dropped (Huey `expires`)


@dataclass(frozen=True)
class Schedule:
    jobs: dict[str, Job]
    history_days: int
    source: str

    def enabled(self) -> list[Job]:
        return [job for job in self.jobs.values() if job.enabled]


def _positive_int(job: str, key: str, value: Any, *, allow_zero: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise ScheduleError(f"job {job!r}: {key} must be a whole number {'>= 0' if allow_zero else '>= 1'}, "
                            f"not {value!r}", field=f"jobs.{job}.{key}")
    return value


def _job(name: str, raw: Any, known: set[str]) -> Job:
    if name not in known:
        raise ScheduleError(f"job {name!r} is not a known job; known jobs: {', '.join(sorted(known))}",
                            field=f"jobs.{name}")
    if not isinstance(raw, dict):
        raise ScheduleError(f"job {name!r}: expected a mapping of {', '.join(sorted(JOB_KEYS))}", field=f"jobs.{name}")
    unknown = set(raw) - JOB_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ScheduleError(f"job {name!r}: unknown key {key!r}; allowed: {', '.join(sorted(JOB_KEYS))}",
                            field=f"jobs.{name}.{key}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ScheduleError(f"job {name!r}: enabled must be true or false, not {enabled!r}", field=f"jobs.{name}.enabled")
    lock = raw.get("lock", True)
    if lock is True:
        lock = name
    elif lock is False or lock is None:
        lock = None
    elif not isinstance(lock, str) or not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", lock):
        raise ScheduleError(f"job {name!r}: lock must be true, false or a lock name (a-z, 0-9, -, _), not {lock!r}",
                            field=f"jobs.{name}.lock")
    expires = raw.get("expires_seconds")
    return Job(
        name=name, schedule=parse_cron(raw.get("schedule"), job=name),
        description=str(raw.get("description") or "").strip(), enabled=enabled, lock=lock,
        lock_ttl=timedelta(minutes=_positive_int(name, "lock_ttl_minutes", raw.get("lock_ttl_minutes", 360),
                                                 allow_zero=False)),
        lock_wait=timedelta(seconds=_positive_int(name, "lock_wait_seconds", raw.get("lock_wait_seconds", 0))),
        expires=None if expires is None else timedelta(
            seconds=_positive_int(name, "expires_seconds", expires, allow_zero=False)),
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ScheduleError(f"{path}: {exc.strerror}", field="file") from None
    except yaml.YAMLError as exc:
        raise ScheduleError(f"{path}: not valid YAML ({exc})", field="file") from None
    if not isinstance(data, dict):
        raise ScheduleError(f"{path}: expected a mapping with 'jobs'", field="file")
    return data


def schedule_parse(data: dict[str, Any], *, known: set[str], source: str = "<data>") -> Schedule:
    """Validate a schedule mapping; every error names the job and the field at fault."""
    unknown = set(data) - {"jobs", "history_days"}
    if unknown:
        key = sorted(unknown)[0]
        raise ScheduleError(f"unknown top-level key {key!r}; allowed: history_days, jobs", field=key)
    raw_jobs = data.get("jobs")
    if not isinstance(raw_jobs, dict) or not raw_jobs:
        raise ScheduleError("'jobs' must be a mapping of job name to its settings", field="jobs")
    history = data.get("history_days", 14)
    if isinstance(history, bool) or not isinstance(history, int) or history < 1:
        raise ScheduleError(f"history_days must be a whole number >= 1, not {history!r}", field="history_days")
    jobs = {str(name): _job(str(name), raw, known) for name, raw in raw_jobs.items()}
    return Schedule(jobs=jobs, history_days=history, source=source)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **{k: v for k, v in override.items() if k != "jobs"}}
    jobs = {name: dict(settings or {}) for name, settings in (base.get("jobs") or {}).items()}
    for name, settings in (override.get("jobs") or {}).items():
        jobs[name] = {**jobs.get(name, {}), **(settings if isinstance(settings, dict) else {"schedule": settings})}
    merged["jobs"] = jobs
    return merged


@cache
def job_schedule() -> Schedule:
    """The shipped schedule with the company file (GRIDCARE_JOBS_SCHEDULE) merged over it, per key."""
    from gridcare.jobs.registry import JOBS

    data = _read(SHIPPED)
    source = str(SHIPPED)
    override = os.environ.get("GRIDCARE_JOBS_SCHEDULE")
    if override:
        data = _merge(data, _read(Path(override)))
        source = f"{SHIPPED} + {override}"
    return schedule_parse(data, known=set(JOBS), source=source)


def reset_cache() -> None:
    job_schedule.cache_clear()
