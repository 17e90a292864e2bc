"""Display filters for billing pages: fen as yuan, Wh/milli-units as kWh, bucket and rule labels."""

from __future__ import annotations

from decimal import Decimal

from django import template

from gridcare.billing.document import bucket_label, change_label
from gridcare.billing.labels import register_label, rule_label, stage_label
from gridcare.core.money import format_yuan

register = template.Library()


@register.filter
def yuan(fen) -> str:
    if fen is None or fen == "":
        return ""
    return format_yuan(int(fen))


@register.filter
def kwh(milli) -> str:
    """Thousandths (Wh, or a register's milli-units) as the unit with no trailing zeros."""
    if milli is None or milli == "":
        return ""
    value = (Decimal(int(milli)) / 1000).normalize()
    return f"{value:,f}"


@register.filter
def num(value) -> str:
    if value is None or value == "":
        return ""
    return f"{Decimal(value).normalize():f}"


@register.filter
def bucket(code: str) -> str:
    return bucket_label(code)


@register.filter
def change_part(key: str) -> str:
    return change_label(key)


@register.filter
def audit_rule(code: str) -> str:
    return rule_label(code)


@register.filter
def register_code(code: str) -> str:
    return register_label(code)


@register.filter
def run_stage(code: str) -> str:
    return stage_label(code)
