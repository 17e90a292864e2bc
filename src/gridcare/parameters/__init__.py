"""Billing parameters (计费参数, T/CI 1281—2025 §3.3): 定量定比, 扣减分摊, 免费电, 计费容量, 退补.

Pure engine (Polars, no Django) for billing::

    from gridcare.parameters import apply_billing_parameters, rate_with_parameters

    outcome = apply_billing_parameters(usage, params, (period_start, period_end))
    outcome.usage, outcome.parts, outcome.allowances, outcome.capacity   # adjusted frames
    outcome.exceptions                                                   # blocking ones: do not bill

    rated = rate_with_parameters(accounts, usage, params, schedules, period_start, period_end,
                                 segments=segments)
    rated.result      # gridcare.rating.RatingResult, parameters applied
    rated.outcome     # the ParameterOutcome above

`params` comes from ``gridcare.parameters.selectors.billing_parameters``. Versioned records with
two-person approval live in models/services/selectors; back-billing (退补) in backbilling.py and
services. See docs/billing-parameters.md.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "apply_billing_parameters": "gridcare.parameters.engine",
    "rate_with_parameters": "gridcare.parameters.engine",
    "related_account_ids": "gridcare.parameters.engine",
    "ParameterOutcome": "gridcare.parameters.engine",
    "ParameterRating": "gridcare.parameters.engine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy, so loading the Django app does not import Polars and the rating kernel.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
