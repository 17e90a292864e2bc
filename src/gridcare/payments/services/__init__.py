"""Payments writes (one transaction each). Public services, documented in docs/payments.md:

- receivables: `receivables_post_issued_bills`, `bill_charge_post`, `bill_credit_note_post`,
  `late_fee_charge_post`, `credit_apply`; in bulk, set-based: `charges_post_many`,
  `late_fee_charges_post`;
- payments: `payment_post`, `payments_post_many` (every channel ends here);
- counter: `till_open`, `counter_payment_take`, `till_close`;
- online: `checkout_create`, `gateway_callback_handle`, `sandbox_gateway_callback`;
- files: `mandate_sign`, `mandate_cancel`, `debit_batch_generate`, `debit_result_import`,
  `agency_file_import`;
- approvals (two-person): `approval_request`, `approval_decide` (refund, reversal, waiver);
- `discount_post` (red packets, points), `prepay_configure`.
"""

from gridcare.payments.services._core import UnableToPost, UnbalancedEntry
from gridcare.payments.services.approvals import UnableToDecide, approval_decide, approval_request
from gridcare.payments.services.charges import (
    BillSyncResult,
    ChargeIn,
    ChargePosted,
    ChargesPosted,
    LateFeeIn,
    bill_charge_post,
    bill_credit_note_post,
    charges_post_many,
    credit_apply,
    late_fee_charge_post,
    late_fee_charges_post,
    late_fee_source,
    receivables_post_issued_bills,
)
from gridcare.payments.services.counter import (
    CounterPayment,
    UnableToUseTill,
    counter_payment_take,
    till_close,
    till_get,
    till_open,
    till_report,
)
from gridcare.payments.services.discounts import discount_post
from gridcare.payments.services.files import (
    AlreadyImported,
    ImportReport,
    agency_file_import,
    debit_batch_generate,
    debit_result_import,
    mandate_cancel,
    mandate_sign,
)
from gridcare.payments.services.online import (
    CallbackConflict,
    CallbackResult,
    checkout_create,
    gateway_callback_handle,
    sandbox_gateway_callback,
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
    "AlreadyImported", "BillSyncResult", "CallbackConflict", "CallbackResult", "ChargeIn", "ChargePosted",
    "ChargesPosted", "CounterPayment", "LateFeeIn",
    "DuplicatePaymentMismatch", "ImportReport", "PaymentIn", "PaymentPosted", "UnableToDecide", "UnableToPost",
    "UnableToUseTill", "UnbalancedEntry", "agency_file_import", "approval_decide", "approval_request",
    "bill_charge_post", "bill_credit_note_post", "charges_post_many", "checkout_create", "counter_payment_take", "credit_apply",
    "debit_batch_generate", "debit_result_import", "discount_post", "gateway_callback_handle",
    "late_fee_charge_post", "late_fee_charges_post", "late_fee_source", "mandate_cancel", "mandate_sign", "payment_post", "payments_post_many",
    "prepay_configure", "receivables_post_issued_bills", "sandbox_gateway_callback", "till_close", "till_get", "till_open",
    "till_report",
]
