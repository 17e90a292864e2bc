"""Retrieval evaluation on the fixed question set (`data/eval/questions.yaml`).

Pure Python, shared by the tests, `gridcare assistant evaluate` and `bench/bench_assistant.py`, so all
three report the same figure the same way. The set is written in customers' words, separately from
the articles' own `questions` field; `near_duplicate` flags the few questions that still ended up
close to an article's title or listed question (difflib ratio > 0.8), and the report gives the
accuracy without them too, so a reader can see how much of the headline is string matching.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from gridcare.assistant.kb import Article
from gridcare.assistant.text import normalize
from gridcare.core.errors import ValidationFailed

NEAR_DUPLICATE_RATIO = 0.8


@dataclass(frozen=True)
class Question:
    q: str
    expect: tuple[str, ...]  # acceptable article ids; the first is the best answer


def questions_path() -> Path:
    return Path(str(resources.files("gridcare.assistant") / "data" / "eval" / "questions.yaml"))


@lru_cache(maxsize=4)
def load_questions(path: Path | None = None) -> tuple[Question, ...]:
    path = path or questions_path()
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    out, problems = [], []
    for pos, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not str(row.get("q") or "").strip() or not row.get("expect"):
            problems.append(f"{path.name} item {pos}: needs q and expect")
            continue
        out.append(Question(q=str(row["q"]).strip(), expect=tuple(str(e) for e in row["expect"])))
    if problems:
        raise ValidationFailed("; ".join(problems), field="questions")
    return tuple(out)


def near_duplicates(questions: Sequence[Question], articles: Sequence[Article]) -> set[str]:
    """Questions whose text is within `NEAR_DUPLICATE_RATIO` of an article title or listed question."""
    phrases = [normalize(p) for a in articles for p in (a.title, *a.questions)]
    out = set()
    for q in questions:
        text = normalize(q.q)
        matcher = difflib.SequenceMatcher(None, "", text)  # b is cached; a varies
        for p in phrases:
            matcher.set_seq1(p)
            if (matcher.real_quick_ratio() > NEAR_DUPLICATE_RATIO and matcher.quick_ratio() > NEAR_DUPLICATE_RATIO
                    and matcher.ratio() > NEAR_DUPLICATE_RATIO):
                out.add(q.q)
                break
    return out


@dataclass(frozen=True)
class RetrievalReport:
    n: int
    top1: float
    top3: float
    paraphrase_n: int  # questions that are not near-duplicates of article text
    paraphrase_top1: float
    latencies_ms: tuple[float, ...]
    misses: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # question, expected, got (top-3)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies_ms, 95)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation): the value a reader can find in the raw list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def report_from(
    questions: Sequence[Question], ranked: Callable[[str], list[str]], *, near: set[str] | None = None,
) -> RetrievalReport:
    """Run `ranked(question) -> article ids, best first` over the set, timing each call."""
    near = near or set()
    top1 = top3 = para_n = para_ok = 0
    lat: list[float] = []
    misses = []
    for q in questions:
        started = time.perf_counter()
        ids = list(ranked(q.q))[:3]
        lat.append((time.perf_counter() - started) * 1000)
        hit1 = bool(ids) and ids[0] in q.expect
        top1 += hit1
        top3 += any(i in q.expect for i in ids)
        if q.q not in near:
            para_n += 1
            para_ok += hit1
        if not hit1:
            misses.append((q.q, q.expect, tuple(ids)))
    n = len(questions) or 1
    return RetrievalReport(
        n=len(questions), top1=top1 / n, top3=top3 / n, paraphrase_n=para_n,
        paraphrase_top1=para_ok / para_n if para_n else 0.0, latencies_ms=tuple(lat), misses=tuple(misses),
    )


def retrieval_report(index, questions: Sequence[Question], *, near: set[str] | None = None) -> RetrievalReport:
    return report_from(questions, lambda text: [h.article.id for h in index.search(text, k=3)], near=near)


def answer_report(assistant, questions: Sequence[Question], *, near: set[str] | None = None) -> RetrievalReport:
    """The whole composer (classifier, thresholds, retrieval) on the question set, without an account:
    a question counts when the article the reply is built on (its answer, else its first suggestion)
    is an expected one. Latency is the full `reply` call."""

    def ranked(text: str) -> list[str]:
        reply = assistant.reply(text)
        ids = [reply.answered_article.id] if reply.answered_article else []
        return ids + [s.id for s in reply.suggestions if s.id not in ids]

    return report_from(questions, ranked, near=near)


def classifier_markdown(ev, *, title: str = "Intent classifier: held-out evaluation", meta: dict | None = None,
                        theme=None) -> str:
    """The evaluation report (accuracy, macro-F1, per-class table, confusion matrix) as Markdown."""
    lines = [f"# {title}", ""]
    if meta:
        lines += [f"Model: scikit-learn {meta.get('sklearn')}, corpus digest `{meta.get('corpus')}`, "
                  f"{meta.get('train_rows')} training utterances, C={meta.get('c')}.", ""]
    lines += [
        "| measure | value |", "|---|---|",
        f"| held-out utterances (whole templates never seen in training) | {ev.n} |",
        f"| top-1 intent accuracy | {ev.accuracy:.3f} |",
        f"| macro-F1 | {ev.macro_f1:.3f} |",
        f"| level-1 work-order type accuracy | {ev.level1_accuracy:.3f} |",
        f"| complaint category accuracy ({ev.complaint_n} complaints) | {ev.complaint_accuracy:.3f} |",
        f"| complaint category macro-F1 | {ev.complaint_macro_f1:.3f} |",
    ]
    for src, n, acc in ev.by_source:
        lines.append(f"| accuracy on {src} utterances ({n}) | {acc:.3f} |")
    if theme is not None:
        lines.append(f"| stricter: whole sub-topics (families) held out, {theme.n} utterances | "
                     f"{theme.accuracy:.3f} (macro-F1 {theme.macro_f1:.3f}) |")
    lines += ["", "## Per intent", "", "| intent | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    lines += [f"| {lab} | {p:.2f} | {r:.2f} | {f:.2f} | {s} |" for lab, p, r, f, s in ev.per_class]
    lines += ["", "## Most frequent confusions", "", "| true | predicted | count |", "|---|---|---|"]
    lines += [f"| {t} | {q} | {n} |" for t, q, n in ev.confusions]
    short = [lab[:6] for lab in ev.labels]
    lines += ["", "## Confusion matrix", "", "Rows: true intent; columns: predicted (same order, names cut to 6).", "",
              "| | " + " | ".join(short) + " |", "|---|" + "---|" * len(short)]
    for lab, row in zip(ev.labels, ev.confusion, strict=True):
        lines.append(f"| {lab} | " + " | ".join(str(x) if x else "·" for x in row) + " |")
    return "\n".join(lines) + "\n"
