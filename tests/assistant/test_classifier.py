"""The intent classifier: corpus size and styles, a reproducible corpus, the shipped model's held-out
accuracy on whole templates never seen in training."""

from __future__ import annotations

from collections import Counter

import pytest

from gridcare.assistant import classifier, corpus, intents


@pytest.fixture(scope="module")
def rows():
    return corpus.read_jsonl()


def test_corpus_is_large_labelled_and_in_three_styles(rows):
    assert len(rows) >= 2000
    assert set(Counter(r.channel for r in rows)) == {"phone", "chat", "sms"}
    assert set(r.intent for r in rows) == set(intents.intents())
    assert sum(r.intent == "out_of_domain" for r in rows) >= 50
    assert {r.complaint_category for r in rows if r.intent == "complaint"} == set(intents.COMPLAINT_CATEGORIES)


def test_held_out_split_is_by_template(rows):
    train = {r.template for r in rows if r.split == "train"}
    test = {r.template for r in rows if r.split == "test"}
    assert train and test and not (train & test)


def test_committed_corpus_is_what_the_generator_makes(rows):
    assert [(r.text, r.intent, r.split) for r in corpus.generate()] == [(r.text, r.intent, r.split) for r in rows]


def test_shipped_model_matches_the_corpus_and_reaches_the_goal(rows):
    model = classifier.shipped()
    assert model.meta["corpus"] == classifier.corpus_digest([r for r in rows if r.split == "train"])
    report = classifier.evaluate(model, rows)
    assert report.n >= 500
    assert report.accuracy >= 0.90, report.confusions[:5]  # measured 0.922 on 773 held-out utterances
    assert report.macro_f1 >= 0.88
    assert report.level1_accuracy >= 0.93
    assert len(report.confusion) == len(report.labels)
