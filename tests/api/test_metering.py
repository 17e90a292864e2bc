"""/api/v1/metering/imports answers a bad read file in the request's language."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gridcare.access.services import api_token_create
from tests.factories import user
from tests.metering.helpers import csv_bytes, metered_account

pytestmark = pytest.mark.django_db


def test_read_file_problems_follow_accept_language(org, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _, m = metered_account(org["PY1"])
    token = api_token_create(user=user("billing_clerk", org["GD"], username="clerk"), name="t", as_of=timezone.now())
    bad = csv_bytes([(m.asset_number, "total", "2026-11-01", "1.5kWh")])
    answers = {}
    for lang in ("en", "zh-hans"):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT_LANGUAGE=lang)
        r = client.post("/api/v1/metering/imports", {"file": SimpleUploadedFile("bad.csv", bad)})
        assert r.status_code == 422
        answers[lang] = r.json()["problems"]
    assert answers == {
        "en": [{"line": 2, "message": "value '1.5kWh' is not a non-negative number with at most 3 decimals"}],
        "zh-hans": [{"line": 2, "message": "value（示数）“1.5kWh”不是最多 3 位小数的非负数"}],
    }
