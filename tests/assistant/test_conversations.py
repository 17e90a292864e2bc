"""The assistant with demo-style accounts: account-aware intents answered from the customer's own
data, hand-over to a person as a work order with the conversation attached, repeated contact and
bad input."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from gridcare.assistant import services
from gridcare.assistant.models import Conversation, Message
from gridcare.billing.models import Bill, BillLine
from gridcare.core.errors import NotFound
from gridcare.service.models import Outage, WorkOrder
from tests import factories as f
from tests.assistant.fixtures import AS_OF


def bill(account, period: str, *, total_fen: int, kwh: int, start: date, end: date, due: date | None = None,
         price: str = "0.5883") -> Bill:
    b = Bill.objects.create(
        number=f"B{account.number}{period.replace('-', '')}", account=account, org_unit=account.org_unit,
        period_code=period, status=Bill.Status.ISSUED, start_date=start, end_date=end,
        tariff_code=account.tariff_code, total_fen=total_fen, energy_wh=kwh * 1000, due_date=due,
        payment_reference=f"PR{period.replace('-', '')}", created_at=AS_OF, issued_at=AS_OF)
    BillLine.objects.create(bill=b, line_no=1, component="energy", line_code="energy.tier1", tariff=account.tariff_code,
                            tariff_version="1", start_date=start, end_date=end, quantity=Decimal(kwh), unit="kWh",
                            unit_price=Decimal(price), amount_fen=total_fen)
    return b


def start(user, **kw):
    return services.conversation_start(user=user, channel="portal", as_of=AS_OF, **kw)


def ask(user, conv, text, minutes=1):
    return services.conversation_post(user=user, token=conv.token, text=text, as_of=AS_OF + timedelta(minutes=minutes))


@pytest.fixture
def two_bills(town):
    bill(town.account, "2026-09", total_fen=11766, kwh=200, start=date(2026, 9, 1), end=date(2026, 10, 1))
    return bill(town.account, "2026-10", total_fen=23532, kwh=400, start=date(2026, 10, 1), end=date(2026, 11, 1),
                due=date(2026, 11, 25))


def test_last_month_bill_from_the_customers_own_data(town, two_bills):
    conv = start(town.portal)
    assert conv.account == town.account
    result = ask(town.portal, conv, "上个月电费多少")
    assert result.reply.kind == "account"
    assert result.reply.intent == "bill_amount"
    assert "户号 0500000010：2026年10月电费 235.32 元，计费电量 400 度" in result.answer.text
    assert "缴费截止日 2026年11月25日" in result.answer.text
    assert result.answer.data["facts"]["bill"] == two_bills.number


def test_named_month_bill(town, two_bills):
    result = ask(town.portal, start(town.portal), "9月份电费是多少")
    assert "2026年9月电费 117.66 元" in result.answer.text


def test_why_is_this_month_high_explains_the_change(town, two_bills):
    result = ask(town.portal, start(town.portal), "为什么这个月电费这么高")
    assert result.reply.intent == "bill_explain"
    assert result.reply.kind == "account"
    assert "比上期 117.66 元多 117.66 元" in result.answer.text
    assert "用电 400 度（上期 200 度）" in result.answer.text
    assert "变化主要来自：用电量变化 +113.74 元；计费天数不同 +3.92 元。" in result.answer.text


def test_no_bill_yet_is_said_honestly(town):
    result = ask(town.portal, start(town.portal), "上个月电费多少")
    assert result.reply.kind == "account"
    assert "暂未查到已出账的电费账单" in result.answer.text


def test_arrears_from_the_receivables_ledger(town, two_bills):
    from gridcare.payments.services import bill_charge_post, payment_post

    for b in Bill.objects.filter(account=town.account).order_by("period_code"):
        bill_charge_post(account_id=town.account.pk, amount_fen=b.total_fen, reference=b.number,
                         due_date=b.end_date + timedelta(days=20), as_of=AS_OF, source=f"bill:{b.pk}", bill_id=b.pk,
                         period_code=b.period_code)
    payment_post(account_id=town.account.pk, amount_fen=10000, channel="online", method="gateway", source="test",
                 external_ref="T1", received_at=AS_OF, as_of=AS_OF)
    result = ask(town.portal, start(town.portal), "我欠费多少")
    assert result.reply.intent == "arrears"
    assert result.reply.kind == "account"
    assert "目前共欠费 252.98 元（2026年9月电费 17.66 元，已逾期 20 天；2026年10月电费 235.32 元，11月21日到期）" \
        in result.answer.text
    assert result.answer.data["facts"]["balance_fen"] == 25298


def test_no_arrears_after_paying_everything(town, two_bills):
    from gridcare.payments.services import bill_charge_post, payment_post

    bill_charge_post(account_id=town.account.pk, amount_fen=two_bills.total_fen, reference=two_bills.number,
                     due_date=date(2026, 11, 25), as_of=AS_OF, source=f"bill:{two_bills.pk}", bill_id=two_bills.pk,
                     period_code="2026-10")
    payment_post(account_id=town.account.pk, amount_fen=30000, channel="online", method="gateway", source="test",
                 external_ref="T2", received_at=AS_OF, as_of=AS_OF)
    result = ask(town.portal, start(town.portal), "我还欠多少电费")
    assert "目前没有欠费，账户预存余额 64.68 元。" in result.answer.text


def test_how_to_pay_names_the_amount_and_the_channels(town, two_bills):
    result = ask(town.portal, start(town.portal), "怎么交电费")
    assert result.reply.intent == "how_to_pay"
    assert "交费参考号 PR202610" in result.answer.text
    assert "网上国网" in result.answer.text  # the payment article follows the account facts


def test_outage_in_the_grid_cell_is_reported_and_no_order_is_opened(town):
    Outage.objects.create(kind="fault", status="active", title="市桥10kV线路故障", reason="电缆击穿",
                          org_unit=town.org["PY1"], grid_cells=["PY-01"], start_at=AS_OF - timedelta(hours=1),
                          end_at=AS_OF + timedelta(hours=3), created_at=AS_OF)
    result = ask(town.portal, start(town.portal), "我家停电了")
    assert result.reply.intent == "outage_report"
    assert "正在故障停电（市桥10kV线路故障，原因：电缆击穿）" in result.answer.text
    assert "无需重复报修" in result.answer.text
    assert WorkOrder.objects.count() == 0


def test_outage_without_known_cause_offers_repair_and_yes_opens_a_repair_order(town):
    conv = start(town.portal)
    first = ask(town.portal, conv, "我家停电了")
    assert first.reply.offer == "repair"
    assert "回复“好的”我为您登记报修工单" in first.answer.text
    second = ask(town.portal, conv, "好的", minutes=2)
    assert second.reply.handover == "repair"
    order = WorkOrder.objects.get()
    assert (order.category, order.channel, order.customer, order.account) == (
        "repair.lv_outage.single", "portal", town.customer, town.account)
    assert f"工单号 {order.number}" in second.answer.text
    attachment = order.attachments.get()
    transcript = attachment.file.read().decode("utf-8")
    assert "客户：我家停电了" in transcript and "客户：好的" in transcript
    conv.refresh_from_db()
    assert (conv.status, conv.work_order, conv.handover_reason) == ("handed_over", order, "repair")


def test_asking_for_a_person_creates_one_work_order_with_the_conversation(town):
    conv = start(town.portal)
    ask(town.portal, conv, "峰谷电价怎么取消")
    result = ask(town.portal, conv, "我要转人工", minutes=2)
    assert result.reply.handover == "asked"
    order = WorkOrder.objects.get()
    assert "智能客服转人工（您要求人工服务）" in order.description
    assert "客户：峰谷电价怎么取消" in order.description
    again = ask(town.portal, conv, "转人工客服", minutes=3)
    assert f"本次对话已转人工，工单号 {order.number}" in again.answer.text
    assert WorkOrder.objects.count() == 1


def test_handover_button(town):
    conv = start(town.portal)
    ask(town.portal, conv, "我要投诉抄表员态度很差")
    result = services.conversation_handover(user=town.portal, token=conv.token, as_of=AS_OF + timedelta(minutes=2))
    order = WorkOrder.objects.get()
    assert order.type == "complaint"
    assert order.category.startswith("complaint.")
    assert order.number in result.answer.text


def test_two_low_confidence_replies_hand_over_automatically(town):
    conv = start(town.portal)
    first = ask(town.portal, conv, "量子纠缠的磁通量补偿系数")
    assert first.reply.low_confidence and first.reply.kind == "not_found"
    assert WorkOrder.objects.count() == 0
    second = ask(town.portal, conv, "区块链元宇宙碳汇期权怎么对冲", minutes=2)
    assert second.reply.handover == "low_confidence"
    assert WorkOrder.objects.count() == 1
    assert "智能客服多次未能回答您的问题" in second.answer.text


def test_repeated_contact_hands_over_on_the_fourth_conversation(town):
    for i in range(3):
        ask(town.portal, start(town.portal), "怎么交电费", minutes=10 * i)
    assert WorkOrder.objects.count() == 0
    fourth = ask(town.portal, start(town.portal), "怎么交电费", minutes=40)
    assert fourth.reply.handover == "repeat_contact"
    assert WorkOrder.objects.get().repeat_contact is False or WorkOrder.objects.count() == 1


def test_staff_conversation_cannot_hand_over_but_gets_a_reply(town):
    conv = services.conversation_start(user=town.writer, channel="api", as_of=AS_OF)
    result = ask(town.writer, conv, "转人工")
    assert result.reply.handover == "asked"
    assert "转人工需要登录网上营业厅或拨打 95598" in result.answer.text
    assert WorkOrder.objects.count() == 0


def test_authorised_person_hands_over_on_someone_elses_account(town):
    from gridcare.customers.services import authorization_grant

    li = f.customer(town.org["GZ"], name="李四", phone="13700002222")
    authorization_grant(person=li, account=town.account, scope="pay", valid_from=date(2026, 1, 1))
    portal_li = f.user("customer", customer=li, username="li")
    conv = start(portal_li, account_number=town.account.number)
    result = ask(portal_li, conv, "转人工")
    order = WorkOrder.objects.get()
    assert (order.account, order.customer) == (town.account, town.customer)
    # li may not see the holder's order, so the conversation travels in the description instead
    assert order.attachments.count() == 0
    assert "客户：转人工" in order.description
    assert order.number in result.answer.text


@pytest.mark.parametrize("text, kind", [
    ("", "invalid"), ("   ", "invalid"), ("😭😭😭🙏", "invalid"), ("asdfghjkl", "invalid"),
    ("电费" * 5000, None), ("my电费bill为什么so high", None), ("x" * 10000, "invalid"),
])
def test_bad_input_gets_a_reply_never_an_error(town, text, kind):
    result = ask(town.portal, start(town.portal), text)
    assert result.answer.text.strip()
    if kind:
        assert result.reply.kind == kind
    assert Message.objects.filter(conversation=result.conversation).count() == 2
    assert len(Message.objects.get(conversation=result.conversation, seq=1).text) <= 4000


def test_other_peoples_conversations_are_invisible(town):
    conv = start(town.portal)
    other = f.user("customer", customer=town.neighbour, username="neighbour")
    with pytest.raises(NotFound):
        ask(other, conv, "你好")
    assert Conversation.objects.get(pk=conv.pk).messages.count() == 0


@pytest.mark.django_db
def test_warm_up_leaves_the_published_assistant_built():
    """The web entry point warms the assistant so the first customer does not wait for the build."""
    from gridcare.assistant import selectors

    selectors.reset_cache()
    selectors.assistant_warm_up()
    assert selectors._cache.get("assistant") is selectors.published_assistant()


def test_an_announced_planned_outage_is_told_and_later_or_cancelled_ones_are_not(town):
    """Within the planned notice period (outage.yaml: 7 days) an announced outage of the customer's
    grid cell is the answer; one starting later, or cancelled, or in another cell is not."""
    common = {"org_unit": town.org["PY1"], "created_at": AS_OF, "kind": "planned", "status": "scheduled"}
    Outage.objects.create(title="10kV市桥线检修", reason="线路检修", grid_cells=["PY-01"],
                          start_at=AS_OF + timedelta(days=2), end_at=AS_OF + timedelta(days=2, hours=8), **common)
    Outage.objects.create(title="later", grid_cells=["PY-01"], start_at=AS_OF + timedelta(days=9),
                          end_at=AS_OF + timedelta(days=9, hours=8), **common)
    Outage.objects.create(title="cancelled", grid_cells=["PY-01"], start_at=AS_OF + timedelta(days=1),
                          end_at=AS_OF + timedelta(days=1, hours=8), **{**common, "status": "cancelled"})
    Outage.objects.create(title="elsewhere", grid_cells=["PY-99"], start_at=AS_OF + timedelta(days=1),
                          end_at=AS_OF + timedelta(days=1, hours=8), **common)
    result = ask(town.portal, start(town.portal), "最近有停电通知吗")
    assert result.reply.intent == "outage_info"
    start_at = (AS_OF + timedelta(days=2)).astimezone(AS_OF.tzinfo)
    assert (f"已公告计划停电：{start_at:%m月%d日 %H:%M} 至 {start_at + timedelta(hours=8):%m月%d日 %H:%M}"
            "（10kV市桥线检修，原因：线路检修）。请提前做好用电安排。") in result.answer.text


def test_no_outage_answer_quotes_the_configured_notice_period(town):
    result = ask(town.portal, start(town.portal), "最近有停电通知吗")
    assert result.reply.intent == "outage_info"
    assert "近期也没有停电安排。计划停电会提前 7 天公告。" in result.answer.text
