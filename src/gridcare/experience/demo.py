"""Demo customer-experience data: tags, risk scores and recommendations computed from whatever
bills, payments and work orders the earlier demo steps loaded. Idempotent (a refresh replaces)."""

from __future__ import annotations

from datetime import datetime

from gridcare.experience.services import experience_refresh


def load_demo(*, seed: int, as_of: datetime) -> str:
    del seed  # deterministic from the data already loaded
    r = experience_refresh(as_of=as_of)
    return (f"{r.accounts} accounts: {r.tags} tags, {r.high_risk} at high negative-experience risk, "
            f"{r.recommendations} recommendations")
