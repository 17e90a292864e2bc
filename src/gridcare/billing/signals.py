"""What billing announces to the apps above it.

Billing sits below payments in the layers, so it cannot post receivables itself; it sends
`bills_issued` instead and payments listens (see gridcare.payments.receivers).
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the issuing transaction with `bill_ids` (list[int]) and `as_of` (datetime): bills
# that just became issued (a run's invoices, or a correction's credit note and rebill).
bills_issued = Signal()
