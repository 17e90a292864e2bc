"""Console read import in the console's language: row errors and the import report (quarantine
details, interval gaps) in zh-Hans by default, in English for a user who asks for it."""

from __future__ import annotations

from datetime import date, timedelta
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gridcare.metering.models import MeterRead, ReadImport
from tests.factories import user
from tests.metering.helpers import csv_bytes, metered_account, seed_read

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(org, settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.INTERVAL_DATA_DIR = tmp_path
    return user("billing_clerk", org["GD"], username="clerk")


def _client(u, lang: str | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=lang) if lang else Client()
    client.force_login(u)
    return client


def _post(client, name: str, content: bytes):
    return client.post("/console/reads/import/", {"file": SimpleUploadedFile(name, content)})


def test_row_errors_and_report_details_in_zh_hans_and_english(org, clerk):
    _, m = metered_account(org["PY1"])
    seed_read(m, "total", date(2026, 10, 1), "1000")
    bad = csv_bytes([(m.asset_number, "total", "2026-11-01", "12x"), ("", "total", "2026-11-01", "5")])
    html = unescape(_post(_client(clerk), "bad.csv", bad).content.decode())
    assert "第 2 行：value（示数）“12x”不是最多 3 位小数的非负数（另有 1 处问题）；未导入任何数据" in html
    assert "<td>3</td><td>asset_number（表号）为空</td>" in html
    english = unescape(_post(_client(clerk, "en"), "bad.csv", bad).content.decode())
    assert "line 2: value '12x' is not a non-negative number with at most 3 decimals (and 1 more)" in english
    assert not ReadImport.objects.exists()

    good = csv_bytes([(m.asset_number, "total", "2026-11-01", "1100"), ("NOSUCHMETER", "total", "2026-11-01", "5")])
    r = _post(_client(clerk), "good.csv", good)
    page = unescape(_client(clerk).get(r["Location"]).content.decode())
    assert "<td>不存在电能表 NOSUCHMETER</td>" in page
    assert MeterRead.objects.get(asset_number="NOSUCHMETER").detail == "不存在电能表 NOSUCHMETER"


def test_interval_gaps_in_the_report_page(org, clerk):
    _, m = metered_account(org["PY1"])
    monday = date(2026, 10, 5)
    lines = ["asset_number,read_date," + ",".join(f"p{i}" for i in range(1, 25))]
    for d in (monday, monday + timedelta(days=7)):
        values = ["0.5"] * 24
        if d != monday:
            values[4], values[20:23] = "", ["", "", ""]
        lines.append(f"{m.asset_number},{d}," + ",".join(values))
    r = _post(_client(clerk), "gaps.csv", ("\n".join(lines) + "\n").encode())
    page = _client(clerk).get(r["Location"]).content.decode()
    assert "<li>相邻点线性插值: 1</li>" in page and "<li>历史同星期同时点: 3</li>" in page
    assert "<td>2026-10-12</td><td>24</td><td>1</td><td>3</td><td>0</td><td>当日无示数可校准</td>" in page
