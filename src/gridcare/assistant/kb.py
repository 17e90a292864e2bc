"""The shipped knowledge-base corpus: YAML files under `assistant/data/kb/`, one per category.

Pure Python. The Django side imports these files into versioned `Article` rows
(`services.article_import_corpus`); the CLI and the bench read them directly, so retrieval can be
evaluated without a database. Every article carries a `source` line so reviewers can check the facts
against ../shared/domain/.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from gridcare.core.errors import ValidationFailed

_ID_RE = re.compile(r"^[a-z_]+-\d{3}$")
REQUIRED_FIELDS = ("id", "category", "title", "body", "source")


class InvalidKnowledgeBase(ValidationFailed):
    code = "invalid_kb"


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    name_en: str = ""


@dataclass(frozen=True)
class Article:
    id: str
    category: str
    title: str
    body: str
    source: str
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    title_en: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def index_text(self) -> str:
        """Text the search index sees. The title and similar questions are repeated: they are
        written in the customer's words, the body in the utility's."""
        head = " ".join([self.title, *self.questions, " ".join(self.tags)])
        return f"{head} {head} {self.body}"

    def summary(self, max_chars: int = 160) -> str:
        """First lines of the body, cut at a sentence end near `max_chars`."""
        text = self.body.strip()
        if len(text) <= max_chars:
            return text
        cut = text[:max_chars]
        for mark in ("。", "；", "\n"):
            pos = cut.rfind(mark)
            if pos >= max_chars // 2:
                return cut[: pos + 1].rstrip()
        return cut.rstrip() + "……"


def kb_dir() -> Path:
    return Path(str(resources.files("gridcare.assistant") / "data" / "kb"))


def load_categories(directory: Path | None = None) -> list[Category]:
    path = (directory or kb_dir()) / "categories.yaml"
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [Category(code=r["code"], name=r["name"], name_en=r.get("name_en", "")) for r in rows]


def parse_articles(rows: Iterable[dict], *, origin: str, categories: set[str]) -> list[Article]:
    """Validate raw YAML rows; report every problem with file and position, write nothing."""
    problems: list[str] = []
    articles: list[Article] = []
    for pos, row in enumerate(rows, start=1):
        where = f"{origin} item {pos}"
        if not isinstance(row, dict):
            problems.append(f"{where}: not a mapping")
            continue
        missing = [f for f in REQUIRED_FIELDS if not str(row.get(f) or "").strip()]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if not _ID_RE.match(str(row["id"])):
            problems.append(f"{where}: id {row['id']!r} must look like 'tariff-001'")
        if row["category"] not in categories:
            problems.append(f"{where}: unknown category {row['category']!r}")
        tags = row.get("tags") or []
        questions = row.get("questions") or []
        if not isinstance(tags, list) or not isinstance(questions, list):
            problems.append(f"{where}: tags and questions must be lists")
            continue
        known = {*REQUIRED_FIELDS, "tags", "questions", "title_en"}
        articles.append(
            Article(
                id=str(row["id"]),
                category=str(row["category"]),
                title=str(row["title"]).strip(),
                body=str(row["body"]).strip(),
                source=str(row["source"]).strip(),
                tags=tuple(str(t) for t in tags),
                questions=tuple(str(q) for q in questions),
                title_en=str(row.get("title_en") or ""),
                extra={k: v for k, v in row.items() if k not in known},
            )
        )
    if problems:
        raise InvalidKnowledgeBase("; ".join(problems), field="kb")
    return articles


def load_articles(directory: Path | None = None) -> list[Article]:
    """All articles of the corpus in category order, ids unique across files."""
    directory = directory or kb_dir()
    categories = load_categories(directory)
    codes = {c.code for c in categories}
    articles: list[Article] = []
    for cat in categories:
        path = directory / f"{cat.code}.yaml"
        if not path.exists():
            continue
        rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        parsed = parse_articles(rows, origin=path.name, categories=codes)
        wrong = [a.id for a in parsed if a.category != cat.code]
        if wrong:
            raise InvalidKnowledgeBase(f"{path.name}: articles {wrong} belong to another category", field="kb")
        articles.extend(parsed)
    seen: set[str] = set()
    dupes = sorted({a.id for a in articles if a.id in seen or seen.add(a.id)})
    if dupes:
        raise InvalidKnowledgeBase(f"duplicate article ids: {', '.join(dupes)}", field="kb")
    return articles


@lru_cache(maxsize=1)
def shipped_articles() -> tuple[Article, ...]:
    return tuple(load_articles())


def by_id(articles: Sequence[Article]) -> dict[str, Article]:
    return {a.id: a for a in articles}
