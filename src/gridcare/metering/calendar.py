"""Which days a period covers for an org unit, and which dates are frozen by a month close."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gridcare.core.periods import month_period
from gridcare.customers.models import OrgUnit
from gridcare.metering.config import MeteringConfig, metering_config
from gridcare.metering.models import BillingCalendar, BillingPeriod


@dataclass(frozen=True)
class EffectiveCalendar:
    """The calendar in force for an org unit: its own, its nearest ancestor's, or the defaults
    attached to the root of its tree. `owner_id` is the org unit whose periods it uses."""

    owner_id: int
    read_day: int
    due_days: int
    read_window_days: int


def period_bounds(code: str, read_day: int) -> tuple[date, date]:
    """Period `YYYY-MM` covers `[day read_day of M, day read_day of M+1)`; with read_day 1 that is
    the calendar month."""
    month = month_period(code)
    start = month.start.replace(day=read_day)
    end = month.end.replace(day=read_day)
    return start, end


def _path_ids(path: str) -> list[int]:
    return [int(p) for p in path.strip("/").split("/") if p]


def calendar_map(*, config: MeteringConfig | None = None) -> dict[int, EffectiveCalendar]:
    """Effective calendar of every org unit (a few thousand rows at most, so resolved in memory)."""
    config = config or metering_config()
    own = {c.org_unit_id: c for c in BillingCalendar.objects.all()}
    out: dict[int, EffectiveCalendar] = {}
    for unit_id, path in OrgUnit.objects.values_list("id", "path"):
        ids = _path_ids(path) or [unit_id]
        chosen = next((own[i] for i in reversed(ids) if i in own), None)
        if chosen is None:
            out[unit_id] = EffectiveCalendar(ids[0], config.read_day, config.due_days, config.read_window_days)
        else:
            out[unit_id] = EffectiveCalendar(chosen.org_unit_id, chosen.read_day, chosen.due_days,
                                             chosen.read_window_days)
    return out


def calendar_for(*, org_unit: OrgUnit, config: MeteringConfig | None = None) -> EffectiveCalendar:
    return calendar_map(config=config)[org_unit.pk]


def frozen_until_map() -> dict[int, date]:
    """Per calendar owner: reads dated before this day fall in a closed period."""
    out: dict[int, date] = {}
    for owner_id, end in BillingPeriod.objects.filter(status=BillingPeriod.Status.CLOSED).values_list(
        "org_unit_id", "end_date"
    ):
        if owner_id not in out or end > out[owner_id]:
            out[owner_id] = end
    return out
