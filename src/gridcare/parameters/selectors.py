"""Reads of the billing-parameter app: timelines of versions, the parameter frame billing needs,
the console/API lists, and the issued bills a back-billing case corrects.

The only read of another app's tables by SQL is :func:`original_bills`: issued bills never change
(invariant 1), billing sits above this app in the layers, and a back-billing case must quote
them exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl
from django.db import connection
from django.db.models import Q, QuerySet

from gridcare.access.models import User
from gridcare.core.periods import month_period
from gridcare.customers.models import Account, ServicePoint
from gridcare.customers.selectors import account_get, account_scope_q
from gridcare.parameters.backbilling import AccountFacts, OriginalBill
from gridcare.parameters.frames import PARAMS_SCHEMA
from gridcare.parameters.models import BackBillingCase, BillingParameter, ParameterLink


@dataclass(frozen=True)
class Piece:
    start: date
    end: date | None  # exclusive; None = open-ended
    parameter_id: int


def resolve_timeline(versions: Iterable[tuple[int, date, date | None, bool]]) -> list[Piece]:
    """What is in force when, from approved versions given in approval order (id, from, to,
    cleared): a later approval wins on the days it covers; a cleared version leaves a gap."""
    versions = list(versions)
    if not versions:
        return []
    cuts = sorted({d for _, f, t, _ in versions for d in (f, t) if d is not None})
    pieces: list[Piece] = []
    bounds = [*zip(cuts, [*cuts[1:], None], strict=True)]
    for start, end in bounds:
        winner = None
        for pid, f, t, cleared in versions:
            if f <= start and (t is None or (end is not None and end <= t)):
                winner = None if cleared else pid
        if winner is None:
            continue
        if pieces and pieces[-1].parameter_id == winner and pieces[-1].end == start:
            pieces[-1] = Piece(pieces[-1].start, end, winner)
        else:
            pieces.append(Piece(start, end, winner))
    return pieces


def _approved(qs: QuerySet[BillingParameter]) -> QuerySet[BillingParameter]:
    return qs.filter(status=BillingParameter.Status.APPROVED).order_by("decided_at", "id")


def parameter_timeline(*, account_id: int, kind: str) -> list[tuple[Piece, BillingParameter]]:
    versions = list(_approved(BillingParameter.objects.filter(account_id=account_id, kind=kind)))
    by_id = {v.pk: v for v in versions}
    pieces = resolve_timeline((v.pk, v.effective_from, v.effective_to, v.cleared) for v in versions)
    return [(p, by_id[p.parameter_id]) for p in pieces]


def billing_parameters(*, account_ids: Iterable[int], start: date, end: date) -> pl.DataFrame:
    """PARAMS_SCHEMA frame of every approved parameter piece overlapping [start, end) that belongs
    to one of `account_ids` or refers to one of them (a child's deduction naming a parent in the
    set, a pool with a member in the set). Feed it to apply_billing_parameters /
    rate_with_parameters together with the usage of `related_account_ids(...)`."""
    ids = list(set(account_ids))
    if not ids:
        return pl.DataFrame(schema=dict(PARAMS_SCHEMA))
    linked = ParameterLink.objects.filter(account_id__in=ids).values("parameter_id")
    touching = BillingParameter.objects.filter(Q(account_id__in=ids) | Q(pk__in=linked)).filter(
        status=BillingParameter.Status.APPROVED, effective_from__lt=end).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=start)).values_list("account_id", "kind").distinct()
    series = set(touching)
    rows = []
    if series:
        accounts = {a for a, _ in series}
        versions = _approved(BillingParameter.objects.filter(account_id__in=accounts))
        grouped: dict[tuple[int, str], list[BillingParameter]] = {}
        for v in versions:
            if (v.account_id, v.kind) in series:
                grouped.setdefault((v.account_id, v.kind), []).append(v)
        for (account_id, kind), vs in sorted(grouped.items()):
            by_id = {v.pk: v for v in vs}
            for piece in resolve_timeline((v.pk, v.effective_from, v.effective_to, v.cleared) for v in vs):
                if piece.start >= end or (piece.end is not None and piece.end <= start):
                    continue
                v = by_id[piece.parameter_id]
                rows.append((account_id, v.pk, kind, v.version, piece.start, piece.end,
                             json.dumps(v.spec, ensure_ascii=False, sort_keys=True)))
    return pl.DataFrame(rows, orient="row", schema=dict(PARAMS_SCHEMA))


def parameter_scope_q(*, user: User) -> Q:
    return account_scope_q(user=user, prefix="account__")


def parameter_list(*, user: User, account_id: int | None = None, kind: str = "", status: str = ""
                   ) -> QuerySet[BillingParameter]:
    qs = BillingParameter.objects.filter(parameter_scope_q(user=user)).select_related(
        "account", "proposed_by", "decided_by")
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-proposed_at", "-id")


def parameter_get(*, user: User, parameter_id: int) -> BillingParameter | None:
    return parameter_list(user=user).filter(pk=parameter_id).first()


@dataclass(frozen=True)
class InForce:
    kind: str
    parameter: BillingParameter
    start: date
    end: date | None


@dataclass(frozen=True)
class AccountParameters:
    account: Account
    in_force: list[InForce]  # on `as_of`, one per kind (capacity: the piece covering as_of)
    upcoming: list[InForce]  # approved pieces starting after as_of
    pending: list[BillingParameter]
    cases: list[BackBillingCase]


def account_parameters(*, user: User, account_id: int, as_of: date) -> AccountParameters | None:
    """What the 360 page and the account API show: in force now, coming, waiting, back-billing."""
    account = account_get(user=user, account_id=account_id)
    if account is None:
        return None
    now, later = [], []
    kinds = BillingParameter.objects.filter(account_id=account_id, status=BillingParameter.Status.APPROVED).values_list(
        "kind", flat=True).distinct()
    for kind in sorted(set(kinds)):
        for piece, param in parameter_timeline(account_id=account_id, kind=kind):
            item = InForce(kind, param, piece.start, piece.end)
            if piece.start <= as_of and (piece.end is None or as_of < piece.end):
                now.append(item)
            elif piece.start > as_of:
                later.append(item)
    pending = list(BillingParameter.objects.filter(account_id=account_id, status=BillingParameter.Status.PENDING)
                   .select_related("proposed_by").order_by("proposed_at"))
    cases = list(BackBillingCase.objects.filter(account_id=account_id).order_by("-prepared_at")[:10])
    return AccountParameters(account=account, in_force=now, upcoming=sorted(later, key=lambda i: i.start),
                             pending=pending, cases=cases)


def backbilling_case_list(*, user: User, account_id: int | None = None, status: str = "") -> QuerySet[BackBillingCase]:
    qs = BackBillingCase.objects.filter(parameter_scope_q(user=user)).select_related("account", "prepared_by",
                                                                                      "decided_by")
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def backbilling_case_get(*, user: User, case_id: int) -> BackBillingCase | None:
    return backbilling_case_list(user=user).filter(pk=case_id).first()


def account_facts(*, account: Account) -> AccountFacts:
    """Kernel account attributes from the account and its service points (as billing builds them)."""
    points = list(ServicePoint.objects.filter(account=account))
    capacity = sum((p.contracted_capacity_kva for p in points), Decimal(0))
    demands = [p.contract_demand_kw for p in points if p.contract_demand_kw is not None]
    bases = [p.basic_charge_basis for p in points if p.basic_charge_basis and p.basic_charge_basis != "none"]
    return AccountFacts(
        account_id=account.pk, category=account.category, household_members=account.household_members or None,
        capacity_va=int(capacity * 1000), contract_demand_w=int(max(demands) * 1000) if demands else None,
        basic_basis=bases[0] if bases else None,
    )


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def original_bills(*, account_id: int, period_codes: Iterable[str]) -> dict[str, OriginalBill]:
    """The latest issued invoice of each period, with its lines and reads, read from billing's
    tables (read-only). Periods without an issued bill are absent from the result."""
    codes = sorted(set(period_codes))
    if not codes:
        return {}
    marks = ", ".join(["%s"] * len(codes))
    bills = _fetch(
        "SELECT b.id, b.number, b.period_code, b.start_date, b.end_date, b.tariff_code, b.total_fen, b.energy_wh "
        "FROM billing_bill b WHERE b.account_id = %s AND b.kind = 'invoice' AND b.status = 'issued' "
        f"AND b.period_code IN ({marks}) AND b.version = (SELECT MAX(b2.version) FROM billing_bill b2 "
        "WHERE b2.account_id = b.account_id AND b2.period_code = b.period_code AND b2.kind = 'invoice' "
        "AND b2.status = 'issued')", [account_id, *codes])
    out = {}
    for bill_id, number, code, start, end, tariff, total, energy in bills:
        lines = _fetch("SELECT line_no, component, line_code, quantity, unit, unit_price, amount_fen, rule "
                       "FROM billing_billline WHERE bill_id = %s ORDER BY line_no", [bill_id])
        reads = _fetch("SELECT segment, asset_number, register, multiplier, advance_milli FROM billing_billread "
                       "WHERE bill_id = %s ORDER BY segment, register", [bill_id])
        out[code] = OriginalBill(
            bill_id=bill_id, number=number, period_code=code, start_date=_as_date(start), end_date=_as_date(end),
            tariff=tariff, total_fen=int(total), energy_wh=int(energy),
            lines=pl.DataFrame([(n, c, lc, Decimal(str(q)), u, Decimal(str(p)), int(a), r or "")
                                for n, c, lc, q, u, p, a, r in lines], orient="row",
                               schema={"line_no": pl.Int64, "component": pl.String, "line_code": pl.String,
                                       "quantity": pl.Decimal(38, 3), "unit": pl.String,
                                       "unit_price": pl.Decimal(38, 8), "amount_fen": pl.Int64, "rule": pl.String}),
            reads=pl.DataFrame([(s, a, r, str(m), int(v)) for s, a, r, m, v in reads], orient="row",
                               schema={"segment": pl.Int64, "asset_number": pl.String, "register": pl.String,
                                       "multiplier": pl.String, "advance_milli": pl.Int64}),
        )
    return out


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class BillDraft:
    """What billing needs to write an approved back-billing case as its own bill: the totals and
    one bill line per case line (BillLine field names), every line quoting the bill it corrects."""

    case_id: int
    case_number: str
    account_id: int
    kind: str
    total_fen: int
    energy_wh: int
    reason: str
    start_date: date
    end_date: date
    tariff_code: str
    lines: list[dict]


def backbilling_bill_draft(*, case_id: int) -> BillDraft:
    case = BackBillingCase.objects.select_related("account").get(pk=case_id)
    periods = {p["period_code"]: p for p in case.summary}
    lines, starts, ends = [], [], []
    for ln in case.lines.all().order_by("line_no"):
        p = periods.get(ln.period_code)
        start = date.fromisoformat(p["start_date"]) if p else month_period_bounds(ln.period_code)[0]
        end = date.fromisoformat(p["end_date"]) if p else month_period_bounds(ln.period_code)[1]
        starts.append(start)
        ends.append(end)
        lines.append({
            "line_no": ln.line_no, "component": "backbilling", "line_code": f"backbilling.{ln.line_code}"[:48],
            "tariff": (p["tariff"] if p else case.account.tariff_code)[:64], "tariff_version": case.number[:32],
            "start_date": start, "end_date": end, "quantity": ln.quantity, "unit": ln.unit,
            "unit_price": ln.unit_price if ln.unit_price is not None else Decimal(0), "amount_fen": ln.amount_fen,
            "rule": ln.rule, "explanation_zh": ln.explanation_zh, "explanation_en": ln.explanation_en,
            "corrects_number": ln.original_bill_number, "corrects_period": ln.period_code,
        })
    return BillDraft(case_id=case.pk, case_number=case.number, account_id=case.account_id, kind=case.kind,
                     total_fen=case.total_fen, energy_wh=case.energy_wh, reason=f"{case.number}: {case.reason}"[:255],
                     start_date=min(starts), end_date=max(ends), tariff_code=case.account.tariff_code, lines=lines)


def month_period_bounds(code: str) -> tuple[date, date]:
    p = month_period(code)
    return p.start, p.end
