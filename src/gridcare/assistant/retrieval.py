"""BM25 retrieval over the knowledge base (jieba words + CJK character bigrams, bm25s).

Pure Python. Each hit carries a confidence in [0, 1] built from two signals BM25 scores alone do not
give: how much of the question (IDF-weighted) the article actually covers, and how clearly the best
article beats the runner-up. The composer answers only above a threshold and otherwise offers the
top titles or a human agent, so a wrong article is rarely presented as *the* answer.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np

from gridcare.assistant.kb import Article, shipped_articles
from gridcare.assistant.text import search_tokens

COVERAGE_WEIGHT = 0.7
MARGIN_WEIGHT = 0.3


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float
    confidence: float
    coverage: float


class KnowledgeIndex:
    """An in-memory index of articles; cheap to build (~0.2 s for the shipped corpus)."""

    def __init__(self, articles: Iterable[Article], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.articles: list[Article] = list(articles)
        self._tokens = [search_tokens(a.index_text()) for a in self.articles]
        self._token_sets = [set(t) for t in self._tokens]
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if self.articles:
            self._bm25.index(self._tokens, show_progress=False)
        n = len(self.articles)
        df = Counter(tok for toks in self._token_sets for tok in toks)
        self._idf = {tok: math.log(1 + (n - d + 0.5) / (d + 0.5)) for tok, d in df.items()}
        self._max_idf = math.log(1 + (n + 0.5) / 0.5) if n else 1.0
        self._position = {a.id: i for i, a in enumerate(self.articles)}

    def __len__(self) -> int:
        return len(self.articles)

    def coverage(self, query_tokens: Sequence[str], doc: int) -> float:
        """IDF-weighted share of the query's distinct tokens found in the article.

        Tokens unknown to the whole corpus count with the maximum IDF, so an off-topic question
        ("今天天气怎么样") has low coverage even if one common word matches.
        """
        toks = set(query_tokens)
        if not toks:
            return 0.0
        total = sum(self._idf.get(t, self._max_idf) for t in toks)
        found = sum(self._idf[t] for t in toks if t in self._token_sets[doc])
        return found / total if total else 0.0

    def search(
        self, query: str, *, k: int = 3, categories: Iterable[str] | None = None,
        prefer: Iterable[str] = (), prefer_boost: float = 0.15,
    ) -> list[Hit]:
        """Best `k` articles for `query`, most confident first.

        `prefer` (article ids, e.g. those linked to the classified intent) multiplies those scores by
        1 + `prefer_boost`: a tie-breaker, not an override.
        """
        if not self.articles:
            return []
        tokens = search_tokens(query)
        if not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
        if categories is not None:
            allowed = set(categories)
            mask = np.array([a.category in allowed for a in self.articles])
            scores = np.where(mask, scores, 0.0)
        for art_id in prefer:
            pos = self._position.get(art_id)
            if pos is not None:
                scores[pos] *= 1 + prefer_boost
        order = np.argsort(-scores, kind="stable")[: max(k, 2)]
        top = float(scores[order[0]])
        if top <= 0:
            return []
        second = float(scores[order[1]]) if len(order) > 1 else 0.0
        hits = []
        for rank, idx in enumerate(order[:k]):
            score = float(scores[idx])
            if score <= 0:
                break
            cov = self.coverage(tokens, int(idx))
            # The margin term rewards a clear winner; later hits are measured against the winner.
            margin = (score - second) / score if rank == 0 else score / top - 1
            conf = COVERAGE_WEIGHT * cov + MARGIN_WEIGHT * max(0.0, min(1.0, 2 * margin))
            hits.append(Hit(article=self.articles[idx], score=score, confidence=round(conf, 4), coverage=cov))
        return hits


@lru_cache(maxsize=1)
def shipped_index() -> KnowledgeIndex:
    """Index over the packaged corpus (the CLI and bench; the web side indexes published articles)."""
    return KnowledgeIndex(shipped_articles())
