"""Template filters for money and rates: integer fen shown as yuan, Decimal shares as percentages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from gridcare.core.money import format_yuan

register = template.Library()


@register.filter
def yuan(fen) -> str:
    """12345 → '123.45'; empty for None."""
    return "" if fen is None or fen == "" else format_yuan(int(fen))


@register.filter
def percent(share) -> str:
    """Decimal('0.9765') → '97.65%'; '—' for None."""
    if share is None or share == "":
        return "—"
    return f"{Decimal(str(share)) * 100:.2f}%"
