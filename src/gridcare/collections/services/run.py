"""The nightly collections job (`gridcare collections run --as-of`): every step, in dependency order.

Payment-driven steps go first (late fees on bills paid late, promises kept, suspensions paid off,
calls no longer needed) so the dunning and suspension steps that follow never chase a customer
who has just paid. Each step is idempotent; running the job twice for a day changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gridcare.collections.services.dunning import DunningResult, call_tasks_cancel_paid, dunning_run
from gridcare.collections.services.latefees import AssessResult, late_fees_assess
from gridcare.collections.services.promises import promises_settle
from gridcare.collections.services.suspension import (
    FollowUpResult,
    ProposalResult,
    suspension_reminders_send,
    suspensions_follow_up,
    suspensions_propose,
)

StepProgress = Callable[[str, int, int], None]
STEPS = ("late_fees", "promises", "suspension_follow_up", "calls", "dunning", "suspension_proposals",
         "suspension_reminders")


@dataclass(frozen=True)
class RunResult:
    late_fees: AssessResult
    promises_kept: int
    promises_broken: int
    follow_up: FollowUpResult
    calls_cancelled: int
    dunning: DunningResult
    proposals: ProposalResult
    reminders: int


def collections_run(*, as_of: datetime, month_end: bool | None = None,
                    progress: StepProgress | None = None) -> RunResult:
    def step(name: str):
        if progress is None:
            return None
        progress(name, 0, 0)
        return lambda n, total: progress(name, n, total)

    fees = late_fees_assess(as_of=as_of, month_end=month_end, progress=step("late_fees"))
    step("promises")
    kept, broken = promises_settle(as_of=as_of)
    step("suspension_follow_up")
    follow_up = suspensions_follow_up(as_of=as_of)
    step("calls")
    cancelled = call_tasks_cancel_paid(as_of=as_of)
    dunning = dunning_run(as_of=as_of, progress=step("dunning"))
    step("suspension_proposals")
    proposals = suspensions_propose(as_of=as_of)
    step("suspension_reminders")
    reminders = suspension_reminders_send(as_of=as_of)
    return RunResult(late_fees=fees, promises_kept=kept, promises_broken=broken, follow_up=follow_up,
                     calls_cancelled=cancelled, dunning=dunning, proposals=proposals, reminders=reminders)
