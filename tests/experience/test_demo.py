"""Both demo loaders run on the other apps' demo data, are idempotent and fast."""

from __future__ import annotations

import pytest

from gridcare.experience.demo import load_demo as experience_demo
from gridcare.experience.models import CustomerTag, RiskScore
from gridcare.kpi.demo import load_demo as kpi_demo
from gridcare.kpi.models import KpiSnapshot
from tests.experience.conftest import AS_OF

pytestmark = pytest.mark.django_db


def test_demo_loaders_are_idempotent(world):
    first = experience_demo(seed=1, as_of=AS_OF)
    assert first == "3 accounts: 7 tags, 1 at high negative-experience risk, 5 recommendations"
    assert experience_demo(seed=1, as_of=AS_OF) == first
    assert (CustomerTag.objects.count(), RiskScore.objects.count()) == (7, 3)

    summary = kpi_demo(seed=1, as_of=AS_OF)
    count = KpiSnapshot.objects.count()
    assert kpi_demo(seed=1, as_of=AS_OF) == summary
    assert KpiSnapshot.objects.count() == count
    periods = sorted(set(KpiSnapshot.objects.values_list("period_code", flat=True)))
    assert periods == ["2026-06", "2026-09", "2026-10"]  # November has no records yet
    assert summary.startswith(f"{count} KPI snapshots over 3 periods")
