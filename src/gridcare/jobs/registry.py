"""The jobs the schedule may name: each a thin wrapper that calls an app's existing service with the
`as_of` the runner read from the clock, and returns a small JSON-able summary for the run record.

Why a fixed registry and not dotted paths in the YAML: the schedule file is operating configuration
that an administrator edits; it may change when a job runs, not which code runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gridcare.core.calendars import BUSINESS_TZ

Summary = dict[str, Any]
OUTBOX_BATCH = 500
OUTBOX_MAX_BATCHES = 200  # 100,000 messages per run; the next minute's run takes the rest


@dataclass(frozen=True)
class DrainResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0
    batches: int = 0

    def plus(self, r) -> DrainResult:
        return DrainResult(self.sent + r.sent, self.retrying + r.retrying, self.failed + r.failed,
                           self.deferred + r.deferred, self.batches + 1)


def outbox_drain(*, as_of: datetime, limit: int = OUTBOX_BATCH, once: bool = False,
                 max_batches: int = OUTBOX_MAX_BATCHES,
                 on_batch: Callable[[DrainResult], None] | None = None) -> DrainResult:
    """Dispatch batches until a batch comes back short (nothing more is due at `as_of`).

    Every message a batch touches leaves the due set (sent, failed, retrying later or deferred past
    quiet hours), so the loop ends; `max_batches` bounds a run that new enqueues keep feeding.
    """
    from gridcare.notifications.services import outbox_dispatch

    total = DrainResult()
    while total.batches < max_batches:
        r = outbox_dispatch(as_of=as_of, limit=limit)
        total = total.plus(r)
        if on_batch is not None:
            on_batch(total)
        if once or r.sent + r.retrying + r.failed + r.deferred < limit:
            break
    return total


def outbox(*, as_of: datetime) -> Summary:
    r = outbox_drain(as_of=as_of)
    return {"sent": r.sent, "retrying": r.retrying, "failed": r.failed, "deferred": r.deferred}


def sla_tick(*, as_of: datetime) -> Summary:
    from gridcare.service.services import sla_tick as tick

    r = tick(as_of=as_of)
    return {"warnings": r.warnings, "breaches": r.breaches, "escalations": r.escalations,
            "surveys_expired": r.expired_surveys}


def receivables(*, as_of: datetime) -> Summary:
    from gridcare.payments.services import receivables_post_issued_bills

    r = receivables_post_issued_bills(as_of=as_of)
    return {"bills_posted": r.charges, "credit_notes": r.credit_notes, "skipped": len(r.skipped)}


def collections(*, as_of: datetime) -> Summary:
    from gridcare.collections.services import collections_run

    r = collections_run(as_of=as_of)
    return {"late_fees_posted": r.late_fees.posted, "late_fees_fen": r.late_fees.posted_fen,
            "promises_kept": r.promises_kept, "promises_broken": r.promises_broken,
            "dunning_messages": r.dunning.queued, "call_tasks": r.dunning.calls,
            "suspensions_proposed": r.proposals.proposed, "reminders": r.reminders}


def kpi(*, as_of: datetime) -> Summary:
    """The previous and the current month, as docs/kpi.md asks: the previous month's figures keep
    moving for a while (late payments, closed work orders), so it is recomputed until it is old."""
    from gridcare.kpi.services import kpi_compute

    today = as_of.astimezone(BUSINESS_TZ).date()
    periods = [f"{today.replace(day=1) - timedelta(days=1):%Y-%m}", f"{today:%Y-%m}"]
    summary: Summary = {"periods": ", ".join(periods), "snapshots": 0, "alerts_open": 0}
    for code in periods:
        r = kpi_compute(period_code=code, as_of=as_of)
        summary["snapshots"] += r.snapshots
        summary["alerts_open"] += r.alerts_open
    return summary


def experience(*, as_of: datetime) -> Summary:
    from gridcare.experience.services import experience_refresh

    r = experience_refresh(as_of=as_of)
    return {"accounts": r.accounts, "tags": r.tags, "high_risk": r.high_risk, "recommendations": r.recommendations}


def reconcile_close(*, as_of: datetime) -> Summary:
    """Closes business day as-of − settlement_lag_days, as `gridcare reconcile close` does."""
    from gridcare.reconciliation.policy import reconciliation_policy
    from gridcare.reconciliation.services import reconciliation_day_close

    day = as_of.astimezone(BUSINESS_TZ).date() - timedelta(days=reconciliation_policy().settlement_lag_days)
    report = reconciliation_day_close(business_date=day, actor=None, as_of=as_of)
    return {"business_date": day.isoformat(), "report": report.pk}


JOBS: dict[str, Callable[..., Summary]] = {
    "outbox": outbox,
    "sla-tick": sla_tick,
    "receivables": receivables,
    "collections": collections,
    "kpi": kpi,
    "experience": experience,
    "reconcile-close": reconcile_close,
}
