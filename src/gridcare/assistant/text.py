"""Text normalisation and Chinese tokenisation shared by retrieval and the classifier.

Pure Python (no Django) so the CLI, the bench and the web process all tokenise identically. jieba is
loaded lazily into a private `Tokenizer` carrying our power-sector user dictionary, so other code
that uses the global jieba instance is unaffected and the first call pays the ~1 s dictionary load
once per process.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

MAX_MESSAGE_CHARS = 500
"""Messages longer than this are truncated before analysis: customers paste whole bills or logs."""

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_CJK_RE = re.compile(f"[{_CJK}]")
_LATIN_RE = re.compile(r"[a-z]")
_DIGIT_RE = re.compile(r"[0-9]")
_SPACE_RE = re.compile(r"\s+")
_WORDISH_RE = re.compile(f"[{_CJK}a-z0-9]")
# Characters that carry no meaning for matching: punctuation, symbols, emoji, control characters.
_STRIP_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "So", "Sk", "Sm", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"}

_lock = threading.Lock()
_tokenizer = None


def normalize(text: str | None) -> str:
    """NFKC (full-width to half-width), lower case, emoji/punctuation to spaces, collapse spaces.

    Keeps CJK, Latin letters and digits, so "９５５９８" and "95598" match and "电费！！😭" becomes "电费".
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text))[: MAX_MESSAGE_CHARS * 2].lower()
    out = []
    for ch in text:
        if unicodedata.category(ch) in _STRIP_CATEGORIES:
            out.append(" ")
        else:
            out.append(ch)
    return _SPACE_RE.sub(" ", "".join(out)).strip()


@dataclass(frozen=True)
class MessageShape:
    """What kind of message this is, before any model looks at it."""

    kind: str  # "empty" | "symbols_only" | "normal"
    text: str  # normalised, truncated text
    truncated: bool
    has_cjk: bool
    has_latin: bool

    @property
    def is_usable(self) -> bool:
        return self.kind == "normal"


def analyse(raw: str | None) -> MessageShape:
    """Classify the raw message shape so the composer can answer empty or emoji-only input kindly."""
    raw = raw or ""
    truncated = len(raw) > MAX_MESSAGE_CHARS
    text = normalize(raw[:MAX_MESSAGE_CHARS])
    has_cjk = bool(_CJK_RE.search(text))
    has_latin = bool(_LATIN_RE.search(text))
    if not raw.strip():
        kind = "empty"
    elif not _WORDISH_RE.search(text):
        kind = "symbols_only"
    else:
        kind = "normal"
    return MessageShape(kind=kind, text=text, truncated=truncated, has_cjk=has_cjk, has_latin=has_latin)


def _load_tokenizer():
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            userdict = resources.files("gridcare.assistant") / "data" / "userdict.txt"
            for line in userdict.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    parts = line.split()
                    freq = int(parts[1]) if len(parts) > 1 else None
                    tok.add_word(parts[0], freq=freq)
            _tokenizer = tok
    return _tokenizer


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    path = resources.files("gridcare.assistant") / "data" / "stopwords.txt"
    words = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(line)
    return frozenset(words)


def words(text: str) -> list[str]:
    """jieba search-mode words of normalised text, stop words and spaces removed.

    Module-level (not a lambda) so scikit-learn pipelines that use it can be pickled.
    """
    text = normalize(text)
    if not text:
        return []
    stop = stopwords()
    return [w for w in _load_tokenizer().lcut_for_search(text) if w.strip() and w not in stop]


def char_bigrams(text: str) -> list[str]:
    """Overlapping CJK character bigrams: robust to segmentation differences and single typos."""
    text = normalize(text)
    grams = []
    for chunk in re.findall(f"[{_CJK}]+", text):
        if len(chunk) == 1:
            grams.append("#" + chunk)
        grams.extend("#" + chunk[i : i + 2] for i in range(len(chunk) - 1))
    return grams


def search_tokens(text: str) -> list[str]:
    """Tokens used by the BM25 index: words plus character bigrams."""
    return words(text) + char_bigrams(text)


def warm_up() -> None:
    """Load the jieba dictionary now (e.g. at server start) instead of on the first question."""
    words("电费")
