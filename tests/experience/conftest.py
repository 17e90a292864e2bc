"""Experience tests share the KPI tests' small company (two cities, three accounts, staff)."""

from __future__ import annotations

import pytest

from gridcare.experience.policy import reset_rules
from tests.kpi.conftest import _fresh, at, co  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _fresh_rules():
    reset_rules()
    yield
    reset_rules()
