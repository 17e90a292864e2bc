"""Return visits (回访): created when an order closes, done by phone or SMS survey, never in quiet
hours (unless the customer asked for that time); dissatisfaction reopens the order."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from gridcare.access.models import User
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.notifications import services as outbox
from gridcare.service.i18n import _
from gridcare.service.models import NegativeListEntry, ReturnVisit, WorkOrder
from gridcare.service.policy import Question, service_policy
from gridcare.service.selectors import staff_scope_q
from gridcare.service.services._common import UnableToVisitNow, event, local, require
from gridcare.service.services.workflow import reopen

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def survey_path(token: str) -> str:
    """Where the SMS link points (the public survey page); kept here so SMS and page agree."""
    return f"/s/{token}/"


def _question_dicts(questions: list[Question]) -> list[dict[str, Any]]:
    return [{"code": q.code, "text": q.text, "kind": q.kind, "required": q.required, "score": q.is_score,
             "reopen_if": q.reopen_if} for q in questions]


def return_visit_create_for(order: WorkOrder, *, as_of: datetime) -> ReturnVisit | None:
    """Called inside `work_order_close`. The visit is scheduled outside quiet hours; an SMS survey
    goes through the outbox (which holds it to the morning as well); no mobile number → phone task."""
    policy = service_policy()
    spec = policy.return_visit.types.get(order.type)
    if spec is None:
        return None
    method, delay = spec
    if method == ReturnVisit.Method.SMS and not MOBILE_RE.match(order.contact_phone or ""):
        method = ReturnVisit.Method.PHONE
    scheduled = policy.return_visit.quiet_hours.next_allowed(policy.calendar.add(as_of, delay))
    visit = ReturnVisit.objects.create(
        work_order=order, method=method, scheduled_at=scheduled,
        due_at=policy.calendar.add(scheduled, policy.return_visit.due_within), token=secrets.token_urlsafe(24),
        questions=_question_dicts(policy.return_visit.questions_for(order.type)), created_at=as_of,
        status=ReturnVisit.Status.PENDING,
    )
    if method == ReturnVisit.Method.SMS:
        base = policy_base_url()
        outbox.message_enqueue(
            channel="sms", template="service_return_visit_sms",
            context={"number": order.number, "link": f"{base}{survey_path(visit.token)}"},
            recipient=order.contact_phone, as_of=as_of, not_before=scheduled, purpose="return_visit",
            dedupe_key=f"visit:{visit.pk}", object_type="return_visit", object_id=visit.pk,
        )
        visit.status = ReturnVisit.Status.SENT
        visit.save(update_fields=["status"])
    event(order, kind="return_visit_created", at=as_of,
          note=f"回访（{visit.get_method_display()}）安排在 {local(scheduled)}", data={"visit": visit.pk})
    return visit


def policy_base_url() -> str:
    """Public address put in front of survey links (GRIDCARE_PUBLIC_BASE_URL); empty = relative."""
    return str(getattr(settings, "GRIDCARE_PUBLIC_BASE_URL", "") or "").rstrip("/")


def _validate_answers(visit: ReturnVisit, answers: dict[str, Any]) -> tuple[dict[str, Any], int]:
    if not isinstance(answers, dict):
        raise ValidationFailed(_("answers must be an object of question code → answer"), field="answers")
    clean: dict[str, Any] = {}
    score = None
    codes = {q["code"] for q in visit.questions}
    unknown = set(answers) - codes
    if unknown:
        raise ValidationFailed(_("unknown question(s): %(codes)s") % {"codes": ", ".join(sorted(unknown))},
                               field=f"answers.{sorted(unknown)[0]}")
    for q in visit.questions:
        value = answers.get(q["code"])
        if value in (None, ""):
            if q["required"]:
                raise ValidationFailed(_("%(question)s — an answer is required") % {"question": q["text"]},
                                       field=f"answers.{q['code']}")
            continue
        if q["kind"] == "score":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValidationFailed(_("a score must be a whole number 1–5"), field=f"answers.{q['code']}") from None
            if not 1 <= value <= 5:
                raise ValidationFailed(_("a score must be between 1 and 5"), field=f"answers.{q['code']}")
        elif q["kind"] == "yes_no":
            value = str(value).lower()
            if value not in ("yes", "no"):
                raise ValidationFailed(_("answer yes or no"), field=f"answers.{q['code']}")
        else:
            value = str(value).strip()[:500]
        clean[q["code"]] = value
        if q["score"]:
            score = value
    if score is None:
        raise ValidationFailed(_("the satisfaction score is required"), field="answers")
    return clean, score


def _finish(visit: ReturnVisit, *, answers: dict[str, Any], actor: User | None, as_of: datetime) -> ReturnVisit:
    policy = service_policy().return_visit
    clean, score = _validate_answers(visit, answers)
    reopen_reasons = [q["code"] for q in visit.questions
                      if q.get("reopen_if") is not None and clean.get(q["code"]) == q["reopen_if"]]
    satisfied = score > policy.dissatisfied_at_or_below and not reopen_reasons
    visit.answers = clean
    visit.score = score
    visit.satisfied = satisfied
    visit.status = ReturnVisit.Status.COMPLETED
    visit.completed_at = as_of
    visit.agent = actor
    visit.attempts += 1 if visit.method == ReturnVisit.Method.PHONE else 0
    visit.save()
    order = WorkOrder.objects.select_for_update().get(pk=visit.work_order_id)
    event(order, kind="return_visit_completed", at=as_of, actor=actor,
          note=f"回访评分 {score}，{'满意' if satisfied else '不满意'}", data={"visit": visit.pk, "answers": clean})
    if not satisfied:
        NegativeListEntry.objects.get_or_create(
            event_key=f"dissatisfied:{visit.pk}",
            defaults={"kind": NegativeListEntry.Kind.DISSATISFIED, "work_order": order, "org_unit": order.org_unit,
                      "grid_cell": order.grid_cell, "accountable_user": order.assignee,
                      "description": f"{order.number} 回访不满意（评分 {score}）"[:255], "occurred_at": as_of,
                      "recorded_at": as_of},
        )
        if order.status in (WorkOrder.Status.CLOSED, WorkOrder.Status.RESOLVED):
            reopen(order, actor=actor, reason=f"回访不满意（评分 {score}）", as_of=as_of, kind="reopened_by_visit")
    return visit


@transaction.atomic
def return_visit_complete(*, actor: User, visit_id: int, answers: dict[str, Any], as_of: datetime,
                          customer_requested_time: bool = False) -> ReturnVisit:
    """An agent records a phone visit. Refused inside quiet hours unless the customer asked for the
    call at that time (seed 003 7.2.5.2: 除走访对象要求约时回访外)."""
    require(actor, "service.work")
    visit = (ReturnVisit.objects.select_for_update()
             .filter(pk=visit_id, work_order__in=WorkOrder.objects.filter(staff_scope_q(actor)).values("pk")).first())
    if visit is None:
        raise NotFound(_("return visit %(id)s not found") % {"id": visit_id}, field="visit_id")
    if visit.method != ReturnVisit.Method.PHONE or visit.status != ReturnVisit.Status.PENDING:
        raise ValidationFailed(_("this visit is %(status)s (%(method)s)")
                               % {"status": visit.get_status_display(), "method": visit.get_method_display()},
                               field="visit_id")
    quiet = service_policy().return_visit.quiet_hours
    if quiet.contains(as_of) and not customer_requested_time:
        raise UnableToVisitNow(_("no return visits during quiet hours (%(quiet)s); next allowed at %(next)s")
                               % {"quiet": quiet, "next": local(quiet.next_allowed(as_of))}, field="as_of")
    return _finish(visit, answers=answers, actor=actor, as_of=as_of)


@transaction.atomic
def return_visit_unreachable(*, actor: User, visit_id: int, note: str, as_of: datetime) -> ReturnVisit:
    """The customer did not answer: try again later (outside quiet hours) until the attempt limit,
    then record the visit as unreachable with the reason (seed 003 7.2.5.1)."""
    require(actor, "service.work")
    visit = (ReturnVisit.objects.select_for_update()
             .filter(pk=visit_id, work_order__in=WorkOrder.objects.filter(staff_scope_q(actor)).values("pk")).first())
    if visit is None:
        raise NotFound(_("return visit %(id)s not found") % {"id": visit_id}, field="visit_id")
    if visit.method != ReturnVisit.Method.PHONE or visit.status != ReturnVisit.Status.PENDING:
        raise ValidationFailed(_("this visit is %(status)s") % {"status": visit.get_status_display()}, field="visit_id")
    policy = service_policy()
    visit.attempts += 1
    visit.note = (note or "")[:255]
    visit.agent = actor
    if visit.attempts >= policy.return_visit.max_phone_attempts:
        visit.status = ReturnVisit.Status.UNREACHABLE
        visit.completed_at = as_of
    else:
        visit.scheduled_at = policy.return_visit.quiet_hours.next_allowed(
            policy.calendar.add(as_of, policy.return_visit.retry_after))
    visit.save()
    event(WorkOrder.objects.get(pk=visit.work_order_id), kind="return_visit_attempt", at=as_of, actor=actor,
          note=f"回访未接通（第 {visit.attempts} 次）{note}"[:500], data={"visit": visit.pk, "status": visit.status})
    return visit


@transaction.atomic
def return_visit_answer_survey(*, token: str, answers: dict[str, Any], as_of: datetime) -> ReturnVisit:
    """The customer answers the SMS survey through the link (no login; the token is the key)."""
    visit = ReturnVisit.objects.select_for_update().filter(token=token, method=ReturnVisit.Method.SMS).first()
    if visit is None:
        raise NotFound(_("survey not found"), field="token")
    policy = service_policy()
    if visit.status == ReturnVisit.Status.SENT and policy.calendar.add(
            visit.scheduled_at, policy.return_visit.survey_valid_for) <= as_of:
        raise ValidationFailed(_("this survey link has expired"), field="token")
    if visit.status != ReturnVisit.Status.SENT:
        raise ValidationFailed(_("this survey is %(status)s") % {"status": visit.get_status_display()}, field="token")
    return _finish(visit, answers=answers, actor=None, as_of=as_of)
