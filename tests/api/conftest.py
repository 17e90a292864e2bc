"""API tests share the customers world fixture."""

from tests.customers.fixtures import fast_passwords, world  # noqa: F401
