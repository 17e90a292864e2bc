"""Template filters for money and rates (integer fen shown as yuan, Decimal shares as percentages) and
dunning stage names."""

from __future__ import annotations

from decimal import Decimal

from django import template

from gridcare.collections.policy import collections_policy
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


@register.filter
def stage_label(code: str) -> str:
    """A dunning stage code as the policy names it ('before_due' → '到期前提醒'); a stage since removed
    from the policy still shows its code, so old notices stay readable."""
    try:
        return collections_policy().dunning.stage(code).label
    except KeyError:
        return code
