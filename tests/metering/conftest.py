"""Metering tests assert the English messages; the zh-Hans console is tested in tests/web."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield
