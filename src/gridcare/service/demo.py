"""Demo service-desk data: a few hundred work orders over the last ten days in every state, a fault
outage with the calls it caused, a planned outage announced ahead, return visits (phone and SMS,
satisfied and not), a task force, typical cases — then one SLA tick so the board has warnings,
breaches and escalations to show.

Everything goes through the real services with `as_of` in the past, so history, clocks, routing
and the outbox look exactly as they would in production. Deterministic for a seed; a second run
finds its marker outage and adds nothing.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password

from gridcare.access.models import User
from gridcare.access.roles import Role
from gridcare.access.services import user_create
from gridcare.core.errors import GridcareError
from gridcare.customers.models import Account, OrgUnit, ServicePoint
from gridcare.service.models import Outage, ReturnVisit, WorkOrder
from gridcare.service.services import (
    OutageInput,
    WorkOrderInput,
    negative_entry_create,
    outage_create,
    return_visit_answer_survey,
    return_visit_complete,
    return_visit_unreachable,
    sla_tick,
    task_force_form,
    typical_case_create,
    work_order_accept,
    work_order_arrive,
    work_order_cancel,
    work_order_close,
    work_order_contact,
    work_order_create,
    work_order_merge,
    work_order_plan,
    work_order_record_contact,
    work_order_reply,
    work_order_resolve,
    work_order_transfer,
    work_order_wait_for_customer,
)

MARKER = "演示：10kV 线路故障停电"
ORDERS = 300
DAYS = 10

TEXTS = {
    "repair": ["家里突然没电了，邻居家也没电", "家里停电了，总闸没有跳", "楼道电线冒火花，很危险", "电表烧了，闻到焦味",
               "整栋楼都停电了", "电压不稳，灯一直闪", "家里跳闸后合不上"],
    "inquiry": ["请问阶梯电价怎么算", "想查一下上个月电费多少", "峰谷分时电价怎么办理", "新装电表需要带什么材料",
                "买了二手房，怎么办理过户更名", "什么时候来电", "光伏并网怎么申请"],
    "business": ["已交费了但还没来电，请尽快复电", "觉得电表走得快，要求校验电表", "抄表读数不对，示数比实际多",
                 "雷击后电器损坏，要求核查", "申请一户多人口增加阶梯电量"],
    "complaint": ["营业员服务态度差，推诿不办", "电费多收了，要求退还", "抢修人员迟迟不来", "没有通知就停电了",
                  "最近频繁停电，三天两头停电", "施工挖断电缆没人管", "已经多次投诉还没解决，要找媒体曝光"],
    "other": ["表扬抢修班组，半夜冒雨抢修", "建议营业厅周末延长营业时间", "举报有人私拉电线窃电"],
}
KIND_WEIGHTS = [("repair", 30), ("inquiry", 25), ("business", 20), ("complaint", 15), ("other", 10)]
CHANNELS = [("hotline", 60), ("walk_in", 10), ("email", 10), ("government", 5), ("letter", 2)]


def _pick(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _counties(hotline: User) -> list[OrgUnit]:
    """The counties under the hotline agent's unit: the demo desk works there."""
    return list(OrgUnit.objects.filter(level=OrgUnit.Level.COUNTY, path__startswith=hotline.org_unit.path)
                .order_by("code")[:4])


def _staff(as_of: datetime, counties: list[OrgUnit]) -> dict[str, list[User]]:
    """Desk agents with routing skills in the demo org tree (created once)."""
    password = None
    out: dict[str, list[User]] = {"repair": [], "complaint": [], "supervisor": []}
    for county in counties:
        for role, skill, suffix, label in ((Role.AGENT, "complaint", "cmp", "投诉专员"),
                                           (Role.SUPERVISOR, "", "sup", "班长")):
            username = f"svc_{suffix}_{county.code}"
            user = User.objects.filter(username=username).first()
            if user is None:
                password = password or make_password(None)
                user = user_create(username=username, password=password, password_is_hash=True, role=role,
                                   display_name=f"{county.name}{label}", org_unit_id=county.pk, actor=None,
                                   as_of=as_of)
                if skill:
                    user.skills = skill
                    user.save(update_fields=["skills"])
            out["complaint" if skill else "supervisor"].append(user)
        for station in OrgUnit.objects.filter(parent=county).order_by("code"):
            username = f"svc_rep_{station.code}"
            user = User.objects.filter(username=username).first()
            if user is None:
                password = password or make_password(None)
                user = user_create(username=username, password=password, password_is_hash=True, role=Role.AGENT,
                                   display_name=f"{station.name}抢修", org_unit_id=station.pk, actor=None, as_of=as_of)
                user.skills = "repair"
                user.save(update_fields=["skills"])
            out["repair"].append(user)
    return out


def _accounts(rng: random.Random, counties: list[OrgUnit]) -> list[Account]:
    """Demo accounts in the counties that have desk staff, so routing finds someone."""
    paths = [c.path for c in counties]
    qs = Account.objects.filter(customer__external_id__startswith="DEMO").select_related("org_unit")
    pool = [a for a in qs.order_by("number")[:5000] if any(a.org_unit.path.startswith(p) for p in paths)]
    rng.shuffle(pool)
    return pool[:400]


def _safe(fn, **kwargs):
    try:
        return fn(**kwargs)
    except GridcareError:
        return None  # the demo tries realistic actions; one the rules refuse is simply skipped


def load_demo(*, seed: int, as_of: datetime, orders: int = ORDERS) -> str:
    """Load the demo (about 30 s for the default 300 orders on 2 cores); `orders` scales it."""
    if Outage.objects.filter(title=MARKER).exists():
        return f"already loaded ({WorkOrder.objects.count()} work orders)"
    rng = random.Random(f"service:{seed}")
    hotline = User.objects.filter(username="agent").first()
    supervisor = User.objects.filter(username="supervisor").first()
    if hotline is None or supervisor is None:
        return "skipped: load the customers demo first (needs the 'agent' and 'supervisor' logins)"
    if hotline.org_unit_id is None:
        return "skipped: the 'agent' login has no org unit"
    counties = _counties(hotline)
    staff = _staff(as_of, counties)
    accounts = _accounts(rng, counties)
    if not accounts:
        return "skipped: no demo customers in the desk's counties"

    # A fault outage two hours ago in the grid cell of the first account, and a planned one ahead.
    point = ServicePoint.objects.filter(account=accounts[0]).exclude(grid_cell="").first()
    fault_cell = point.grid_cell if point else ""
    county = next(c for c in counties if accounts[0].org_unit.path.startswith(c.path))
    outage_create(actor=supervisor, as_of=as_of - timedelta(hours=2), data=OutageInput(
        kind="fault", title=MARKER, org_unit_code=county.code, grid_cells=[fault_cell or "DEMO-CELL"],
        start_at=as_of - timedelta(hours=2), end_at=as_of + timedelta(hours=2), reason="10kV 线路故障"))
    outage_create(actor=supervisor, as_of=as_of - timedelta(days=1), data=OutageInput(
        kind="planned", title="演示：配电变压器增容改造", org_unit_code=county.code, grid_cells=[fault_cell or "DEMO-CELL"],
        start_at=as_of + timedelta(days=8), end_at=as_of + timedelta(days=8, hours=6), reason="配网改造"))

    created: list[tuple[WorkOrder, datetime]] = []
    start = as_of - timedelta(days=DAYS)
    times = sorted(start + timedelta(seconds=rng.randint(0, DAYS * 86400 - 3600)) for _ in range(orders))
    for i, at in enumerate(times):
        kind = _pick(rng, KIND_WEIGHTS)
        text = rng.choice(TEXTS[kind])
        account = rng.choice(accounts)
        channel = _pick(rng, CHANNELS)
        actor = None if channel == "email" else hotline
        grade = ""
        if kind == "complaint":
            grade = rng.choices(["general", "important", "major"], weights=[80, 15, 5])[0]
        order = _safe(work_order_create, actor=actor, as_of=at, data=WorkOrderInput(
            channel=channel if actor else "email", description=text, account_number=account.number, grade=grade,
            area_type=rng.choices(["urban", "rural", "remote"], weights=[70, 25, 5])[0],
            external_ref=f"demo:{seed}:{i}"))
        if order is not None:
            created.append((order, at))

    # Calls about the fault outage in the last two hours: linked to it automatically.
    if point is not None:
        for k in range(6):
            at = as_of - timedelta(minutes=100 - 15 * k)
            order = _safe(work_order_create, actor=hotline, as_of=at, data=WorkOrderInput(
                channel="hotline", description="家里没电了，是不是停电了", account_number=accounts[0].number,
                external_ref=f"demo:{seed}:outage:{k}"))
            if order is not None and k == 5:
                _safe(work_order_record_contact, actor=hotline, number=order.number, channel="hotline",
                      note="客户再次来电催问", as_of=at + timedelta(minutes=1))

    counts = {"closed": 0, "open": 0, "visits": 0}
    for order, at in created:
        age = (as_of - at).total_seconds() / 86400
        handler = order.assignee or hotline
        step = at + timedelta(minutes=rng.randint(5, 25))
        if order.status in ("merged", "cancelled"):
            continue
        if rng.random() < 0.03 and age > 1:
            _safe(work_order_cancel, actor=supervisor, number=order.number, reason="误受理（测试来电）", as_of=step)
            continue
        if order.type == "complaint":
            _safe(work_order_contact, actor=handler, number=order.number, note="已电话联系客户，了解诉求", as_of=step)
            _safe(work_order_accept, actor=handler, number=order.number, as_of=step + timedelta(minutes=30))
            if order.grade == "major":
                team = [u.pk for u in staff["complaint"][:2]]
                _safe(task_force_form, actor=supervisor, number=order.number, lead_id=handler.pk, member_ids=team,
                      note="重大投诉专项攻关", as_of=step + timedelta(minutes=40))
            if rng.random() < 0.8:
                _safe(work_order_plan, actor=handler, number=order.number, plan="核实情况，约谈相关人员，整改并答复客户",
                      as_of=step + timedelta(hours=rng.choice((3, 6, 10))))
        elif order.type == "repair":
            _safe(work_order_arrive, actor=handler, number=order.number, note="已到达现场",
                  as_of=step + timedelta(minutes=rng.randint(20, 120)))
        elif rng.random() < 0.1 and age > 0.5:
            _safe(work_order_wait_for_customer, actor=handler, number=order.number, reason="等待客户补充资料",
                  as_of=step)
            continue
        if rng.random() < 0.05 and age > 0.5 and order.org_unit.parent_id:
            _safe(work_order_transfer, actor=handler, number=order.number, org_unit_code=order.org_unit.parent.code,
                  reason="需上级单位协调", as_of=step + timedelta(minutes=50))
        closing = step + timedelta(hours=rng.choice((2, 5, 20, 30, 50, 80)))
        if closing >= as_of or rng.random() < 0.15:
            counts["open"] += 1
            continue
        if order.type in ("complaint", "inquiry", "report", "opinion", "suggestion"):
            _safe(work_order_reply, actor=handler, number=order.number, text="已向客户答复处理意见",
                  as_of=closing - timedelta(minutes=30))
        if rng.random() < 0.1:
            _safe(work_order_resolve, actor=handler, number=order.number, resolution="已处理", as_of=closing)
            continue
        if _safe(work_order_close, actor=handler, number=order.number, resolution="已处理完毕，客户认可",
                 as_of=closing) is None:
            continue
        counts["closed"] += 1
        visit = ReturnVisit.objects.filter(work_order=order).first()
        if visit is None:
            continue
        answer_at = max(visit.scheduled_at, closing) + timedelta(hours=rng.randint(1, 5))
        if answer_at >= as_of:
            continue
        satisfied = rng.random() < 0.88
        answers = {q["code"]: ("yes" if satisfied or q["code"] != "resolved" else "no") if q["kind"] == "yes_no"
                   else (rng.choice((4, 5)) if satisfied else rng.choice((1, 2))) if q["kind"] == "score" else ""
                   for q in visit.questions}
        if visit.method == ReturnVisit.Method.PHONE:
            if rng.random() < 0.1:
                _safe(return_visit_unreachable, actor=hotline, visit_id=visit.pk, note="无人接听", as_of=answer_at)
                continue
            done = _safe(return_visit_complete, actor=hotline, visit_id=visit.pk, answers=answers, as_of=answer_at,
                         customer_requested_time=True)
        else:
            done = _safe(return_visit_answer_survey, token=visit.token, answers=answers, as_of=answer_at)
        counts["visits"] += done is not None

    # A duplicate merged, a manual negative entry, two typical cases.
    target = (WorkOrder.objects.filter(type="complaint", status__in=WorkOrder.OPEN_STATUSES, account__isnull=False)
              .order_by("-created_at").first())
    if target is not None:
        dup = _safe(work_order_create, actor=hotline, as_of=as_of - timedelta(minutes=30), data=WorkOrderInput(
            channel="hotline", description="同一问题再次反映：" + target.description,
            account_number=target.account.number, category=target.category, external_ref=f"demo:{seed}:dup"))
        if dup is not None:
            _safe(work_order_merge, actor=hotline, number=dup.number, into_number=target.number,
                  reason="同一客户同一诉求", as_of=as_of - timedelta(minutes=25))
    complaints = [o for o, _at in created if o.type == "complaint"]
    if complaints:
        _safe(typical_case_create, actor=supervisor, title="窗口推诿引发投诉", kind="negative", number=complaints[0].number,
              summary="客户到营业厅办理业务，营业员以系统故障为由推诿，客户投诉。", lessons="落实首问负责制，不得推诿。",
              accountability="当事营业员通报批评，所在供电所扣减当月服务考核分。", as_of=as_of - timedelta(days=1))
    _safe(typical_case_create, actor=supervisor, title="暴雨夜抢修获客户点赞", kind="positive", org_unit_code=county.code,
          summary="暴雨导致线路故障，抢修班组40分钟到达现场，3小时恢复供电。", lessons="抢修资源前置，主动告知停电信息。",
          as_of=as_of - timedelta(days=2))
    _safe(negative_entry_create, actor=supervisor, description="暗访发现营业厅未公示最新电价表", org_unit_code=county.code,
          occurred_at=as_of - timedelta(days=3), as_of=as_of - timedelta(days=3))
    result = sla_tick(as_of=as_of)
    total = WorkOrder.objects.count()
    return (f"{total} work orders ({counts['closed']} closed, {counts['open']} left open), {counts['visits']} return "
            f"visits answered, 2 outages; tick: {result.warnings} warnings, {result.breaches} breaches, "
            f"{result.escalations} escalations")
