"""The reply composer without a database: routing by intent, thresholds, offers and hand-over rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gridcare.assistant.engine import AccountAnswer, Assistant, PastTurn, shipped_assistant
from gridcare.assistant.policy import assistant_policy, load_policy, parse_policy
from gridcare.core.errors import ValidationFailed


class Facts:
    def __init__(self, answers=None):
        self.answers = answers or {}
        self.asked = []

    def answer(self, intent, text):
        self.asked.append(intent)
        return self.answers.get(intent)


@pytest.fixture(scope="module")
def bot() -> Assistant:
    return shipped_assistant()


def test_greeting_and_goodbye_are_fixed_replies(bot):
    assert bot.reply("你好").kind == "fixed"
    assert bot.reply("好的谢谢，再见").intent == "thanks_bye"


def test_knowledge_question_is_answered_with_the_article(bot):
    reply = bot.reply("峰谷电价怎么取消")
    assert reply.kind == "answer"
    assert reply.article.id == "change-006"
    assert reply.article.title in reply.text


def test_off_topic_question_is_declined(bot):
    reply = bot.reply("今天天气怎么样")
    assert (reply.kind, reply.intent) == ("out_of_domain", "out_of_domain")


def test_account_intent_uses_the_account_context(bot):
    facts = Facts({"bill_amount": AccountAnswer(text="2026年10月电费 100.00 元。", data={"bill": "B1"})})
    reply = bot.reply("上个月电费多少", account=facts)
    assert (reply.kind, reply.intent, reply.facts) == ("account", "bill_amount", {"bill": "B1"})
    assert reply.text == "2026年10月电费 100.00 元。"
    assert facts.asked == ["bill_amount"]


def test_account_intent_without_login_answers_from_the_knowledge_base(bot):
    reply = bot.reply("上个月电费多少")
    assert reply.kind == "answer"
    assert reply.text.startswith(assistant_policy().reply("login_for_account"))


def test_account_intent_without_data_says_so_and_falls_back(bot):
    reply = bot.reply("我欠费多少", account=Facts())
    assert reply.text.startswith(assistant_policy().reply("account_unavailable"))
    assert reply.answered_article is not None


def test_complaint_offers_a_ticket_and_yes_accepts_it(bot):
    first = bot.reply("我要投诉你们营业厅工作人员态度恶劣")
    assert (first.kind, first.offer, first.level1) == ("ticket", "ticket", "投诉")
    assert first.complaint_category == "服务"
    second = bot.reply("好的", history=[first.as_turn()])
    assert (second.kind, second.handover) == ("handover", "ticket")


def test_yes_without_an_offer_is_just_a_message(bot):
    reply = bot.reply("好的", history=[PastTurn(intent="greeting", kind="fixed")])
    assert reply.handover == ""


def test_asking_for_a_person_hands_over(bot):
    assert bot.reply("我要人工服务").handover == "asked"


def test_second_low_confidence_reply_hands_over(bot):
    first = bot.reply("量子纠缠的磁通量补偿系数")
    assert (first.kind, first.low_confidence, first.offer) == ("not_found", True, "handover")
    second = bot.reply("区块链元宇宙碳汇期权怎么对冲", history=[first.as_turn()])
    assert second.handover == "low_confidence"
    # an emoji in between does not reset the count and does not count itself
    third = bot.reply("区块链元宇宙碳汇期权怎么对冲",
                      history=[first.as_turn(), PastTurn(intent="", kind="invalid")])
    assert third.handover == "low_confidence"


def test_same_question_three_times_hands_over(bot):
    turns = [PastTurn(intent="tariff_inquiry", kind="answer")] * 2
    assert bot.reply("阶梯电价怎么算", history=turns).handover == "repeated"
    assert bot.reply("阶梯电价怎么算", history=turns[:1]).handover == ""


def test_repeated_contact_hands_over_at_the_start_of_a_conversation(bot):
    assert bot.reply("怎么交电费", recent_conversations=3).handover == "repeat_contact"
    assert bot.reply("怎么交电费", recent_conversations=2).handover == ""


@pytest.mark.parametrize("text, kind", [
    (None, "invalid"), ("", "invalid"), ("\n\t ", "invalid"), ("🙂🙂🙂", "invalid"), ("？？！！", "invalid"),
    ("qwertyuiop", "invalid"),
])
def test_unusable_input_gets_a_kind_reply(bot, text, kind):
    reply = bot.reply(text)
    assert reply.kind == kind
    assert reply.text
    assert not reply.low_confidence


def test_very_long_message_is_truncated_with_a_note(bot):
    reply = bot.reply("我家停电了，" * 400)
    assert reply.notes and "500" in reply.notes[0]
    assert reply.intent == "outage_report"


def test_mixed_language_message_is_understood(bot):
    reply = bot.reply("my meter is broken, 电表坏了")
    assert reply.intent == "meter_fault"
    english = bot.reply("how do I pay my electricity bill")
    assert english.intent == "how_to_pay"
    assert english.notes == (assistant_policy().reply("latin_only"),)


def test_thresholds_come_from_the_policy(bot):
    strict = Assistant(index=bot.index, classifier=bot.classifier,
                       policy=replace(bot.policy, thresholds=replace(bot.policy.thresholds, answer=0.99, suggest=0.98)))
    assert strict.reply("峰谷电价怎么取消").kind == "not_found"


def test_policy_file_is_validated_as_a_whole():
    with pytest.raises(ValidationFailed) as err:
        parse_policy({"thresholds": {"answer": 2, "suggest": "x"}, "handover": {}, "replies": {}}, origin="bad.yaml")
    message = err.value.message
    assert "thresholds.answer: 2.0 is not between 0 and 1" in message
    assert "thresholds.suggest" in message and "handover.low_confidence_limit" in message
    assert "replies: missing" in message


def test_policy_override_file(tmp_path):
    text = load_policy().replies
    assert text["empty"]
    with pytest.raises(ValidationFailed):
        load_policy(tmp_path / "missing.yaml")


def test_service_classifier_plugin():
    from gridcare.assistant.plugin import service_classify

    assert service_classify("我家停电了，整个屋都没电")["category"] == "repair.lv_outage.single"
    complaint = service_classify("你们营业厅的工作人员态度太差了，我要投诉")
    assert complaint["category"] == "complaint.service"
    assert service_classify("你好") is None  # no work-order category: the service desk keeps its rules
    assert service_classify("") is None


def test_every_hand_over_category_exists_in_the_service_taxonomy():
    from gridcare.service.policy import service_policy

    known = service_policy().taxonomy.categories
    policy = assistant_policy()
    used = set(policy.work_order_categories.values()) | set(policy.complaint_categories.values())
    assert used - set(known) == set()
