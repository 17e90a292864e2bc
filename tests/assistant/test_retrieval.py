"""Retrieval quality on the fixed question set, and the confidence signal the composer relies on."""

from __future__ import annotations

import pytest

from gridcare.assistant.evaluation import load_questions, near_duplicates, retrieval_report
from gridcare.assistant.kb import Article
from gridcare.assistant.retrieval import KnowledgeIndex, shipped_index


def test_fixed_question_set_top1_and_top3_accuracy():
    questions = load_questions()
    near = near_duplicates(questions, shipped_index().articles)
    report = retrieval_report(shipped_index(), questions, near=near)
    assert report.n >= 150
    # Measured 0.960 top-1 / 1.000 top-3 (0.954 on the 153 paraphrases) when the set was fixed; the
    # floors leave a little room for corpus edits.
    assert report.top1 >= 0.92, report.misses
    assert report.top3 >= 0.98, report.misses
    assert report.paraphrase_n >= 140
    assert report.paraphrase_top1 >= 0.90, report.misses


def test_every_expected_article_exists():
    ids = {a.id for a in shipped_index().articles}
    missing = sorted({e for q in load_questions() for e in q.expect} - ids)
    assert missing == []


def test_off_topic_question_gets_low_confidence():
    hits = shipped_index().search("今天天气怎么样，适合去爬山吗")
    assert hits == [] or hits[0].confidence < 0.35


def test_on_topic_question_gets_high_confidence():
    hits = shipped_index().search("峰谷电价怎么取消")
    assert hits[0].article.id == "change-006"
    assert hits[0].confidence >= 0.5


@pytest.mark.parametrize("query", ["", "   ", "😭😭😭", "！！？？"])
def test_queries_without_words_return_nothing(query):
    assert shipped_index().search(query) == []


def test_category_filter_and_preference():
    idx = shipped_index()
    hits = idx.search("怎么交电费", k=5, categories={"payment"})
    assert hits and all(h.article.category == "payment" for h in hits)
    base = idx.search("电费", k=5)
    preferred = base[-1].article.id
    boosted = idx.search("电费", k=5, prefer=[preferred], prefer_boost=10.0)
    assert boosted[0].article.id == preferred


def test_empty_index_answers_nothing():
    assert KnowledgeIndex([]).search("电费") == []


def test_small_index_ranks_the_matching_article_first():
    arts = [
        Article(id="a-001", category="x", title="峰谷电价时段", body="低谷时段为晚上十点到早上八点。", source="s"),
        Article(id="a-002", category="x", title="银行代扣签约", body="可以在网上国网签约代扣。", source="s"),
    ]
    hits = KnowledgeIndex(arts).search("代扣怎么签约")
    assert [h.article.id for h in hits][:1] == ["a-002"]
