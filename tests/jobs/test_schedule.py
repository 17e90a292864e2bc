"""The schedule file: shipped defaults load, every error names the job and the field, next runs are
computed in the business time zone and agree with Huey's crontab minute for minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from huey import crontab

from gridcare.jobs.registry import JOBS
from gridcare.jobs.schedule import ScheduleError, job_schedule, parse_cron, reset_cache, schedule_parse

TZ = ZoneInfo("Asia/Shanghai")
KNOWN = set(JOBS)


def _errors(jobs: dict, **top) -> ScheduleError:
    with pytest.raises(ScheduleError) as exc:
        schedule_parse({"jobs": jobs, **top}, known=KNOWN)
    return exc.value


def test_shipped_defaults():
    s = job_schedule()
    got = {j.name: (j.schedule.text, j.lock, j.enabled) for j in s.jobs.values()}
    assert got == {
        "outbox": ("* * * * *", None, True), "sla-tick": ("* * * * *", None, True),
        "receivables": ("5-55/10 * * * *", "ledger", True), "collections": ("0 2 * * *", "ledger", True),
        "kpi": ("0 3 * * *", "kpi", True), "experience": ("30 3 * * *", "experience", True),
        "reconcile-close": ("0 23 * * *", "reconcile-close", True),
    }
    assert s.jobs["collections"].lock_wait == timedelta(minutes=30)
    assert s.jobs["outbox"].expires == timedelta(seconds=120) and s.jobs["kpi"].expires is None
    assert s.jobs["kpi"].lock_ttl == timedelta(hours=6) and s.history_days == 14
    assert all(j.description for j in s.jobs.values())


@pytest.mark.parametrize("schedule, field, message", [
    ("61 * * * *", "jobs.kpi.schedule.minute", "job 'kpi': schedule field minute '61': 61 is outside 0-59"),
    ("0 24 * * *", "jobs.kpi.schedule.hour", "job 'kpi': schedule field hour '24': 24 is outside 0-23"),
    ("0 3 0 * *", "jobs.kpi.schedule.day", "job 'kpi': schedule field day '0': 0 is outside 1-31"),
    ("0 3 * 13 *", "jobs.kpi.schedule.month", "job 'kpi': schedule field month '13': 13 is outside 1-12"),
    ("0 3 * * 8", "jobs.kpi.schedule.day_of_week", "job 'kpi': schedule field day_of_week '8': 8 is outside 0-7"),
    ("0 3 * * */2", "jobs.kpi.schedule.day_of_week", "*/N is not supported for day_of_week"),
    ("0 3 * * 1-3/0", "jobs.kpi.schedule.day_of_week", "a step must be at least 1"),
    ("*/0 * * * *", "jobs.kpi.schedule.minute", "a step must be at least 1"),
    ("0 3 * * mon", "jobs.kpi.schedule.day_of_week", "'mon' is not *, a number, A-B, A-B/S or */S"),
    ("0 3 * *", "jobs.kpi.schedule", "schedule '0 3 * *' has 4 fields; expected 5 (minute hour day month day_of_week)"),
    (None, "jobs.kpi.schedule", "job 'kpi': schedule must be five crontab fields"),
])
def test_bad_crontab_names_job_and_field(schedule, field, message):
    err = _errors({"kpi": {"schedule": schedule}})
    assert err.field == field
    assert message in err.message


@pytest.mark.parametrize("jobs, top, field, message", [
    ({"payroll": {"schedule": "0 1 * * *"}}, {}, "jobs.payroll", "job 'payroll' is not a known job; known jobs: "
                                                                   "collections, experience, kpi, outbox"),
    ({"kpi": {"schedule": "0 3 * * *", "when": 1}}, {}, "jobs.kpi.when", "job 'kpi': unknown key 'when'"),
    ({"kpi": {"schedule": "0 3 * * *", "lock": "Big Lock"}}, {}, "jobs.kpi.lock", "lock must be true, false or"),
    ({"kpi": {"schedule": "0 3 * * *", "enabled": "no"}}, {}, "jobs.kpi.enabled", "enabled must be true or false"),
    ({"kpi": {"schedule": "0 3 * * *", "lock_wait_seconds": -1}}, {}, "jobs.kpi.lock_wait_seconds",
     "lock_wait_seconds must be a whole number >= 0, not -1"),
    ({"kpi": {"schedule": "0 3 * * *", "lock_ttl_minutes": 0}}, {}, "jobs.kpi.lock_ttl_minutes",
     "lock_ttl_minutes must be a whole number >= 1"),
    ({"kpi": {"schedule": "0 3 * * *", "expires_seconds": "soon"}}, {}, "jobs.kpi.expires_seconds",
     "expires_seconds must be a whole number >= 1, not 'soon'"),
    ({"kpi": "0 3 * * *"}, {}, "jobs.kpi", "job 'kpi': expected a mapping"),
    ({}, {}, "jobs", "'jobs' must be a mapping"),
    ({"kpi": {"schedule": "0 3 * * *"}}, {"history_days": 0}, "history_days", "history_days must be"),
    ({"kpi": {"schedule": "0 3 * * *"}}, {"timezone": "UTC"}, "timezone", "unknown top-level key 'timezone'"),
])
def test_other_errors_name_job_and_field(jobs, top, field, message):
    err = _errors(jobs, **top)
    assert err.field == field
    assert message in err.message


def test_company_file_overrides_per_key_and_bad_file_is_reported(tmp_path, monkeypatch):
    company = tmp_path / "company.yaml"
    company.write_text("history_days: 30\njobs:\n  collections:\n    schedule: '30 1 * * *'\n"
                       "  kpi:\n    enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("GRIDCARE_JOBS_SCHEDULE", str(company))
    s = job_schedule()
    assert (s.jobs["collections"].schedule.text, s.jobs["collections"].lock) == ("30 1 * * *", "ledger")
    assert s.jobs["kpi"].enabled is False and "kpi" not in {j.name for j in s.enabled()}
    assert s.history_days == 30 and str(company) in s.source
    company.write_text("jobs: [", encoding="utf-8")
    reset_cache()
    with pytest.raises(ScheduleError, match="not valid YAML"):
        job_schedule()
    monkeypatch.setenv("GRIDCARE_JOBS_SCHEDULE", str(tmp_path / "missing.yaml"))
    reset_cache()
    with pytest.raises(ScheduleError, match="missing.yaml: No such file"):
        job_schedule()


@pytest.mark.parametrize("text, after, expected", [
    ("0 2 * * *", datetime(2026, 11, 30, 1, 59, tzinfo=TZ), datetime(2026, 11, 30, 2, 0, tzinfo=TZ)),
    ("0 2 * * *", datetime(2026, 11, 30, 2, 0, tzinfo=TZ), datetime(2026, 12, 1, 2, 0, tzinfo=TZ)),
    ("5-55/10 * * * *", datetime(2026, 11, 30, 1, 55, tzinfo=TZ), datetime(2026, 11, 30, 2, 5, tzinfo=TZ)),
    # 18:00 UTC is 02:00 the next day in Shanghai: schedules read business time whatever the input zone.
    ("0 2 * * *", datetime(2026, 11, 29, 17, 59, tzinfo=UTC), datetime(2026, 11, 30, 2, 0, tzinfo=TZ)),
    ("0 9 * * 0", datetime(2026, 11, 23, 12, 0, tzinfo=TZ), datetime(2026, 11, 29, 9, 0, tzinfo=TZ)),  # Sunday
    ("0 9 * * 7", datetime(2026, 11, 23, 12, 0, tzinfo=TZ), datetime(2026, 11, 29, 9, 0, tzinfo=TZ)),
    ("0 0 29 2 *", datetime(2026, 3, 1, tzinfo=TZ), datetime(2028, 2, 29, 0, 0, tzinfo=TZ)),
    ("0 0 31 2 *", datetime(2026, 3, 1, tzinfo=TZ), None),
])
def test_next_run(text, after, expected):
    assert parse_cron(text, job="x").next_after(after) == expected


@pytest.mark.parametrize("text", ["* * * * *", "5-55/10 * * * *", "0 2 * * *", "30 3 * * *", "0 23 * * *",
                                  "*/7 1-5,22 */3 * 1-5", "15 8 1,15 1-12/2 0,6", "0 12 * * 5-1",
                                  "50 22-2/2 * * *", "0 0 28-3 * 6-7"])
def test_matches_agrees_with_hueys_crontab_every_minute_of_a_fortnight(text):
    cron = parse_cron(text, job="x")
    huey = crontab(strict=True, **cron.huey_fields())
    start = datetime(2026, 2, 20, 0, 0)  # across the end of February
    for minute in range(14 * 24 * 60):
        moment = start + timedelta(minutes=minute)
        assert cron.matches(moment.replace(tzinfo=TZ)) == huey(moment), (text, moment)
