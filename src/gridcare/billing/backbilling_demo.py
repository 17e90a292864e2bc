"""Demo back-billing (退补) cases, so the approver's queue, the adjustment bills and the portal have
something to show: a wrong CT multiplier billed as an adjustment bill (补收), a meter found running
fast refunded (退还) to the portal demo customer, a slow meter waiting for approval and a stopped-meter
claim rejected after a site check.

Every case goes through the real services: the demo clerk prepares it, the demo approver decides
it (two-person rule), and whoever holds `billing.issue` bills it with `bill_backbilling_issue`.
It lives in billing, not parameters, because issuing is billing's (parameters sits below billing).

Deterministic for a seed and idempotent: each case is recognised by its reason text, so a second
run creates nothing. Load it after the billing demo (it needs issued bills) and before payments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max

from gridcare.access.models import User
from gridcare.billing import services
from gridcare.billing.models import Bill, BillRead
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.parameters import services as parameters
from gridcare.parameters.models import BackBillingCase

TAG = "（演示数据）"
PORTAL_CUSTOMER = "DEMO0000001"  # customers.demo: the portal login's customer


@dataclass(frozen=True)
class Slot:
    key: str  # the case's reason: how a second run recognises it
    kind: str
    periods: int  # how many of the latest issued periods it corrects
    outcome: str  # billed | draft | rejected
    note: str = ""


MULTIPLIER = Slot(f"现场核查：电流互感器实际变比为系统登记的 1.5 倍，按实际倍率补收电量{TAG}", "wrong_multiplier", 3,
                  "billed", "核对互感器铭牌与现场照片，同意补收")
FAST_METER = Slot(f"电能表周期校验误差 +4%（走快），按校验误差退还二分之一时间的电量{TAG}", "meter_error", 6, "billed",
                  "校验报告齐全，同意退还")
SLOW_METER = Slot(f"用户申请校验：电能表误差 −3%（走慢），按校验误差补收二分之一时间的电量{TAG}", "meter_error", 6,
                  "draft")
STOPPED = Slot(f"抄表员反映电能表疑似停走，按正常月份平均电量补收{TAG}", "stopped_meter", 1, "rejected",
               "现场核查电能表运行正常，该月用电量低系用户外出，不予退补")
SLOTS = (MULTIPLIER, FAST_METER, SLOW_METER, STOPPED)


@dataclass(frozen=True)
class Candidate:
    account_id: int
    periods: list[str]  # issued periods, oldest first
    multiplier: Decimal  # the largest recorded on its bills, and the meter it was recorded for
    asset_number: str
    portal: bool


def _candidates(clerk: User, before: datetime) -> list[Candidate]:
    """Accounts in the clerk's scope with issued invoices, each period's every version issued before
    `before` (a case is prepared against bills that exist)."""
    rows = (Bill.objects.filter(account_scope_q(user=clerk, prefix="account__"), kind=Bill.Kind.INVOICE,
                                status=Bill.Status.ISSUED, account__status=Account.Status.ACTIVE)
            .values("account_id", "period_code").annotate(last=Max("issued_at"))
            .order_by("account_id", "period_code"))
    periods: dict[int, list[str]] = {}
    for r in rows:
        if r["last"] is not None and r["last"] <= before:
            periods.setdefault(r["account_id"], []).append(r["period_code"])
    if not periods:
        return []
    meters: dict[int, tuple[Decimal, str]] = {}
    for pk, asset, m in (BillRead.objects.filter(bill__account_id__in=list(periods), bill__kind=Bill.Kind.INVOICE)
                         .values_list("bill__account_id", "asset_number", "multiplier").distinct()):
        if pk not in meters or (Decimal(m), asset) > meters[pk]:
            meters[pk] = (Decimal(m), asset)
    portal = set(Account.objects.filter(customer__external_id=PORTAL_CUSTOMER).values_list("pk", flat=True))
    return [Candidate(pk, codes, *meters[pk], pk in portal) for pk, codes in sorted(periods.items()) if pk in meters]


def _pick(cands: list[Candidate], used: set[int], *, seed: int, slot: Slot) -> Candidate | None:
    """The slot's account: the portal customer's for the refund, a CT-metered one for the
    multiplier, otherwise a seeded choice among accounts with enough issued periods (any with
    issued bills when the demo history is short)."""
    free = [c for c in cands if c.account_id not in used]
    enough = [c for c in free if len(c.periods) >= slot.periods] or free  # a short history: its latest periods
    if slot is FAST_METER:
        preferred = [c for c in free if c.portal]
    elif slot is MULTIPLIER:
        preferred = [c for c in enough if c.multiplier > 1]
    else:
        preferred = []
    pool = preferred or [c for c in enough if not c.portal] or enough
    if not pool:
        return None
    return random.Random(f"{seed}:backbilling:{slot.kind}:{slot.outcome}").choice(pool)


def _stopped_month(cand: Candidate) -> tuple[list[str], dict]:
    """The quietest of the last six months, claimed as stopped, with the others' average as the
    normal-month reference (第八十条(3))."""
    energy = dict(Bill.objects.filter(account_id=cand.account_id, kind=Bill.Kind.INVOICE, status=Bill.Status.ISSUED,
                                      period_code__in=cand.periods[-6:]).order_by("period_code", "version")
                  .values_list("period_code", "energy_wh"))  # the latest version of each period wins
    code = min(sorted(energy), key=lambda c: energy[c])
    others = [wh for c, wh in energy.items() if c != code] or [energy[code]]
    reference_wh = max(sum(others) // len(others) // 1000 * 1000, energy[code] + 1000)
    return [code], {"reference_kwh": {code: str(reference_wh // 1000)}}


def _case_input(slot: Slot, cand: Candidate) -> tuple[list[str], dict]:
    codes = cand.periods[-slot.periods:]
    if slot is MULTIPLIER:
        right = (cand.multiplier * Decimal("1.5")).quantize(Decimal("0.01"))
        return codes, {"multiplier": str(right), "asset_number": cand.asset_number}
    if slot is FAST_METER:
        return codes, {"error_percent": "4"}
    if slot is SLOW_METER:
        return codes, {"error_percent": "-3"}
    return _stopped_month(cand)


def _users() -> dict[str, User | None]:
    return {name: User.objects.filter(username=name, is_active=True).first()
            for name in ("clerk", "approver", "admin")}


def load_demo(*, seed: int, as_of: datetime) -> str:
    """Prepare, decide and bill the demo cases that are not there yet (see the module docstring)."""
    users = _users()
    clerk, approver = users["clerk"], users["approver"]
    issuer = approver or users["admin"]
    if clerk is None or approver is None:
        return "back-billing: no demo clerk and approver; load master data first"
    prepared_at = as_of - timedelta(days=3)
    decided_at, issued_at = prepared_at + timedelta(days=1), prepared_at + timedelta(days=2)
    done = set(BackBillingCase.objects.filter(reason__in=[s.key for s in SLOTS]).values_list("reason", flat=True))
    todo = [s for s in SLOTS if s.key not in done]
    if not todo:
        return "back-billing: 0 new cases (all demo cases are there)"
    cands = _candidates(clerk, prepared_at)
    used = set(BackBillingCase.objects.filter(reason__in=list(done)).values_list("account_id", flat=True))
    made: list[str] = []
    bill_ids: list[int] = []
    for slot in todo:
        cand = _pick(cands, used, seed=seed, slot=slot)
        if cand is None:
            continue
        used.add(cand.account_id)
        codes, correction = _case_input(slot, cand)
        with transaction.atomic():
            case = parameters.backbilling_case_prepare(
                data=parameters.CaseInput(account_id=cand.account_id, kind=slot.kind, correction=correction,
                                          period_codes=codes, reason=slot.key),
                actor=clerk, as_of=prepared_at)
            if slot.outcome == "rejected":
                parameters.backbilling_case_reject(case_id=case.pk, actor=approver, as_of=decided_at, note=slot.note)
            elif slot.outcome == "billed":
                parameters.backbilling_case_approve(case_id=case.pk, actor=approver, as_of=decided_at, note=slot.note)
                bill = services.bill_backbilling_issue(case_id=case.pk, actor=issuer, as_of=issued_at)
                bill_ids.append(bill.pk)
        made.append(f"{case.number} {slot.kind} {slot.outcome}")
    if bill_ids:
        services.bills_deliver(bill_ids=bill_ids, as_of=issued_at)
    skipped = len(todo) - len(made)
    return (f"back-billing: {len(made)} new cases ({len(bill_ids)} billed as adjustment bills)"
            + (f", {skipped} without a suitable account" if skipped else ""))
