"""Assistant test fixtures (builders in tests/assistant/fixtures.py)."""

from __future__ import annotations

import pytest

from tests.assistant.fixtures import Town, build_town, ensure_kb, isolated


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    with isolated(settings, tmp_path):
        yield


@pytest.fixture(scope="session")
def _session_kb(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        ensure_kb()


@pytest.fixture
def synced_kb(_session_kb, db):
    ensure_kb()


@pytest.fixture
def kb_changes(synced_kb):
    """For tests that publish or archive: the cached index must not outlive their rolled-back changes."""
    from gridcare.assistant import selectors

    selectors.reset_cache()
    yield
    selectors.reset_cache()


@pytest.fixture
def town(db, synced_kb) -> Town:
    return build_town()
