import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def org(db):
    from tests.factories import org_tree

    return org_tree()


def pytest_collection_modifyitems(config, items):
    """`pg` tests run only against PostgreSQL; on SQLite they are skipped unless CI demands them."""
    url = os.environ.get("GRIDCARE_DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set GRIDCARE_DATABASE_URL=postgresql://...)")
    for item in items:
        if "pg" in item.keywords:
            item.add_marker(skip)
