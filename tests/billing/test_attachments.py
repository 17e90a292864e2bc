"""The bill notice e-mail carries the bill PDF, rendered by the outbox when it sends (real
ReportLab rendering, Django's locmem mail backend); a bill that cannot be rendered fails its
message with the reason instead of raising."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from gridcare.billing import services
from gridcare.billing.attachments import bill_pdf_ref
from gridcare.billing.models import Bill, BillException
from gridcare.core.errors import ValidationFailed
from gridcare.notifications.backends import RecordingBackend
from gridcare.notifications.models import Message
from gridcare.notifications.policy import reset_caches
from gridcare.notifications.services import message_enqueue, outbox_dispatch
from tests.billing import conftest as billing_fixtures
from tests.billing.conftest import AS_OF, NOV1, OCT1
from tests.metering.helpers import metered_account, seed_read

pytestmark = pytest.mark.django_db
staff, tariffs = billing_fixtures.staff, billing_fixtures.tariffs


@pytest.fixture(autouse=True)
def _locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.GRIDCARE_PUBLIC_URL = "https://95598.example.cn"
    reset_caches()
    RecordingBackend.reset()
    yield
    reset_caches()


def _bill(org, staff, *, issue: bool = True) -> Bill:
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential")
    acct.customer.email = "zhang@example.com"
    acct.customer.save(update_fields=["email"])
    seed_read(m, "total", OCT1, "1000")
    seed_read(m, "total", NOV1, "1150")
    run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    if issue:
        for exc in BillException.objects.filter(status="open"):
            services.bill_exception_confirm(exception_id=exc.pk, actor=staff["auditor"], as_of=AS_OF)
        services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
        services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    return Bill.objects.get()


def test_bill_email_attaches_the_pdf_and_keeps_the_link(org, tariffs, staff):
    bill = _bill(org, staff)
    report = services.bills_deliver(bill_ids=[bill.pk], as_of=AS_OF, channels=("email",))
    assert (report.queued, report.failed) == (1, 0)
    message = Message.objects.get(channel="email")
    assert message.attachments == [{"kind": "bill_pdf", "ref": str(bill.pk)}]

    result = outbox_dispatch(as_of=AS_OF)
    assert (result.sent, result.failed) == (1, 0)
    [email] = mail.outbox
    assert email.to == ["zhang@example.com"] and bill.number in email.subject
    assert f"https://95598.example.cn/portal/bills/{bill.pk}/pdf/" in email.body
    [(filename, content, mimetype)] = email.attachments
    assert (filename, mimetype) == (f"{bill.number}.pdf", "application/pdf")
    assert content[:5] == b"%PDF-" and content.rstrip().endswith(b"%%EOF")
    assert bill.number.encode() in content  # the document title
    # The MIME message a mail server receives carries it as application/pdf with the bill's file name.
    raw = email.message().as_string()
    assert "Content-Type: application/pdf" in raw and f'filename="{bill.number}.pdf"' in raw
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, "")


def test_a_provider_failure_retries_with_the_attachment(org, tariffs, staff, settings):
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {"email": "gridcare.notifications.backends.RecordingBackend"}
    bill = _bill(org, staff)
    services.bills_deliver(bill_ids=[bill.pk], as_of=AS_OF, channels=("email",))
    RecordingBackend.fail_next = 1
    first = outbox_dispatch(as_of=AS_OF)
    assert (first.sent, first.retrying) == (0, 1)
    second = outbox_dispatch(as_of=AS_OF + timedelta(minutes=1))
    assert second.sent == 1
    message = Message.objects.get(channel="email")
    [pdf] = RecordingBackend.attachments[message.pk]
    assert (pdf.filename, pdf.mimetype, pdf.content[:5]) == (f"{bill.number}.pdf", "application/pdf", b"%PDF-")
    assert (message.status, message.attempts) == ("sent", 2)


def test_an_unrenderable_bill_fails_its_message_with_the_reason(org, tariffs, staff):
    draft = _bill(org, staff, issue=False)
    message = message_enqueue(channel="email", template="bill_issued", as_of=AS_OF, recipient="zhang@example.com",
                              context={"account_number": "1", "period": "2026-10", "amount": "1", "kwh": "1",
                                       "due_date": "", "payment_reference": "", "bill_number": draft.number,
                                       "pdf_url": ""},
                              attachments=[bill_pdf_ref(draft.pk), ])
    result = outbox_dispatch(as_of=AS_OF)
    assert (result.sent, result.failed, result.retrying) == (0, 1, 0)
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 1
    assert message.last_error == f"attachment bill_pdf:{draft.pk}: bill {draft.number} is draft, not issued"
    assert mail.outbox == []


def test_an_oversized_pdf_fails_and_attachments_are_checked_when_queued(org, tariffs, staff, settings, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("limits: {attachment_max_bytes: 1000}\n", encoding="utf-8")
    settings.GRIDCARE_NOTIFICATIONS_POLICY = str(policy)
    bill = _bill(org, staff)
    services.bills_deliver(bill_ids=[bill.pk], as_of=AS_OF, channels=("email",))
    assert outbox_dispatch(as_of=AS_OF).failed == 1
    error = Message.objects.get(channel="email").last_error
    assert error.startswith(f"attachment bill_pdf:{bill.pk}: {bill.number}.pdf is ") and error.endswith(
        " bytes; the limit is 1000")
    with pytest.raises(ValidationFailed) as unknown:
        message_enqueue(channel="email", template="bill_issued", context={}, as_of=AS_OF, recipient="a@b.cn",
                        attachments=[{"kind": "bill_xlsx", "ref": "1"}])
    assert (unknown.value.field, unknown.value.message) == (
        "attachments", "unknown attachment kind 'bill_xlsx' (known: bill_pdf)")
    with pytest.raises(ValidationFailed) as sms:
        message_enqueue(channel="sms", template="bill_issued", context={}, as_of=AS_OF, recipient="13800138000",
                        attachments=[bill_pdf_ref(bill.pk)])
    assert sms.value.message == "only e-mail carries attachments, not sms"
