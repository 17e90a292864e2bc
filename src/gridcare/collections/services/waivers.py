"""Late-fee waivers (违约金减免) with two people: one asks, another approves.

The money side — the approval request, the four-eyes check and the ledger entry crediting the
late-fee item — is payments' approval flow (`ApprovalRequest` kind `late_fee_waiver`); these
functions are the collections entry points to it, so the console and API of collections offer
waivers next to the fee's working without a second implementation of the rule.
"""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _

from gridcare.access.models import User
from gridcare.core.errors import NotFound
from gridcare.payments.models import ApprovalRequest, Charge
from gridcare.payments.services import approval_decide, approval_request


def late_fee_waiver_request(*, actor: User, fee_charge_id: int, amount_fen: int, reason: str,
                            as_of: datetime) -> ApprovalRequest:
    """Ask to waive `amount_fen` of one late-fee item. Posts nothing. Raises NotFound (charge),
    ValidationFailed (amount_fen, reason, charge_id), UnableToPost (more than is owed),
    PermissionDenied."""
    fee = Charge.objects.filter(pk=fee_charge_id, kind=Charge.Kind.LATE_FEE).first()
    if fee is None:
        raise NotFound(_("late fee %(id)s not found") % {"id": fee_charge_id}, field="fee_charge_id")
    return approval_request(kind=ApprovalRequest.Kind.LATE_FEE_WAIVER, account_id=fee.account_id,
                            amount_fen=amount_fen, reason=reason, actor=actor, as_of=as_of, charge_id=fee.pk)


def late_fee_waiver_decide(*, actor: User, request_id: int, approve: bool, as_of: datetime,
                           note: str = "") -> ApprovalRequest:
    """Approve (the waiver is posted) or reject; the approver may not be the requester."""
    if not ApprovalRequest.objects.filter(pk=request_id, kind=ApprovalRequest.Kind.LATE_FEE_WAIVER).exists():
        raise NotFound(_("waiver request %(id)s not found") % {"id": request_id}, field="request_id")
    return approval_decide(request_id=request_id, approve=approve, actor=actor, as_of=as_of, note=note)
