"""Build the labelled utterance corpus from templates + slot fillers + channel noise + handwritten lines.

Pure Python and deterministic: the same templates, handwritten file and seed always produce the same
`utterances.jsonl` byte for byte, so the committed corpus is data that anyone can regenerate with
`gridcare assistant corpus` and diff.

Held-out split: whole *templates* are held out (a template is one pattern together with every slot
filling and noise edit of it), about a quarter per family, so a test sentence never differs from a
training sentence only by a slot value or a noise edit. Families (groups of patterns about one
sub-topic) are kept in `family` so `theme_split` can also hold out whole families, the stricter
"unseen sub-topic" measure reported next to the headline figure. Handwritten lines are each their own
template; a fixed hash sends about 40% of them to the test split.
"""

from __future__ import annotations

import json
import math
import random
import re
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import yaml

from gridcare.assistant import intents as intent_catalogue
from gridcare.core.errors import ValidationFailed

DEFAULT_SEED = 20240601
TEST_FAMILY_SHARE = 0.25
HANDWRITTEN_TEST_SHARE = 4  # out of 10
PER_TEMPLATE = 4
CHANNEL_WEIGHTS = {"phone": 0.35, "chat": 0.45, "sms": 0.20}

_SLOT_RE = re.compile(r"\{([a-z_]+)\}")

PREFIXES = {
    "phone": ["", "", "喂，", "喂你好，", "嗯，", "那个，", "你好，我想问一下，", "呃，就是", "你好，"],
    "chat": ["", "", "", "你好，", "在吗，", "请问", "客服，", "麻烦问下，", "您好，"],
    "sms": [""],
}
SUFFIXES = {
    "phone": ["", "", "。", "，谢谢", "啊", "哈", "，麻烦你了"],
    "chat": ["", "", "？", "？？", "！", "。。。", "😭", "🙏", "～", "呀", "啊", "!!"],
    "sms": ["", ""],
}
TYPOS = {
    "电费": ["电废", "点费"],
    "停电": ["停点"],
    "户号": ["护号", "户好"],
    "欠费": ["欠废"],
    "交费": ["缴费", "交废"],
    "缴费": ["交费"],
    "电表": ["点表", "电标"],
    "怎么": ["咋么", "怎莫"],
    "什么": ["神马", "什麽"],
    "多少": ["多小"],
    "来电": ["来点"],
    "报修": ["保修"],
    "过户": ["过护"],
    "峰谷": ["风谷", "峰古"],
    "违约金": ["违约经"],
    "营业厅": ["营业庭"],
    "发票": ["发漂"],
    "投诉": ["头诉"],
    "电压": ["电亚"],
}
DIALECT = {
    "什么": ["啥", "啥子"],
    "怎么": ["咋", "咋个", "怎个"],
    "没有": ["没得", "冇"],
    "我家": ["俺家", "我屋头"],
    "一下": ["一哈", "一下下"],
    "不知道": ["晓不得", "不晓得"],
    "多少钱": ["几多钱", "好多钱"],
}
PHONE_FILLERS = ["嗯", "那个", "就是", "呃"]
BARE_INTENTS = {"greeting", "thanks_bye"}


@dataclass(frozen=True)
class Utterance:
    text: str
    intent: str
    level1: str
    complaint_category: str
    channel: str
    family: str
    template: str
    source: str  # "template" | "handwritten"
    split: str  # "train" | "test"


def _data_dir() -> Path:
    return Path(str(resources.files("gridcare.assistant") / "data" / "corpus"))


def corpus_path() -> Path:
    return _data_dir() / "utterances.jsonl"


def load_templates(path: Path | None = None) -> dict:
    path = path or _data_dir() / "templates.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = intent_catalogue.intents()
    slots = doc.get("slots") or {}
    problems = []
    for intent, families in (doc.get("intents") or {}).items():
        if intent not in known:
            problems.append(f"templates: unknown intent {intent!r}")
        for fam in families:
            for pattern in fam.get("patterns") or []:
                for slot in _SLOT_RE.findall(pattern):
                    if slot not in slots:
                        problems.append(f"templates: {intent}/{fam.get('family')}: unknown slot {{{slot}}}")
            cat = fam.get("complaint_category") or ""
            if cat and cat not in intent_catalogue.COMPLAINT_CATEGORIES:
                problems.append(f"templates: {intent}/{fam.get('family')}: bad complaint_category {cat!r}")
            if intent == "complaint" and not cat:
                problems.append(f"templates: complaint/{fam.get('family')}: complaint_category required")
    missing = sorted(set(known) - set(doc.get("intents") or {}))
    if missing:
        problems.append(f"templates: no templates for intents {missing}")
    if problems:
        raise ValidationFailed("; ".join(problems), field="templates")
    return doc


def load_handwritten(path: Path | None = None) -> list[tuple[str, str, str, str, int]]:
    """(intent, complaint_category, channel, text, line number) rows; bad rows reported by line."""
    path = path or _data_dir() / "handwritten.tsv"
    known = intent_catalogue.intents()
    rows, problems = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            problems.append(f"handwritten.tsv line {lineno}: expected 4 tab-separated fields")
            continue
        intent, cat, channel, text = (p.strip() for p in parts)
        if intent not in known:
            problems.append(f"handwritten.tsv line {lineno}: unknown intent {intent!r}")
        if channel not in CHANNEL_WEIGHTS:
            problems.append(f"handwritten.tsv line {lineno}: unknown channel {channel!r}")
        if (intent == "complaint") != bool(cat) or (cat and cat not in intent_catalogue.COMPLAINT_CATEGORIES):
            problems.append(f"handwritten.tsv line {lineno}: complaint_category {cat!r} invalid for {intent}")
        if not text:
            problems.append(f"handwritten.tsv line {lineno}: empty text")
        rows.append((intent, cat, channel, text, lineno))
    if problems:
        raise ValidationFailed("; ".join(problems), field="handwritten")
    return rows


def _fill(pattern: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    return _SLOT_RE.sub(lambda m: rng.choice(slots[m.group(1)]), pattern)


def _swap(text: str, table: dict[str, list[str]], rng: random.Random) -> str:
    keys = [k for k in table if k in text]
    if not keys:
        return text
    key = rng.choice(sorted(keys))
    return text.replace(key, rng.choice(table[key]), 1)


def add_noise(text: str, channel: str, rng: random.Random, *, bare: bool = False) -> str:
    """Channel style plus occasional typo / dialect substitutions, as real customers type or speak.

    `bare` skips the polite prefix ("请问…") for greetings and goodbyes, where it reads wrong.
    """
    if rng.random() < 0.18:
        text = _swap(text, DIALECT, rng)
    if rng.random() < 0.15:
        text = _swap(text, TYPOS, rng)
    if channel == "phone":
        if rng.random() < 0.25 and "，" in text:
            head, tail = text.split("，", 1)
            text = f"{head}，{rng.choice(PHONE_FILLERS)}{tail}"
        text = text.replace("？", "")
    elif channel == "sms":
        text = re.sub(r"[，。！？、]", " ", text).strip()
        text = re.sub(r"\s+", " ", text)
    prefix = "" if bare else rng.choice(PREFIXES[channel])
    suffix = rng.choice(SUFFIXES[channel])
    if prefix and text.startswith(("你好", "您好", "喂", "在吗")):
        prefix = ""
    return f"{prefix}{text}{suffix}".strip()


def _pick_channel(rng: random.Random) -> str:
    r = rng.random()
    acc = 0.0
    for channel, weight in CHANNEL_WEIGHTS.items():
        acc += weight
        if r < acc:
            return channel
    return "chat"


def _held_out(key: str, names: list[str], seed: int) -> set[str]:
    """A seeded quarter (at least one when there are two or more) of `names`."""
    if len(names) < 2:
        return set()
    rng = random.Random(f"{seed}:{key}")
    shuffled = sorted(names)
    rng.shuffle(shuffled)
    return set(shuffled[: max(1, math.floor(len(names) * TEST_FAMILY_SHARE + 0.5))])


def _test_families(intent: str, families: list[tuple[str, str]], seed: int) -> set[str]:
    """Whole families held out, stratified by complaint category so every category keeps both
    training and test families."""
    groups: dict[str, list[str]] = {}
    for name, group in families:
        groups.setdefault(group, []).append(name)
    held: set[str] = set()
    for group, names in sorted(groups.items()):
        held |= _held_out(f"{intent}:{group}", names, seed)
    return held


def theme_split(rows: list[Utterance], seed: int = DEFAULT_SEED) -> list[Utterance]:
    """Re-split template rows by whole family (handwritten rows keep their split)."""
    fams: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.source == "template":
            fams.setdefault(r.intent, {})[r.family] = r.complaint_category
    held = set()
    for intent, fam_map in fams.items():
        held |= _test_families(intent, sorted(fam_map.items()), seed)
    out = []
    for r in rows:
        if r.source == "template":
            split = "test" if r.family in held else "train"
            r = Utterance(**{**asdict(r), "split": split})
        out.append(r)
    return out


def generate(
    *, seed: int = DEFAULT_SEED, per_template: int = PER_TEMPLATE, templates: dict | None = None,
    handwritten: list | None = None,
) -> list[Utterance]:
    templates = templates or load_templates()
    handwritten = handwritten if handwritten is not None else load_handwritten()
    catalogue = intent_catalogue.intents()
    slots = templates["slots"]
    seen: set[str] = set()
    out: list[Utterance] = []

    def key(text: str) -> str:
        return re.sub(r"[\s，。！？!?～、.…😭🙏]+", "", text)

    for intent, families in templates["intents"].items():
        level1 = catalogue[intent].level1
        for fam in families:
            family = f"{intent}/{fam['family']}"
            patterns = fam["patterns"]
            held = _held_out(family, [str(i) for i in range(len(patterns))], seed)
            for i, pattern in enumerate(patterns):
                rng = random.Random(f"{seed}:{family}:{i}")
                has_slots = bool(_SLOT_RE.search(pattern))
                target = per_template if has_slots else 3
                made, attempts = 0, 0
                while made < target and attempts < target * 20:
                    attempts += 1
                    channel = _pick_channel(rng)
                    text = add_noise(_fill(pattern, slots, rng), channel, rng, bare=intent in BARE_INTENTS)
                    k = key(text)
                    if not k or k in seen:
                        continue
                    seen.add(k)
                    made += 1
                    out.append(
                        Utterance(
                            text=text, intent=intent, level1=level1,
                            complaint_category=fam.get("complaint_category") or "", channel=channel,
                            family=family, template=f"{family}#{i}", source="template",
                            split="test" if str(i) in held else "train",
                        )
                    )
    for intent, cat, channel, text, lineno in handwritten:
        k = key(text)
        if k in seen:
            continue
        seen.add(k)
        split = "test" if zlib.crc32(text.encode("utf-8")) % 10 < HANDWRITTEN_TEST_SHARE else "train"
        out.append(
            Utterance(
                text=text, intent=intent, level1=catalogue[intent].level1, complaint_category=cat,
                channel=channel, family=f"{intent}/handwritten", template=f"{intent}/hand-{lineno}",
                source="handwritten", split=split,
            )
        )
    return out


def write_jsonl(rows: Iterable[Utterance], path: Path) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(asdict(row), ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    return n


def read_jsonl(path: Path | None = None) -> list[Utterance]:
    path = path or corpus_path()
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(Utterance(**json.loads(line)))
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(f"{path.name} line {lineno}: {exc}", field="corpus") from None
    return rows
