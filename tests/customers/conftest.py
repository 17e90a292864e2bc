import pytest

from tests.customers.fixtures import fast_passwords, world  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_passwords(fast_passwords):  # noqa: F811
    """Every test user here gets a cheap hash."""
