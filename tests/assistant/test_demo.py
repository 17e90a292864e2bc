"""The demo loader is idempotent: a second run adds nothing."""

from __future__ import annotations

from gridcare.assistant.demo import load_demo
from gridcare.assistant.models import ArticleVersion, Inspection, Transcript
from tests.assistant.fixtures import AS_OF


def test_load_demo_twice(synced_kb):
    first = load_demo(seed=20261101, as_of=AS_OF)
    assert "transcripts 60 inspected" in first
    versions, transcripts = ArticleVersion.objects.count(), Transcript.objects.count()
    second = load_demo(seed=20261101, as_of=AS_OF)
    assert "0 new, 0 updated" in second and "transcripts 0 inspected" in second and "60 already there" in second
    assert (ArticleVersion.objects.count(), Transcript.objects.count()) == (versions, transcripts) == (versions, 60)
    assert Inspection.objects.filter(status="review").exists()
    assert Inspection.objects.filter(status="passed").exists()
