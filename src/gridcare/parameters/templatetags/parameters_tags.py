"""Template filters of the parameter pages: money in yuan, energy in kWh, specs in words."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import get_language

from gridcare.core.money import format_yuan
from gridcare.parameters.specs import describe

register = template.Library()


@register.filter
def fen_yuan(fen) -> str:
    """12345 → '123.45'; empty for None."""
    return "" if fen is None or fen == "" else format_yuan(int(fen))


@register.filter
def wh_kwh(wh) -> str:
    """1500 → '1.5'; empty for None."""
    return "" if wh is None or wh == "" else f"{(Decimal(int(wh)) / 1000).normalize():f}"


@register.filter
def spec_text(parameter) -> str:
    """A parameter version's spec in words, in the page's language."""
    return describe(parameter.kind, parameter.spec, lang=get_language() or "zh-hans")
