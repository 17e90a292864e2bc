"""Template filters for the payments pages: integer fen shown as yuan."""

from __future__ import annotations

from django import template

from gridcare.core.money import format_yuan

register = template.Library()


@register.filter
def yuan(fen) -> str:
    """12345 → '123.45'; empty for None."""
    return "" if fen is None or fen == "" else format_yuan(int(fen))


@register.filter
def abs_fen(fen) -> int:
    return abs(int(fen or 0))
