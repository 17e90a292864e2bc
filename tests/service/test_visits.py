"""Return visits: created on close, phone task or SMS survey, quiet hours, question bank, and
dissatisfaction reopening the order with a negative-list entry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.notifications.models import Message
from gridcare.service.models import NegativeListEntry, ReturnVisit
from gridcare.service.selectors import return_visit_queue, satisfaction_summary
from gridcare.service.services import (
    UnableToVisitNow,
    return_visit_answer_survey,
    return_visit_complete,
    return_visit_unreachable,
    sla_tick,
    survey_path,
    work_order_close,
)
from tests.service.conftest import at

pytestmark = pytest.mark.django_db


def closed(desk, *, category, as_of, description="x"):
    order = desk.create(as_of=as_of - timedelta(minutes=10), account_number="0000000001", category=category,
                        description=description)
    return work_order_close(actor=desk.complaint_agent if category.startswith("complaint") else desk.repair_agent,
                            number=order.number, resolution="已处理", as_of=as_of)


def test_complaint_gets_a_phone_visit_with_its_questions(desk):
    order = closed(desk, category="complaint.service.attitude", as_of=at(2025, 11, 3, 15))
    visit = order.return_visits.get()
    assert (visit.method, visit.status, visit.scheduled_at) == ("phone", "pending", at(2025, 11, 3, 15))
    assert visit.due_at == at(2025, 11, 4, 15)  # 1 working day
    assert [q["code"] for q in visit.questions] == ["resolved", "satisfaction", "timely", "attitude", "comment"]


def test_closing_at_night_schedules_the_visit_for_eight_in_the_morning(desk):
    order = closed(desk, category="complaint.service.attitude", as_of=at(2025, 11, 3, 22, 30))
    visit = order.return_visits.get()
    assert visit.scheduled_at == at(2025, 11, 4, 8)
    assert list(return_visit_queue(user=desk.sup_py, as_of=at(2025, 11, 3, 23))) == []
    assert list(return_visit_queue(user=desk.sup_py, as_of=at(2025, 11, 4, 8))) == [visit]


def test_phone_visit_refused_in_quiet_hours_unless_the_customer_asked(desk):
    visit = closed(desk, category="complaint.service.attitude", as_of=at(2025, 11, 3, 15)).return_visits.get()
    answers = {"resolved": "yes", "satisfaction": 5, "timely": "yes", "attitude": 5}
    with pytest.raises(UnableToVisitNow) as exc:
        return_visit_complete(actor=desk.hotline, visit_id=visit.pk, answers=answers, as_of=at(2025, 11, 3, 21))
    assert exc.value.status == 409 and "08:00" in exc.value.message
    visit.refresh_from_db()
    assert visit.status == "pending" and visit.attempts == 0
    done = return_visit_complete(actor=desk.hotline, visit_id=visit.pk, answers=answers, as_of=at(2025, 11, 3, 21),
                                 customer_requested_time=True)
    assert done.satisfied is True and done.score == 5


def test_quiet_hours_are_configurable(desk, settings, tmp_path):
    from gridcare.service.policy import reset_policy_cache

    (tmp_path / "return_visit.yaml").write_text('quiet_hours: {start: "20:00", end: "09:00"}\n', encoding="utf-8")
    settings.GRIDCARE_SERVICE_POLICY_DIR = str(tmp_path)
    reset_policy_cache()
    visit = closed(desk, category="complaint.service.attitude", as_of=at(2025, 11, 3, 20, 30)).return_visits.get()
    assert visit.scheduled_at == at(2025, 11, 4, 9)


def test_dissatisfied_phone_visit_reopens_and_records_a_negative_entry(desk):
    order = closed(desk, category="complaint.service.attitude", as_of=at(2025, 11, 3, 15))
    visit = order.return_visits.get()
    return_visit_complete(actor=desk.hotline, visit_id=visit.pk, as_of=at(2025, 11, 3, 16),
                          answers={"resolved": "no", "satisfaction": 4, "timely": "yes", "attitude": 4})
    order.refresh_from_db()
    assert (order.status, order.reopen_count) == ("in_progress", 1)
    assert order.events.filter(kind="reopened_by_visit").count() == 1
    entry = NegativeListEntry.objects.get(kind="dissatisfied")
    assert (entry.org_unit.code, entry.grid_cell, entry.accountable_user) == ("PY1", "PY-01", desk.complaint_agent)
    assert order.clocks.filter(round=1, key="reply").count() == 1


@pytest.mark.parametrize(("answers", "field"), [
    ({"resolved": "yes", "timely": "yes", "attitude": 4}, "answers.satisfaction"),
    ({"resolved": "maybe", "satisfaction": 4, "timely": "yes", "attitude": 4}, "answers.resolved"),
    ({"resolved": "yes", "satisfaction": 9, "timely": "yes", "attitude": 4}, "answers.satisfaction"),
    ({"resolved": "yes", "satisfaction": 4, "timely": "yes", "attitude": 4, "colour": "red"}, "answers.colour"),
])
def test_bad_answers_name_the_question(desk, answers, field):
    visit = closed(desk, category="complaint.service.attitude", as_of=at(2025, 11, 3, 15)).return_visits.get()
    with pytest.raises(ValidationFailed) as exc:
        return_visit_complete(actor=desk.hotline, visit_id=visit.pk, answers=answers, as_of=at(2025, 11, 3, 16))
    assert exc.value.field == field
    visit.refresh_from_db()
    assert visit.status == "pending"


def test_unreachable_after_three_attempts_retries_outside_quiet_hours(desk):
    visit = closed(desk, category="complaint.service.attitude", as_of=at(2025, 11, 3, 15)).return_visits.get()
    v = return_visit_unreachable(actor=desk.hotline, visit_id=visit.pk, note="无人接听", as_of=at(2025, 11, 3, 20))
    assert (v.status, v.attempts, v.scheduled_at) == ("pending", 1, at(2025, 11, 4, 8))  # 22:00 is quiet
    return_visit_unreachable(actor=desk.hotline, visit_id=visit.pk, note="无人接听", as_of=at(2025, 11, 4, 9))
    v = return_visit_unreachable(actor=desk.hotline, visit_id=visit.pk, note="关机", as_of=at(2025, 11, 4, 12))
    assert (v.status, v.attempts) == ("unreachable", 3)
    with pytest.raises(ValidationFailed):
        return_visit_unreachable(actor=desk.hotline, visit_id=visit.pk, note="", as_of=at(2025, 11, 4, 13))


def test_repair_gets_an_sms_survey_held_to_the_morning(desk):
    order = closed(desk, category="repair.lv_outage.single", as_of=at(2025, 11, 3, 20, 50))
    visit = order.return_visits.get()
    assert (visit.method, visit.status) == ("sms", "sent")
    assert visit.scheduled_at == at(2025, 11, 4, 8)  # 20:50 + 30 min delay falls in quiet hours
    sms = Message.objects.get(purpose="return_visit")
    assert sms.recipient == "13812345678" and sms.scheduled_at == at(2025, 11, 4, 8)
    assert survey_path(visit.token) in sms.body
    assert [q["code"] for q in visit.questions] == ["resolved", "satisfaction", "timely", "attitude", "arrival",
                                                    "comment"]


def test_survey_answer_by_token_then_it_is_used_up(desk):
    visit = closed(desk, category="repair.lv_outage.single", as_of=at(2025, 11, 3, 10)).return_visits.get()
    answers = {"resolved": "yes", "satisfaction": "2", "timely": "yes", "attitude": "3", "arrival": "no"}
    done = return_visit_answer_survey(token=visit.token, answers=answers, as_of=at(2025, 11, 3, 12))
    assert (done.score, done.satisfied) == (2, False)  # ≤ 2 is dissatisfied
    assert done.work_order.status == "in_progress"
    with pytest.raises(ValidationFailed) as exc:
        return_visit_answer_survey(token=visit.token, answers=answers, as_of=at(2025, 11, 3, 13))
    assert exc.value.field == "token"
    with pytest.raises(NotFound):
        return_visit_answer_survey(token="nope", answers=answers, as_of=at(2025, 11, 3, 13))


def test_survey_expires_after_seven_days_and_tick_marks_it(desk):
    visit = closed(desk, category="repair.lv_outage.single", as_of=at(2025, 11, 3, 10)).return_visits.get()
    with pytest.raises(ValidationFailed, match="expired"):
        return_visit_answer_survey(token=visit.token, answers={"satisfaction": 5}, as_of=at(2025, 11, 10, 11))
    assert sla_tick(as_of=at(2025, 11, 10, 11)).expired_surveys == 1
    visit.refresh_from_db()
    assert visit.status == ReturnVisit.Status.EXPIRED


def test_satisfaction_summary(desk):
    for hour, score in ((10, 5), (11, 4), (12, 1)):
        visit = closed(desk, category="repair.lv_outage.single", as_of=at(2025, 11, 3, hour)).return_visits.get()
        return_visit_answer_survey(token=visit.token, as_of=at(2025, 11, 3, hour, 50), answers={
            "resolved": "yes", "satisfaction": score, "timely": "yes", "attitude": 5, "arrival": "yes"})
    summary = satisfaction_summary(user=desk.sup_gd, start=at(2025, 11, 3), end=at(2025, 11, 4))
    assert summary == {"completed": 3, "satisfied": 2, "satisfaction_rate": 0.6667, "average_score": 3.33}
