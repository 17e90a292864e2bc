"""Intake from every channel: agent entry, portal, signed webhooks, .eml e-mail, internal apps;
classification, routing, first-contact responsibility, repeated contacts, attachments, outages."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage

import pytest

from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.notifications.models import Message
from gridcare.service.models import Attachment, ContactLog, InboundEvent, NegativeListEntry, WorkOrder
from gridcare.service.services import (
    OutageInput,
    WebhookRejected,
    WorkOrderInput,
    attachment_add,
    outage_create,
    webhook_signature,
    work_order_create,
    work_order_from_email,
    work_order_from_webhook,
    work_order_open,
    work_order_record_contact,
)
from tests import factories as f
from tests.service.conftest import at

pytestmark = pytest.mark.django_db

T0 = at(2025, 11, 3, 10)  # a Monday
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


# -- agent entry, classification, routing ---------------------------------------------------------
def test_hotline_order_is_classified_routed_and_numbered(desk):
    order = desk.create(as_of=T0, account_number="0000000001", description="营业员服务态度差，推诿不办")
    assert order.number == f"20251103{order.pk:06d}"
    assert order.category == "complaint.service.attitude"
    assert order.classification["engine"] == "rules"
    assert order.classification["matched"] == ["态度差", "推诿", "服务态度"]
    assert (order.type, order.grade, order.priority) == ("complaint", "general", "normal")
    assert order.customer == desk.customer and order.service_point == desk.point
    assert order.grid_cell == "PY-01"
    # Complaint rule: skill "complaint", unit from the service point (PY1) or nearest above with one.
    assert order.org_unit.code == "PY1"
    assert order.assignee == desk.complaint_agent
    assert order.first_contact_user == desk.hotline
    assert order.status == "assigned"
    assert [e.kind for e in order.events.all()] == ["created"]
    assert order.impact["affected_customers"] == 2  # the two customers in grid cell PY-01
    assert order.impact["escalation_risk"]["level"] == "low"


def test_explicit_category_and_grade_win_over_the_classifier(desk):
    order = desk.create(as_of=T0, account_number="0000000001", description="停电", category="complaint.quality.voltage",
                        grade="important")
    assert (order.category, order.grade, order.priority) == ("complaint.quality.voltage", "important", "urgent")


def test_grade_is_dropped_for_ungraded_types(desk):
    order = desk.create(as_of=T0, category="inquiry.tariff.tiered", grade="major", description="阶梯电价怎么算")
    assert order.grade == "general"


@pytest.mark.parametrize(("fields", "field"), [
    ({"description": ""}, "description"),
    ({"category": "complaint.nonsense"}, "category"),
    ({"grade": "enormous", "category": "complaint.service"}, "grade"),
    ({"channel": "pigeon"}, "channel"),
    ({"channel": "portal"}, "channel"),  # staff cannot file as the portal
    ({"contact_phone": "12345"}, "contact_phone"),
    ({"contact_email": "nobody"}, "contact_email"),
    ({"area_type": "moon"}, "area_type"),
    ({"account_number": "9999999999"}, "account_number"),
    ({"service_point_code": "NOPE"}, "service_point_code"),
])
def test_bad_input_names_the_field_and_writes_nothing(desk, fields, field):
    with pytest.raises(ValidationFailed) as exc:
        desk.create(as_of=T0, **fields)
    assert exc.value.field == field
    assert WorkOrder.objects.count() == 0 and ContactLog.objects.count() == 0


def test_agent_outside_the_customers_org_cannot_file_for_their_account(desk):
    sz_agent = f.user("agent", desk.org["SZ"], username="sz_agent")
    with pytest.raises(ValidationFailed) as exc:
        desk.create(as_of=T0, actor=sz_agent, account_number="0000000001")
    assert exc.value.field == "account_number"


def test_role_without_service_work_cannot_file(desk):
    cashier = f.user("cashier", desk.org["GD"])
    with pytest.raises(PermissionDenied):
        desk.create(as_of=T0, actor=cashier)


def test_portal_customer_files_for_themselves_only(desk):
    me = f.user("customer", customer=desk.customer, username="me")
    order = work_order_create(actor=me, data=WorkOrderInput(channel="portal", description="电费太高了，电费异常"),
                              as_of=T0)
    assert order.customer == desk.customer and order.first_contact_user is None
    assert order.channel == "portal" and order.category == "complaint.business.billing"
    with pytest.raises(ValidationFailed) as exc:
        work_order_create(actor=me, data=WorkOrderInput(channel="portal", description="x",
                                                        customer_id=desk.neighbour.pk), as_of=T0)
    assert exc.value.field == "customer_id"
    with pytest.raises(ValidationFailed):
        work_order_create(actor=me, data=WorkOrderInput(channel="hotline", description="x"), as_of=T0)


def test_routing_falls_back_to_the_creators_unit(desk):
    order = desk.create(as_of=T0, description="阶梯电价怎么算")  # no customer: the creator's unit GD
    assert order.category == "inquiry.tariff.tiered"
    assert order.org_unit.code == "GD" and order.assignee == desk.hotline  # the only agent there


def test_no_agent_with_the_skill_leaves_the_order_in_the_units_queue(desk):
    desk.repair_agent.is_active = False
    desk.repair_agent.save(update_fields=["is_active"])
    order = desk.create(as_of=T0, account_number="0000000001", category="repair.lv_outage.single")
    assert order.org_unit.code == "PY1" and order.assignee is None and order.status == "new"


def test_grid_cell_map_routes_to_the_mapped_unit(desk, settings, tmp_path):
    from gridcare.service.policy import reset_policy_cache

    (tmp_path / "routing.yaml").write_text("grid_cells: {PY-01: SZ}\n", encoding="utf-8")
    settings.GRIDCARE_SERVICE_POLICY_DIR = str(tmp_path)
    reset_policy_cache()
    order = desk.create(as_of=T0, account_number="0000000001", category="repair.lv_outage.single")
    assert order.org_unit.code == "SZ"


def test_area_type_comes_from_the_policy_when_not_entered(desk, settings, tmp_path):
    from gridcare.service.policy import reset_policy_cache

    (tmp_path / "routing.yaml").write_text("area_types: {grid_cells: {PY-02: remote}, org_units: {PY: rural}}\n",
                                           encoding="utf-8")
    settings.GRIDCARE_SERVICE_POLICY_DIR = str(tmp_path)
    reset_policy_cache()
    by_unit = desk.create(as_of=T0, account_number="0000000001", category="repair.lv_outage.single")
    by_cell = desk.create(as_of=T0, account_number="0000000003", category="repair.lv_outage.single")
    entered = desk.create(as_of=T0, account_number="0000000003", category="repair.lv_outage.single",
                          area_type="urban")
    assert (by_unit.area_type, by_cell.area_type, entered.area_type) == ("rural", "remote", "urban")
    assert by_unit.clocks.get(key="arrival").amount == 90 and by_cell.clocks.get(key="arrival").amount == 120


def test_bad_area_type_in_policy_fails_at_load(settings, tmp_path):
    from gridcare.notifications.policy import PolicyError
    from gridcare.service.policy import reset_policy_cache, service_policy

    (tmp_path / "routing.yaml").write_text("area_types: {org_units: {PY: moon}}\n", encoding="utf-8")
    settings.GRIDCARE_SERVICE_POLICY_DIR = str(tmp_path)
    reset_policy_cache()
    with pytest.raises(PolicyError, match="moon"):
        service_policy()


# -- repeated contacts ----------------------------------------------------------------------------
def test_fourth_contact_in_two_hours_raises_priority_once(desk):
    order = desk.create(as_of=T0, account_number="0000000001", category="inquiry.tariff.bill", description="查电费")
    for minutes in (20, 40):
        work_order_record_contact(actor=desk.hotline, number=order.number, channel="hotline", note="催办",
                                  as_of=T0 + timedelta(minutes=minutes))
    order.refresh_from_db()
    assert (order.priority, order.repeat_contact) == ("normal", False)
    work_order_record_contact(actor=desk.hotline, number=order.number, channel="hotline", note="再次催办",
                              as_of=T0 + timedelta(minutes=119))
    order.refresh_from_db()
    assert (order.priority, order.repeat_contact) == ("urgent", True)
    assert NegativeListEntry.objects.filter(kind="repeat_contact", work_order=order).count() == 1
    work_order_record_contact(actor=desk.hotline, number=order.number, channel="hotline", note="又来电",
                              as_of=T0 + timedelta(minutes=121))
    assert NegativeListEntry.objects.filter(kind="repeat_contact").count() == 1
    assert order.events.filter(kind="repeat_contact").count() == 1


def test_contacts_spread_over_more_than_the_window_do_not_count(desk):
    order = desk.create(as_of=T0, account_number="0000000001", category="inquiry.tariff.bill", description="查电费")
    for hours in (1, 2, 3):
        work_order_record_contact(actor=desk.hotline, number=order.number, channel="hotline", note="催办",
                                  as_of=T0 + timedelta(hours=hours, minutes=1))
    order.refresh_from_db()
    assert order.repeat_contact is False


def test_threshold_is_configurable(desk, settings, tmp_path):
    from gridcare.service.policy import reset_policy_cache

    (tmp_path / "intake.yaml").write_text("repeat_contact: {threshold: 2}\n", encoding="utf-8")
    settings.GRIDCARE_SERVICE_POLICY_DIR = str(tmp_path)
    reset_policy_cache()
    desk.create(as_of=T0, account_number="0000000001", category="inquiry.tariff.bill", description="查电费")
    second = desk.create(as_of=T0 + timedelta(minutes=5), account_number="0000000001",
                         category="inquiry.tariff.bill", description="查电费")
    assert second.repeat_contact is True and second.priority == "urgent"


# -- outages --------------------------------------------------------------------------------------
def test_caller_in_an_outage_cell_is_linked_to_the_known_outage(desk):
    outage, sent = outage_create(actor=desk.sup_py, data=OutageInput(
        kind="fault", title="10kV 市桥线故障", org_unit_code="PY", grid_cells=["PY-01"], start_at=T0,
        end_at=T0 + timedelta(hours=3), reason="线路故障"), as_of=T0)
    assert sent == 2
    order = desk.create(as_of=T0 + timedelta(minutes=10), account_number="0000000001", description="家里没电了")
    assert order.outage == outage
    assert order.events.filter(kind="outage_linked").count() == 1
    assert order.impact["affected_customers"] == 2
    far = desk.create(as_of=T0 + timedelta(minutes=10), account_number="0000000003", description="家里没电了")
    assert far.outage is None


# -- signed webhooks ------------------------------------------------------------------------------
@pytest.fixture
def webhook(settings):
    settings.GRIDCARE_WEBHOOK_SECRETS = {"wechat": "s3cret"}

    def send(payload, *, as_of=T0, ts=None, secret="s3cret", platform="wechat"):
        body = json.dumps(payload, ensure_ascii=False).encode()
        stamp = str(int((ts or as_of).timestamp()))
        sig = webhook_signature(secret=secret, timestamp=stamp, body=body)
        return work_order_from_webhook(platform=platform, body=body, timestamp=stamp, signature=sig, as_of=as_of)

    return send


def test_webhook_creates_once_per_message_id_and_matches_the_customer_by_phone(desk, webhook):
    payload = {"message_id": "wx-1", "text": "我家停电了", "sender": {"phone": "13812345678", "name": "张"}}
    first = webhook(payload)
    assert first.created and first.work_order.channel == "messaging"
    assert first.work_order.customer == desk.customer
    assert first.work_order.external_ref == "wechat:wx-1"
    assert Message.objects.filter(purpose="acknowledgement", recipient="13812345678").count() == 1
    again = webhook(payload, as_of=T0 + timedelta(seconds=30))
    assert not again.created and again.work_order.pk == first.work_order.pk
    assert WorkOrder.objects.count() == 1 and InboundEvent.objects.count() == 1


@pytest.mark.parametrize(("kwargs", "field", "code"), [
    ({"secret": "wrong"}, "X-Gridcare-Signature", "unauthenticated"),
    ({"ts": T0 - timedelta(minutes=6)}, "X-Gridcare-Timestamp", "stale_request"),
    ({"ts": T0 + timedelta(minutes=6)}, "X-Gridcare-Timestamp", "stale_request"),
])
def test_webhook_rejects_bad_signatures_and_replays(desk, webhook, kwargs, field, code):
    with pytest.raises(WebhookRejected) as exc:
        webhook({"message_id": "wx-2", "text": "停电"}, **kwargs)
    assert (exc.value.field, exc.value.code) == (field, code)
    assert WorkOrder.objects.count() == 0


def test_webhook_unknown_or_unconfigured_platform(desk, webhook):
    with pytest.raises(NotFound):
        webhook({"message_id": "1", "text": "x"}, platform="telegram")
    with pytest.raises(WebhookRejected) as exc:
        webhook({"message_id": "1", "text": "x"}, platform="alipay")
    assert exc.value.field == "platform"


@pytest.mark.parametrize(("payload", "field"), [
    ({"text": "停电"}, "message_id"),
    ({"message_id": "m", "text": ""}, "description"),
    ({"message_id": "m", "text": "停电", "sender": {"phone": "110"}}, "sender.phone"),
    ({"message_id": "m", "text": "停电", "category": "repair.unknown"}, "category"),
])
def test_webhook_payload_errors_name_the_field(desk, webhook, payload, field):
    with pytest.raises(ValidationFailed) as exc:
        webhook(payload)
    assert exc.value.field == field
    assert InboundEvent.objects.count() == 0


# -- inbound e-mail -------------------------------------------------------------------------------
def _eml(*, subject="电费异常", body="户号 0000000001 本月电费太高，请核实。", attachments=(), sender="zhang@example.cn",
         message_id="<m1@example.cn>", html=False) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"张小三 <{sender}>"
    msg["To"] = "95598@grid.example.cn"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    if html:
        msg.set_content("<p>" + body + "</p>", subtype="html")
    else:
        msg.set_content(body)
    for name, content, maintype, subtype in attachments:
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return bytes(msg)


def test_email_finds_the_account_keeps_good_attachments_and_lists_rejected_ones(desk, settings, tmp_path):
    raw = _eml(attachments=[("bill.png", PNG, "image", "png"), ("virus.exe", b"MZ....", "application", "octet-stream")])
    result = work_order_from_email(raw=raw, as_of=T0)
    order = result.work_order
    assert result.created and order.channel == "email"
    assert order.account.number == "0000000001" and order.customer == desk.customer
    assert order.subject == "电费异常" and "本月电费太高" in order.description
    assert order.category == "complaint.business.billing"
    assert [a.name for a in order.attachments.all()] == ["bill.png"]
    assert len(result.rejected_attachments) == 1 and "virus.exe" in result.rejected_attachments[0]
    assert order.events.filter(kind="attachments_rejected").count() == 1
    assert Message.objects.filter(purpose="acknowledgement", channel="sms").count() == 1
    assert work_order_from_email(raw=raw, as_of=T0 + timedelta(hours=1)).created is False
    assert WorkOrder.objects.count() == 1


def test_email_html_only_body_and_sender_match(desk):
    desk.customer.email = "zhang@example.cn"
    desk.customer.save(update_fields=["email"])
    raw = _eml(subject="咨询", body="请问阶梯电价&nbsp;怎么算", html=True, message_id="<m2@x>")
    order = work_order_from_email(raw=raw, as_of=T0).work_order
    assert order.description == "请问阶梯电价 怎么算"
    assert order.customer == desk.customer and order.account is None


@pytest.mark.parametrize("raw", [b"", b"not an email at all"])
def test_email_garbage_is_a_field_error(desk, raw):
    with pytest.raises(ValidationFailed) as exc:
        work_order_from_email(raw=raw, as_of=T0)
    assert exc.value.field == "file"


# -- attachments ----------------------------------------------------------------------------------
def test_attachment_limits(desk, settings):
    order = desk.create(as_of=T0, account_number="0000000001")
    a = attachment_add(actor=desk.hotline, number=order.number, name="../../etc/photo.PNG", content=PNG, as_of=T0)
    assert (a.name, a.content_type, a.size) == ("photo.PNG", "image/png", len(PNG))
    for name, content in [("a.exe", b"MZ"), ("fake.png", b"GIF89a"), ("empty.pdf", b""),
                          ("big.txt", b"x" * (10 * 1024 * 1024 + 1))]:
        with pytest.raises(ValidationFailed) as exc:
            attachment_add(actor=desk.hotline, number=order.number, name=name, content=content, as_of=T0)
        assert exc.value.field == "file"
    assert Attachment.objects.count() == 1
    assert order.events.filter(kind="attachment").count() == 1


# -- other apps: work_order_open ------------------------------------------------------------------
def test_work_order_open_is_idempotent_and_not_a_customer_contact(desk):
    opened = [work_order_open(origin="reconciliation", external_ref="D-1", category="business.other",
                              subject="对账异常督办", description="银行流水无对应缴费", account_number="0000000001",
                              as_of=T0 + timedelta(minutes=i)) for i in range(5)]
    assert [o.created for o in opened] == [True, False, False, False, False]
    order = opened[0].work_order
    assert {o.number for o in opened} == {order.number}
    assert (order.channel, order.external_ref, order.repeat_contact) == ("system", "reconciliation:D-1", False)
    assert ContactLog.objects.count() == 0
    assert order.clocks.filter(key="resolve").count() == 1


def test_assistant_hand_over_keeps_the_transcript_and_counts_as_contact(desk):
    opened = work_order_open(origin="assistant", external_ref="conv-9", channel="assistant",
                             description="客户说电表走得快，要求校验", transcript="客户：电表走得快\n助手：……",
                             account_number="0000000001", as_of=T0)
    order = opened.work_order
    assert order.category == "business.meter_abnormal"
    handover = order.events.get(kind="handover")
    assert handover.note.startswith("客户：电表走得快") and handover.data == {"origin": "assistant",
                                                                         "external_ref": "conv-9"}
    assert ContactLog.objects.filter(work_order=order).count() == 1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"origin": "Bad Origin"}, "origin"),
    ({"external_ref": ""}, "external_ref"),
    ({"channel": "hotline"}, "channel"),
    ({"category": "business.nope"}, "category"),
])
def test_work_order_open_errors(desk, kwargs, field):
    args = {"origin": "collections", "external_ref": "x", "description": "复电", "as_of": T0} | kwargs
    with pytest.raises(ValidationFailed) as exc:
        work_order_open(**args)
    assert exc.value.field == field
    assert WorkOrder.objects.count() == 0
