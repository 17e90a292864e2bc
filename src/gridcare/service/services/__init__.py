"""Service-desk writes. One transaction per public function; every function takes `as_of`.

Split by concern (intake, workflow, sla, visits, outages, quality); import from here.
"""

from gridcare.service.services._common import UnableToChangeWorkOrder, UnableToVisitNow
from gridcare.service.services.intake import (
    InboundResult,
    WebhookRejected,
    WorkOrderInput,
    attachment_add,
    attachment_validate,
    webhook_signature,
    work_order_create,
    work_order_from_email,
    work_order_from_webhook,
    work_order_record_contact,
)
from gridcare.service.services.internal import OpenedWorkOrder, work_order_open
from gridcare.service.services.outages import OutageInput, outage_cancel, outage_create, outage_restore
from gridcare.service.services.quality import (
    negative_entry_create,
    negative_entry_rectify,
    typical_case_create,
)
from gridcare.service.services.sla import TickResult, sla_tick, sla_tick_per_clock
from gridcare.service.services.visits import (
    return_visit_answer_survey,
    return_visit_complete,
    return_visit_unreachable,
    survey_path,
)
from gridcare.service.services.workflow import (
    task_force_form,
    work_order_accept,
    work_order_arrive,
    work_order_assign,
    work_order_cancel,
    work_order_close,
    work_order_contact,
    work_order_merge,
    work_order_note,
    work_order_plan,
    work_order_reopen,
    work_order_reply,
    work_order_resolve,
    work_order_resume,
    work_order_transfer,
    work_order_wait_for_customer,
)

__all__ = [
    "InboundResult", "OpenedWorkOrder", "OutageInput", "TickResult", "UnableToChangeWorkOrder", "UnableToVisitNow", "WebhookRejected",
    "WorkOrderInput", "attachment_add", "attachment_validate", "negative_entry_create", "negative_entry_rectify",
    "outage_cancel", "outage_create", "outage_restore", "return_visit_answer_survey", "return_visit_complete",
    "return_visit_unreachable", "sla_tick", "sla_tick_per_clock", "survey_path", "task_force_form", "typical_case_create",
    "webhook_signature", "work_order_accept", "work_order_arrive", "work_order_assign", "work_order_cancel",
    "work_order_close", "work_order_contact", "work_order_create", "work_order_from_email", "work_order_from_webhook",
    "work_order_merge", "work_order_note", "work_order_open", "work_order_plan", "work_order_record_contact", "work_order_reopen",
    "work_order_reply", "work_order_resolve", "work_order_resume", "work_order_transfer",
    "work_order_wait_for_customer",
]
