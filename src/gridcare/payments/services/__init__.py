"""Payments writes (one transaction each). Public services, documented in docs/payments.md:

- receivables: `receivables_post_issued_bills`, `bill_charge_post`, `bill_credit_note_post`,
  `late_fee_charge_post`, `credit_apply`;
- payments: `payment_post`, `payments_post_many` (every channel ends here);
- prepayment: `prepay_configure` (top-ups are payments);
"""

from gridcare.payments.services._core import UnableToPost, UnbalancedEntry
from gridcare.payments.services.charges import (
    BillSyncResult,
    ChargePosted,
    bill_charge_post,
    bill_credit_note_post,
    credit_apply,
    late_fee_charge_post,
    receivables_post_issued_bills,
)
from gridcare.payments.services.payments import (
    DuplicatePaymentMismatch,
    PaymentIn,
    PaymentPosted,
    payment_post,
    payments_post_many,
)
from gridcare.payments.services.prepay import prepay_configure

__all__ = [
    "BillSyncResult", "ChargePosted", "DuplicatePaymentMismatch", "PaymentIn", "PaymentPosted", "UnableToPost",
    "UnbalancedEntry", "bill_charge_post", "bill_credit_note_post", "credit_apply", "late_fee_charge_post",
    "payment_post", "payments_post_many", "prepay_configure", "receivables_post_issued_bills",
]
