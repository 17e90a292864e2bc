"""The bill PDF as an e-mail attachment, made by the outbox at delivery time.

The outbox stores only `{"kind": "bill_pdf", "ref": "<bill id>"}`; this provider turns it into the
same PDF the portal serves, seen as the bill's customer sees it (their own name and address in
clear, issued bills only), in the site language (the notice templates are zh-Hans). Issued bills
are immutable, so rendering at delivery gives the document the customer would download.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from gridcare.access.models import User
from gridcare.access.roles import Role
from gridcare.billing.models import Bill
from gridcare.notifications.attachments import Attachment, AttachmentUnavailable

KIND = "bill_pdf"


def bill_pdf_attachment(ref: str) -> Attachment:
    from gridcare.billing.document import bill_pdf
    from gridcare.billing.selectors import bill_document

    bill = Bill.objects.filter(pk=int(ref) if ref.isdigit() else None).select_related("account").first()
    if bill is None:
        raise AttachmentUnavailable(f"bill {ref} does not exist")
    if bill.status != Bill.Status.ISSUED:
        raise AttachmentUnavailable(f"bill {bill.number or ref} is {bill.status}, not issued")
    # The addressee's own view, without a saved login: a customer need not have a portal account.
    reader = User(role=Role.CUSTOMER, customer_id=bill.account.customer_id)
    document = bill_document(user=reader, bill_id=bill.pk)
    if document is None:
        raise AttachmentUnavailable(f"bill {bill.number} is not visible to its customer")
    with translation.override(settings.LANGUAGE_CODE):
        content = bill_pdf(document=document)
    return Attachment(filename=f"{bill.number}.pdf", content=content, mimetype="application/pdf")


def bill_pdf_ref(bill_id: int) -> dict[str, str]:
    return {"kind": KIND, "ref": str(bill_id)}
