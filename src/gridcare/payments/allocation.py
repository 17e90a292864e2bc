"""Which open items a payment pays, in what order (pure; the policy names the order).

Kept free of the database so the rule can be property-tested: the parts never exceed what is
owed on an item, never exceed the payment, and what is left over becomes customer credit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class OpenItem:
    charge_id: int
    kind: str
    due_date: date
    outstanding_fen: int


@dataclass(frozen=True)
class Allocation:
    parts: tuple[tuple[int, int], ...]  # (charge_id, fen), in the order paid
    remainder_fen: int  # not needed by any item: becomes credit

    @property
    def applied_fen(self) -> int:
        return sum(fen for _, fen in self.parts)


def ordered(items: Iterable[OpenItem], *, order: str, late_fees: str, first: int | None = None) -> list[OpenItem]:
    """Items in payment order. `first` (a charge id the payer chose) goes ahead of everything."""
    newest = order == "newest_due_first"

    def key(item: OpenItem):
        is_late_fee = item.kind == "late_fee"
        group = (0 if is_late_fee else 1) if late_fees == "first" else (1 if is_late_fee else 0)
        day = -item.due_date.toordinal() if newest else item.due_date.toordinal()
        return (0 if item.charge_id == first else 1, group, day, item.charge_id)

    return sorted((i for i in items if i.outstanding_fen > 0), key=key)


def allocate(amount_fen: int, items: Iterable[OpenItem], *, order: str, late_fees: str,
             first: int | None = None) -> Allocation:
    if amount_fen < 0:
        raise ValueError("amount must be ≥ 0")
    left = amount_fen
    parts = []
    for item in ordered(items, order=order, late_fees=late_fees, first=first):
        if left == 0:
            break
        fen = min(left, item.outstanding_fen)
        parts.append((item.charge_id, fen))
        left -= fen
    return Allocation(parts=tuple(parts), remainder_fen=left)
