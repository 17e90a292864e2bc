"""Collections writes. One transaction per public function (nightly jobs commit per account or
per bill so an interrupted run keeps its work); every function takes `as_of`.

Split by concern (late fees, dunning, promises, suspension, the nightly run); import from here.
"""

from gridcare.collections.services._common import UnableToChangeCase
from gridcare.collections.services.dunning import DunningResult, call_tasks_cancel_paid, dunning_run
from gridcare.collections.services.latefees import (
    AssessResult,
    Quote,
    late_fee_quote,
    late_fees_assess,
    late_fees_assess_account,
    late_fees_assess_accounts,
)
from gridcare.collections.services.promises import call_task_complete, promise_record, promises_settle
from gridcare.collections.services.run import RunResult, collections_run
from gridcare.collections.services.suspension import (
    suspension_approve,
    suspension_execute,
    suspension_propose,
    suspension_reject,
    suspension_reminders_send,
    suspension_restore,
    suspensions_follow_up,
    suspensions_propose,
)
from gridcare.collections.services.waivers import late_fee_waiver_decide, late_fee_waiver_request

__all__ = [
    "AssessResult", "DunningResult", "Quote", "RunResult", "UnableToChangeCase", "call_task_complete",
    "call_tasks_cancel_paid", "collections_run", "dunning_run", "late_fee_quote", "late_fees_assess",
    "late_fee_waiver_decide", "late_fee_waiver_request", "late_fees_assess_account", "late_fees_assess_accounts",
    "promise_record", "promises_settle", "suspension_approve", "suspension_execute", "suspension_propose",
    "suspension_reject", "suspension_reminders_send", "suspension_restore", "suspensions_follow_up",
    "suspensions_propose",
]
