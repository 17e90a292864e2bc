"""The service desk's translation functions: every string in a context of its own ("service").

Why a context: catalogues of all apps are merged, and short words mean different things in
different desks ("Closed" is 销户 for an account, 已关账 for a billing period and 已归档 for a work
order; "Open", "Pending", "Resolve" likewise). With a context, our strings and theirs never
overwrite each other. Templates use `{% translate "…" context "service" %}`.
"""

from __future__ import annotations

from django.utils.translation import pgettext, pgettext_lazy

CONTEXT = "service"


def _(message: str) -> str:
    return pgettext(CONTEXT, message)


def _lazy(message: str):
    return pgettext_lazy(CONTEXT, message)
