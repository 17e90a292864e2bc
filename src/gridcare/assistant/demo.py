"""Demo data for the assistant: the shipped knowledge base, and chat/call transcripts for inspection.

`load_demo` is idempotent (the sync skips unchanged articles; transcripts have fixed ids) and fast
(about a second). Transcripts are generated from the seed so every run yields the same contacts: most
agents mostly follow the service etiquette, some forget to confirm the resolution, answer late or use
a forbidden phrase, which gives the review queue and the per-agent scores something to show.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from gridcare.access.models import User
from gridcare.access.roles import Role
from gridcare.assistant import services

AGENTS = ["黄婷", "坐席-赵敏", "坐席-孙浩", "坐席-马丽", "坐席-郑伟"]
TRANSCRIPTS = 60

TOPICS = [
    ("上个月电费怎么这么高？", "我帮您查一下，您上月用电比前一个月多了 120 度，进入了第二档阶梯电价。"),
    ("我家停电了，什么时候来电？", "您所在的小区线路故障，抢修人员已经在现场，预计两小时内恢复供电。"),
    ("我想办理峰谷电。", "可以在网上国网 App 的峰谷电办理里申请，次月抄表起执行。"),
    ("交了电费怎么还没来电？", "已经为您登记复电，一般 24 小时内恢复送电，请保持电话畅通。"),
    ("电表是不是走快了？", "可以申请电能表校验，校验合格不收费，我现在为您登记。"),
    ("怎么办理过户？", "请携带房产证明和身份证到营业厅办理，也可以在网上国网提交材料。"),
]
GREETINGS = ["您好，很高兴为您服务，请问有什么可以帮您？", "您好，请问有什么可以帮您？"]
BAD_OPENINGS = ["说吧，什么事。", "喂，哪个户号？"]
CONFIRMS = ["请问还有其他问题吗？", "请问您的问题解决了吗？"]
CLOSINGS = ["感谢您的来电，祝您生活愉快，再见。", "感谢您的咨询，再见。"]
FORBIDDEN = ["这个不归我们管，你自己去营业厅问。", "我也没办法，这是规定没办法。"]
ANGRY = ["你们这什么态度，我要投诉！", "太差了，我要打12398。"]


def _transcript(rng: random.Random, *, index: int, agent: str, start: datetime, quality: float) -> dict:
    channel = "call" if rng.random() < 0.5 else "chat"
    question, answer = rng.choice(TOPICS)
    step = (lambda: rng.uniform(3, 12)) if channel == "call" else (lambda: rng.uniform(8, 45))
    t = 0.0
    turns = []

    def say(speaker: str, text: str, wait: float | None = None) -> None:
        nonlocal t
        t += step() if wait is None else wait
        turns.append({"speaker": speaker, "text": text, "t": round(t, 1)})

    t = -1.0
    say("customer" if channel == "chat" else "agent",
        question if channel == "chat" else rng.choice(GREETINGS if rng.random() < quality else BAD_OPENINGS), 1)
    if channel == "chat":
        say("agent", rng.choice(GREETINGS if rng.random() < quality else BAD_OPENINGS))
    else:
        say("customer", question)
    late = rng.random() > quality + 0.05
    if rng.random() > quality + 0.1:
        say("agent", rng.choice(FORBIDDEN), wait=(100 if late else None))
        say("customer", rng.choice(ANGRY))
    say("agent", answer, wait=(100 if late and channel == "chat" else 40 if late else None))
    say("customer", "好的。")
    if rng.random() < quality:
        say("agent", rng.choice(CONFIRMS))
        say("customer", "没有了，谢谢。")
    if rng.random() < quality + 0.05:
        say("agent", rng.choice(CLOSINGS))
    return {"id": f"DEMO-QA-{index:04d}", "channel": channel, "agent": agent, "started_at": start.isoformat(),
            "turns": turns}


def transcripts(*, seed: int, as_of: datetime, n: int = TRANSCRIPTS, agents: list[str] | None = None) -> list[dict]:
    rng = random.Random(f"assistant-qa:{seed}")
    agents = agents or AGENTS
    quality = {a: 0.95 - 0.12 * i for i, a in enumerate(agents)}  # the first agents follow the script best
    out = []
    for i in range(n):
        agent = agents[i % len(agents)]
        start = as_of - timedelta(days=rng.randint(1, 28), minutes=rng.randint(0, 600))
        out.append(_transcript(rng, index=i + 1, agent=agent, start=start, quality=quality[agent]))
    return out


def load_demo(*, seed: int, as_of: datetime) -> str:
    synced = services.kb_sync(as_of=as_of)
    demo_agent = User.objects.filter(username="agent", role=Role.AGENT).first()
    agents = [demo_agent.username, *AGENTS[1:]] if demo_agent is not None else AGENTS
    imported = services.transcripts_import(actor=None, rows=transcripts(seed=seed, as_of=as_of, agents=agents),
                                           as_of=as_of)
    return (f"knowledge base {synced.summary()}; transcripts {imported.created} inspected "
            f"({imported.review} to review), {imported.skipped} already there")
