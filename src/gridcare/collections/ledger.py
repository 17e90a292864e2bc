"""The ledger writes collections needs, behind one seam: posting late fees.

Collections never writes postings itself; payments' public services do (docs/payments.md). This
module is the only place collections calls them for writing, so a change of that interface is a
change here only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from gridcare.payments.services import LateFeeIn, late_fee_charges_post, late_fee_source


@dataclass(frozen=True)
class FeeToPost:
    bill_id: int
    amount_fen: int
    through: date
    description: str


def late_fees_post(*, fees: Sequence[FeeToPost], as_of: datetime) -> dict[tuple[int, date], int]:
    """Late-fee open items on the bills' accounts (receivable debit, late-fee income credit), posted
    set-based, idempotent by (bill, through); credit the customers hold is applied to them by
    payments. Returns the late-fee item of each (bill, through)."""
    if not fees:
        return {}
    posted = late_fee_charges_post(items=[LateFeeIn(charge_id=f.bill_id, amount_fen=f.amount_fen, through=f.through,
                                                    description=f.description) for f in fees], as_of=as_of)
    return {(f.bill_id, f.through): posted.charge_ids[late_fee_source(f.bill_id, f.through)] for f in fees}
