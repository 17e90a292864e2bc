"""Quality-inspection rules on transcripts (pure), and import → review queue → agent scores (DB)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridcare.assistant import qa, selectors, services
from gridcare.assistant.demo import transcripts
from gridcare.assistant.models import Inspection, Transcript
from gridcare.core.errors import PermissionDenied, ValidationFailed
from tests.assistant.fixtures import AS_OF

GOOD = [
    {"speaker": "agent", "text": "您好，很高兴为您服务，请问有什么可以帮您？", "t": 0},
    {"speaker": "customer", "text": "我家停电了", "t": 5},
    {"speaker": "agent", "text": "您所在小区线路故障，预计两小时恢复。", "t": 12},
    {"speaker": "customer", "text": "好的", "t": 20},
    {"speaker": "agent", "text": "请问还有其他问题吗？", "t": 25},
    {"speaker": "customer", "text": "没有了", "t": 30},
    {"speaker": "agent", "text": "感谢您的来电，再见。", "t": 33},
]


def test_a_call_following_the_etiquette_scores_100():
    result = qa.inspect(qa.parse_turns(GOOD), channel="call", rules=qa.load_rules())
    assert (result.score, result.findings, result.needs_review) == (100, (), False)


def test_each_rule_deducts_its_points_and_names_the_turn():
    turns = [
        {"speaker": "customer", "text": "电费怎么这么高", "t": 0},
        {"speaker": "agent", "text": "户号多少", "t": 50},  # no greeting, 50 s > 30 s first reply (chat)
        {"speaker": "customer", "text": "0500000010", "t": 60},
        {"speaker": "agent", "text": "不知道，这个不归我们管", "t": 200},  # two forbidden phrases, 140 s > 60 s
        {"speaker": "customer", "text": "什么态度，我要投诉", "t": 210},
    ]
    result = qa.inspect(qa.parse_turns(turns), channel="chat", rules=qa.load_rules())
    by_rule = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    assert [f.turn for f in by_rule["greeting"]] == [1]
    assert [f.detail for f in by_rule["forbidden"]] == ["“不知道”", "“不归我们管”"]
    assert [f.detail for f in by_rule["response_time"]] == ["客户等待 50 秒（上限 30 秒）", "客户等待 140 秒（上限 60 秒）"]
    assert {"resolution", "closing", "customer_escalation"} <= set(by_rule)
    # 10 greeting + 40 forbidden + 10 late + 15 resolution + 5 closing
    assert result.score == 20
    assert result.needs_review


def test_forbidden_phrase_deduction_is_capped():
    turns = [{"speaker": "agent", "text": "您好", "t": 0}] + [
        {"speaker": "agent", "text": "不知道", "t": i} for i in range(1, 6)]
    result = qa.inspect(qa.parse_turns(turns), channel="call", rules=qa.load_rules())
    assert sum(f.deduction for f in result.findings if f.rule == "forbidden") == 60


def test_bad_transcript_is_reported_by_turn():
    with pytest.raises(ValidationFailed) as err:
        qa.parse_turns([{"speaker": "robot", "text": "", "t": 5}, {"speaker": "agent", "text": "hi", "t": 1}])
    assert "turn 1: speaker must be agent or customer" in err.value.message
    assert "turn 1: text is empty" in err.value.message
    assert "turn 2: t goes backwards" in err.value.message


def test_rules_file_problems_are_listed():
    with pytest.raises(ValidationFailed) as err:
        qa.parse_rules({"rules": [{"code": "x", "kind": "greeting"}, {"code": "x", "kind": "nope"}]})
    assert "greeting needs phrases" in err.value.message
    assert "duplicate code x" in err.value.message
    assert "kind 'nope'" in err.value.message


def test_import_review_queue_and_agent_scores(town):
    rows = transcripts(seed=7, as_of=AS_OF, n=20, agents=["writer", "坐席-孙浩"])
    result = services.transcripts_import(actor=town.supervisor_gd, rows=rows, as_of=AS_OF)
    assert (result.created, result.skipped) == (20, 0)
    again = services.transcripts_import(actor=town.supervisor_gd, rows=rows, as_of=AS_OF)
    assert (again.created, again.skipped) == (0, 20)
    assert Transcript.objects.filter(agent=town.writer).count() == 10  # "writer" matched the username

    queue = list(selectors.review_queue_inspections(user=town.supervisor_gd))
    assert len(queue) == result.review == Inspection.objects.filter(status="review").count()
    scores = {s.agent: s for s in selectors.agent_scores(user=town.supervisor_gd)}
    assert {s.inspected for s in scores.values()} == {10}
    assert set(scores) == {"writer", "坐席-孙浩"}

    target = queue[0]
    with pytest.raises(PermissionDenied):
        services.inspection_review(actor=town.writer, inspection_id=target.pk, final_score=90, note="ok", as_of=AS_OF)
    reviewed = services.inspection_review(actor=town.supervisor_gd, inspection_id=target.pk, final_score=90,
                                          note="客户情绪由停电引起，坐席处理得当", as_of=AS_OF + timedelta(hours=1))
    assert (reviewed.status, reviewed.effective_score, reviewed.reviewer) == ("reviewed", 90, town.supervisor_gd)
    with pytest.raises(services.UnableToReviewInspection):
        services.inspection_review(actor=town.supervisor_gd, inspection_id=target.pk, final_score=80, note="x",
                                   as_of=AS_OF)


def test_import_is_all_or_nothing(town):
    rows = transcripts(seed=7, as_of=AS_OF, n=3)
    rows[2] = {**rows[2], "channel": "fax"}
    with pytest.raises(ValidationFailed) as err:
        services.transcripts_import(actor=town.supervisor_gd, rows=rows, as_of=AS_OF)
    assert err.value.field == "channel"
    assert "item 3" in err.value.message
    assert Transcript.objects.count() == 0
