"""SLA tick benchmark: `python bench/bench_service.py [--quick] [--orders N] [--baseline N]`.

Builds open work orders with SLA clocks in every state a tick meets (far from due, inside the
warning window, just overdue, overdue long enough to climb the whole escalation chain) in a
throw-away SQLite database (or GRIDCARE_DATABASE_URL), then times, in the same run:

- set-based: `gridcare.service.services.sla_tick` (a few queries and bulk writes in one transaction);
- per-clock: `sla_tick_per_clock`, the reference that loads, locks and saves one clock at a time.

Both run on the same `--baseline` orders (state reset in between) and must leave the same counts
of warnings, breaches, escalations, negative-list entries, messages and history events (asserted);
the ratio is measured there. The set-based tick then runs alone over all `--orders` orders
(default 100,000) to show it holds at scale.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

TZ = ZoneInfo("Asia/Shanghai")
TICK_AT = datetime(2026, 11, 10, 10, 0, tzinfo=TZ)  # a Tuesday


def setup(database_url: str | None) -> None:
    if database_url:
        os.environ["GRIDCARE_DATABASE_URL"] = database_url
    else:
        home = tempfile.mkdtemp(prefix="gridcare-bench-service-")
        os.environ["GRIDCARE_HOME"] = home
        os.environ.pop("GRIDCARE_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def org_and_staff():
    from gridcare.access.models import User
    from gridcare.customers.models import OrgUnit
    from gridcare.customers.services import org_unit_create

    if OrgUnit.objects.filter(code="B").exists():
        return list(OrgUnit.objects.filter(level="station").order_by("code")), list(
            User.objects.filter(role="agent").order_by("username"))
    org_unit_create(code="B", name="省公司", level="province")
    stations, agents = [], []
    for c in range(4):
        org_unit_create(code=f"B{c}", name=f"市局{c}", level="city", parent_code="B")
        User.objects.create(username=f"sup{c}", role="supervisor", org_unit=OrgUnit.objects.get(code=f"B{c}"))
        for s in range(5):
            unit = org_unit_create(code=f"B{c}{s}", name=f"供电所{c}{s}", level="station", parent_code=f"B{c}")
            stations.append(unit)
            agents.append(User.objects.create(username=f"agent{c}{s}", role="agent", org_unit=unit))
    User.objects.create(username="sup_root", role="supervisor", org_unit=OrgUnit.objects.get(code="B"))
    return stations, agents


def build(start: int, n: int, *, stations, agents, seed: int = 7) -> None:
    """Orders start+1 … start+n, each with 1–3 running clocks placed around TICK_AT."""
    from gridcare.service.models import SlaClock, WorkOrder

    rng = random.Random(seed + start)
    kinds = [("complaint", "complaint.business.billing"), ("inquiry", "inquiry.tariff.bill"),
             ("repair", "repair.lv_outage.single")]
    orders, specs = [], []
    for i in range(start + 1, start + n + 1):
        t, cat = kinds[i % 3]
        k = rng.randrange(len(stations))
        created = TICK_AT - timedelta(hours=rng.randint(1, 240))
        orders.append(WorkOrder(number=f"B{i:09d}", channel="hotline", type=t, category=cat, subject="bench",
                                description="bench", org_unit=stations[k], assignee=agents[k], status="assigned",
                                created_at=created, updated_at=created, grid_cell=f"G{k}"))
        specs.append([rng.random() for _ in range(1 + i % 3)])
    WorkOrder.objects.bulk_create(orders, batch_size=2000)
    ids = dict(WorkOrder.objects.filter(number__gte=f"B{start + 1:09d}", number__lte=f"B{start + n:09d}")
               .values_list("number", "pk"))
    clocks = []
    for order, draws in zip(orders, specs, strict=True):
        for j, r in enumerate(draws):
            if r < 0.40:
                due = TICK_AT + timedelta(hours=rng.randint(5, 96))  # fine
            elif r < 0.60:
                due = TICK_AT + timedelta(minutes=rng.randint(5, 240))  # inside the warning window
            elif r < 0.80:
                due = TICK_AT - timedelta(minutes=rng.randint(1, 100))  # just breached: level 1
            else:
                due = TICK_AT - timedelta(days=rng.randint(2, 6))  # long breached: levels 1–3
            warn = due - timedelta(hours=4)
            clocks.append(SlaClock(work_order_id=ids[order.number], key=("reply", "contact", "resolve")[j], label="时限",
                                   amount=4, unit="hours", rule="bench", started_at=order.created_at, due_at=due,
                                   warn_at=warn, met_on=["reply"]))
    SlaClock.objects.bulk_create(clocks, batch_size=2000)


def reset() -> None:
    from gridcare.notifications.models import Message
    from gridcare.service.models import Escalation, NegativeListEntry, SlaClock, WorkOrder, WorkOrderEvent

    for model in (WorkOrderEvent, Message, NegativeListEntry, Escalation):
        model.objects.all().delete()
    SlaClock.objects.update(warned_at=None, breached_at=None, escalation_level=0)
    WorkOrder.objects.update(priority="normal")


def outcome() -> dict:
    from django.db.models import Count

    from gridcare.notifications.models import Message
    from gridcare.service.models import Escalation, NegativeListEntry, SlaClock, WorkOrder, WorkOrderEvent

    return {
        "warned": SlaClock.objects.filter(warned_at__isnull=False).count(),
        "breached": SlaClock.objects.filter(breached_at__isnull=False).count(),
        "levels": dict(SlaClock.objects.values_list("escalation_level").annotate(n=Count("id"))),
        "escalations": Escalation.objects.count(),
        "negative": NegativeListEntry.objects.count(),
        "messages": Message.objects.count(),
        "events": dict(WorkOrderEvent.objects.values_list("kind").annotate(n=Count("id"))),
        "urgent": WorkOrder.objects.filter(priority="urgent").count(),
    }


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(as_of=TICK_AT)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="orders both ticks run over, for the ratio")
    parser.add_argument("--quick", action="store_true", help="2,000 orders, 500 for the ratio")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.quick:
        args.orders, args.baseline = 2_000, 500
    args.baseline = min(args.baseline, args.orders)
    setup(args.database_url)

    from django.db import connection

    from gridcare.service.models import SlaClock
    from gridcare.service.services import sla_tick, sla_tick_per_clock

    stations, agents = org_and_staff()
    started = time.perf_counter()
    build(0, args.baseline, stations=stations, agents=agents)
    clocks = SlaClock.objects.count()
    print(f"database: {connection.vendor}; built {args.baseline} orders / {clocks} clocks in "
          f"{time.perf_counter() - started:.1f} s")

    # Warm-up: a tick long before anything is due loads the policy, calendar and templates (both ticks
    # then run warm) and changes nothing.
    warm = sla_tick(as_of=TICK_AT - timedelta(days=30))
    assert (warm.warnings, warm.breaches, warm.escalations) == (0, 0, 0)
    t_set, r_set = timed(sla_tick)
    set_outcome = outcome()
    reset()
    t_ref, r_ref = timed(sla_tick_per_clock)
    ref_outcome = outcome()
    assert r_set == r_ref, (r_set, r_ref)
    assert set_outcome == ref_outcome, (set_outcome, ref_outcome)
    print(f"same result: {r_set.warnings} warnings, {r_set.breaches} breaches, {r_set.escalations} escalations, "
          f"{set_outcome['messages']} messages, {set_outcome['negative']} negative-list entries")
    print(f"{'per-clock':>10}: {t_ref:8.2f} s  {clocks / t_ref:10,.0f} clocks/s")
    print(f"{'set-based':>10}: {t_set:8.2f} s  {clocks / t_set:10,.0f} clocks/s")
    print(f"ratio (per-clock / set-based, {args.baseline} orders): {t_ref / t_set:.1f}×")

    if args.orders > args.baseline:
        started = time.perf_counter()
        build(args.baseline, args.orders - args.baseline, stations=stations, agents=agents)
        reset()
        clocks = SlaClock.objects.count()
        print(f"built up to {args.orders} orders / {clocks} clocks in {time.perf_counter() - started:.1f} s")
        t_big, r_big = timed(sla_tick)
        print(f"set-based over {args.orders:,} open orders: {t_big:.2f} s ({clocks / t_big:,.0f} clocks/s): "
              f"{r_big.warnings} warnings, {r_big.breaches} breaches, {r_big.escalations} escalations")
        t_again, r_again = timed(sla_tick)
        assert (r_again.warnings, r_again.breaches, r_again.escalations) == (0, 0, 0)
        print(f"second tick at the same instant (nothing to do): {t_again:.2f} s")


if __name__ == "__main__":
    main()
