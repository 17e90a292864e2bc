"""IVR menu flows as data (`data/ivr/*.yaml`) and a text simulator that walks them key by key.

Pure Python. The simulator is what the CLI runs (`gridcare assistant ivr`) and what the console's flow
viewer checks; account nodes answer through the same `AccountContext` the chat uses, and article
nodes read the knowledge-base article's summary, so the phone and the chat never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from gridcare.core.errors import NotFound, ValidationFailed

NODE_KINDS = ("menu", "say", "article", "account", "transfer", "hangup")
KEYS = frozenset("0123456789*#")
MAX_DEPTH = 3  # seed 001: menus no deeper than three levels below the welcome prompt


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    prompt: str = ""
    text: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    next: str = ""
    article: str = ""
    intent: str = ""
    queue: str = ""


@dataclass(frozen=True)
class Flow:
    code: str
    name: str
    start: str
    max_retries: int
    nodes: Mapping[str, Node]

    def depth(self) -> dict[str, int]:
        """Menu depth of every reachable node (the welcome menu is 0), breadth first."""
        depth = {self.start: 0}
        queue = [self.start]
        while queue:
            node = self.nodes[queue.pop(0)]
            d = depth[node.id] + (1 if node.kind == "menu" else 0)
            for target in [*node.options.values(), node.next]:
                if target and target not in depth:
                    depth[target] = d
                    queue.append(target)
        return depth


def parse_flow(doc: dict, *, origin: str) -> Flow:
    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), dict):
        raise ValidationFailed(f"{origin}: needs code, name, start and nodes", field="flow")
    nodes: dict[str, Node] = {}
    for node_id, row in doc["nodes"].items():
        where = f"{origin} node {node_id}"
        if not isinstance(row, dict):
            problems.append(f"{where}: not a mapping")
            continue
        kind = row.get("kind")
        if kind not in NODE_KINDS:
            problems.append(f"{where}: kind {kind!r} is not one of {', '.join(NODE_KINDS)}")
            continue
        options = {str(k): str(v) for k, v in (row.get("options") or {}).items()}
        bad_keys = sorted(k for k in options if k not in KEYS)
        if bad_keys:
            problems.append(f"{where}: option keys {bad_keys} are not phone keys")
        node = Node(id=str(node_id), kind=kind, prompt=str(row.get("prompt") or ""), text=str(row.get("text") or ""),
                    options=options, next=str(row.get("next") or ""), article=str(row.get("article") or ""),
                    intent=str(row.get("intent") or ""), queue=str(row.get("queue") or ""))
        if kind == "menu" and (not node.prompt or not options):
            problems.append(f"{where}: a menu needs a prompt and options")
        if kind in ("say", "article", "account") and not node.next:
            problems.append(f"{where}: {kind} needs next")
        if kind == "article" and not node.article:
            problems.append(f"{where}: article needs an article id")
        if kind == "account" and not node.intent:
            problems.append(f"{where}: account needs an intent")
        if kind == "transfer" and not node.queue:
            problems.append(f"{where}: transfer needs a queue")
        nodes[node.id] = node
    for node in nodes.values():
        for target in [*node.options.values(), node.next]:
            if target and target not in nodes:
                problems.append(f"{origin} node {node.id}: goes to unknown node {target!r}")
    start = str(doc.get("start") or "")
    if start not in nodes:
        problems.append(f"{origin}: start node {start!r} does not exist")
    if problems:
        raise ValidationFailed("; ".join(problems), field="flow")
    flow = Flow(code=str(doc.get("code") or Path(origin).stem), name=str(doc.get("name") or origin), start=start,
                max_retries=int(doc.get("max_retries", 2)), nodes=nodes)
    depth = flow.depth()
    too_deep = sorted(n for n, d in depth.items() if d > MAX_DEPTH and flow.nodes[n].kind == "menu")
    if too_deep:
        raise ValidationFailed(f"{origin}: menus deeper than {MAX_DEPTH} levels: {', '.join(too_deep)}", field="flow")
    unreachable = sorted(set(nodes) - set(depth))
    if unreachable:
        raise ValidationFailed(f"{origin}: unreachable nodes: {', '.join(unreachable)}", field="flow")
    return flow


def flows_dir() -> Path:
    return Path(str(resources.files("gridcare.assistant") / "data" / "ivr"))


@lru_cache(maxsize=1)
def shipped_flows() -> dict[str, Flow]:
    out = {}
    for path in sorted(flows_dir().glob("*.yaml")):
        flow = parse_flow(yaml.safe_load(path.read_text(encoding="utf-8")), origin=path.name)
        out[flow.code] = flow
    return out


def get_flow(code: str) -> Flow:
    try:
        return shipped_flows()[code]
    except KeyError:
        raise NotFound(f"no IVR flow {code!r}", field="flow") from None


@dataclass
class Session:
    """One simulated call. `say` lines accumulate in `transcript`; `press` feeds one key."""

    flow: Flow
    article_text: Callable[[str], str] = lambda article_id: f"[知识库 {article_id}]"
    account_answer: Callable[[str], str] | None = None
    node: str = ""
    retries: int = 0
    ended: bool = False
    transferred_to: str = ""
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (who, text): who is "ivr" or "caller"

    def _say(self, text: str) -> list[str]:
        self.transcript.append(("ivr", text))
        return [text]

    def start(self) -> list[str]:
        return self._enter(self.flow.start)

    def _enter(self, node_id: str) -> list[str]:
        out: list[str] = []
        for _ in range(len(self.flow.nodes) + 1):  # say/article/account chains end at a menu or an end
            node = self.flow.nodes[node_id]
            self.node = node.id
            self.retries = 0
            if node.kind == "menu":
                return out + self._say(node.prompt)
            if node.kind == "say":
                out += self._say(node.text)
            elif node.kind == "article":
                out += self._say(self.article_text(node.article))
            elif node.kind == "account":
                if self.account_answer is None:
                    out += self._say(f"[按户号查询：{node.intent}（模拟器未连接账户数据）]")
                else:
                    out += self._say(self.account_answer(node.intent))
            elif node.kind == "transfer":
                self.ended = True
                self.transferred_to = node.queue
                return out + self._say(node.text or f"正在转接 {node.queue}")
            elif node.kind == "hangup":
                self.ended = True
                return out + self._say(node.text or "再见。")
            node_id = node.next
        raise ValidationFailed(f"IVR flow {self.flow.code} loops without a menu", field="flow")  # pragma: no cover

    def press(self, key: str) -> list[str]:
        self.transcript.append(("caller", key))
        if self.ended:
            return []
        node = self.flow.nodes[self.node]
        target = node.options.get((key or "").strip())
        if target is None:
            self.retries += 1
            if self.retries > self.flow.max_retries:
                self.ended = True
                self.transferred_to = "general"
                return self._say("输入有误次数过多，正在为您转接人工客服。")
            return self._say("输入有误，请重新选择。") + self._say(node.prompt)
        return self._enter(target)


def simulate(flow: Flow, keys: str | list[str], **kwargs) -> Session:
    """Run a whole key sequence ("2,1" or ["2", "1"]) and return the finished session."""
    session = Session(flow=flow, **kwargs)
    session.start()
    for key in (keys.replace(",", " ").split() if isinstance(keys, str) else keys):
        if session.ended:
            break
        session.press(key)
    return session


def tree(flow: Flow) -> list[dict]:
    """The flow as nested rows for the console viewer; a node seen before is shown as a link back."""
    seen: set[str] = set()

    def walk(node_id: str, key: str) -> dict:
        node = flow.nodes[node_id]
        row = {"key": key, "node": node, "children": [], "loop": node_id in seen}
        if row["loop"]:
            return row
        seen.add(node_id)
        for k, target in node.options.items():
            row["children"].append(walk(target, k))
        if node.next:
            row["children"].append(walk(node.next, "→"))
        return row

    return [walk(flow.start, "")]
