"""The ledger writes collections needs, behind one seam: posting a late fee.

Collections never writes postings itself; payments' public services do (docs/payments.md). This
module is the only place collections calls them for writing, so a change of that interface is a
change here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from gridcare.payments.models import Charge
from gridcare.payments.services import late_fee_charge_post


@dataclass(frozen=True)
class PostedFee:
    charge: Charge
    created: bool


def late_fee_post(*, bill_id: int, amount_fen: int, through: date, as_of: datetime, description: str) -> PostedFee:
    """A late-fee open item on the bill's account (receivable debit, late-fee income credit),
    idempotent by (bill, through); credit the customer holds is applied to it by payments."""
    posted = late_fee_charge_post(charge_id=bill_id, amount_fen=amount_fen, through=through, as_of=as_of,
                                  description=description)
    return PostedFee(charge=posted.charge, created=posted.created)
