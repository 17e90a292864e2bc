"""Collections reads: open items and arrears from the payments ledger, dunning queues, cases,
and the 电费回收率 (collection rate) KPI.

What is owed on an open item is the sum of its receivable postings (payments' rule); these
queries aggregate postings in the database so a nightly run over many accounts stays a handful of
queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Max, Q, QuerySet, Sum

from gridcare.access.models import User
from gridcare.collections.models import CallTask, LateFeeAssessment, Notice, Promise, SuspensionCase
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.payments.models import ApprovalRequest, Charge, Ledger, Posting
from gridcare.payments.selectors import collection_inputs

_CHUNK = 900


@dataclass(frozen=True)
class OpenItem:
    charge_id: int
    account_id: int
    kind: str
    reference: str
    period_code: str
    due_date: date
    amount_fen: int
    outstanding_fen: int


def _outstanding_qs(kinds: Iterable[str]) -> QuerySet[Charge]:
    return (Charge.objects.filter(kind__in=list(kinds))
            .annotate(outstanding=Sum("postings__amount_fen", filter=Q(postings__ledger=Ledger.AR))))


def open_items(*, kinds: Iterable[str] = ("bill", "late_fee"), account_ids: Iterable[int] | None = None,
               due_on_or_before: date | None = None) -> list[OpenItem]:
    """Charges with something still owed, oldest due first."""
    qs = _outstanding_qs(kinds).filter(outstanding__gt=0)
    if due_on_or_before is not None:
        qs = qs.filter(due_date__lte=due_on_or_before)
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    return [OpenItem(charge_id=c.pk, account_id=c.account_id, kind=c.kind, reference=c.reference,
                     period_code=c.period_code, due_date=c.due_date, amount_fen=c.amount_fen,
                     outstanding_fen=int(c.outstanding))
            for c in qs.order_by("due_date", "id")]


def arrears_by_account(*, as_of_date: date, account_ids: Iterable[int] | None = None) -> dict[int, int]:
    """What each account owes on items already due (bills and late fees)."""
    out: dict[int, int] = defaultdict(int)
    for item in open_items(account_ids=account_ids, due_on_or_before=as_of_date):
        if item.due_date < as_of_date or item.kind == Charge.Kind.LATE_FEE:
            out[item.account_id] += item.outstanding_fen
    return dict(out)


def account_arrears(*, account_id: int, as_of_date: date) -> int:
    return arrears_by_account(as_of_date=as_of_date, account_ids=[account_id]).get(account_id, 0)


@dataclass(frozen=True)
class Timeline:
    """How one bill's principal moved: opening amount and later (business date, delta) changes,
    with what the late-fee rule needs to know about the bill (account category, due date)."""

    charge_id: int
    opening_fen: int
    changes: tuple[tuple[date, int], ...]
    last_change: date | None
    account_id: int = 0
    category: str = ""
    reference: str = ""
    due_date: date | None = None

    def outstanding_on(self, day: date) -> int:
        """What was owed at the end of `day`."""
        return self.opening_fen + sum(d for when, d in self.changes if when <= day)


def timelines(charge_ids: list[int]) -> dict[int, Timeline]:
    """Receivable history of each charge, excluding its own charge posting (the opening): one query
    per 900 charges (postings joined with their entry, the charge and its account). A charge
    without receivable postings is left out."""
    rows_by_charge: dict[int, list] = defaultdict(list)
    for i in range(0, len(charge_ids), _CHUNK):
        chunk = charge_ids[i: i + _CHUNK]
        rows = (Posting.objects.filter(charge_id__in=chunk, ledger=Ledger.AR)
                .values_list("charge_id", "charge__entry_id", "charge__account_id", "charge__account__category",
                             "charge__reference", "charge__due_date", "entry_id", "entry__business_date", "amount_fen")
                .order_by("charge_id", "entry__business_date", "entry_id", "id"))
        for row in rows:
            rows_by_charge[row[0]].append(row)
    out: dict[int, Timeline] = {}
    for charge_id, rows in rows_by_charge.items():
        opening = 0
        changes: list[tuple[date, int]] = []
        for _cid, own_entry, _a, _c, _r, _d, entry_id, day, amount in rows:
            if entry_id == own_entry:
                opening += amount
            else:
                changes.append((day, amount))
        _cid, _e, account_id, category, reference, due_date, *_rest = rows[0]
        out[charge_id] = Timeline(charge_id=charge_id, opening_fen=opening, changes=tuple(changes),
                                  last_change=changes[-1][0] if changes else None, account_id=account_id,
                                  category=category, reference=reference, due_date=due_date)
    return out


@dataclass(frozen=True)
class Assessed:
    """Late fee already assessed on one bill: what was posted in all (before any waiver) and the
    days it was assessed through."""

    posted_fen: int = 0
    throughs: frozenset[date] = frozenset()


def late_fees_assessed(charge_ids: list[int]) -> dict[int, Assessed]:
    """Per bill, in one query per 900 bills; bills never assessed are left out."""
    posted: dict[int, int] = defaultdict(int)
    throughs: dict[int, set[date]] = defaultdict(set)
    for i in range(0, len(charge_ids), _CHUNK):
        chunk = charge_ids[i: i + _CHUNK]
        for charge_id, through, fen in (LateFeeAssessment.objects.filter(charge_id__in=chunk)
                                        .values_list("charge_id", "through", "posted_fen")):
            posted[charge_id] += fen
            throughs[charge_id].add(through)
    return {cid: Assessed(posted_fen=posted[cid], throughs=frozenset(throughs[cid])) for cid in throughs}


def late_fee_assessed(charge_ids: list[int]) -> dict[int, int]:
    """Late fee already posted per bill (before any waiver)."""
    return {cid: a.posted_fen for cid, a in late_fees_assessed(charge_ids).items()}


def bills_paid_recently(*, since: date, through: date) -> list[int]:
    """Bills fully paid by a change dated in [since, through] after their due date: the
    candidates for a payment-time late fee."""
    qs = (_outstanding_qs(("bill",)).filter(outstanding=0)
          .annotate(last=Max("postings__entry__business_date", filter=Q(postings__ledger=Ledger.AR)))
          .filter(last__gte=since, last__lte=through))
    return [pk for pk, last, due in qs.values_list("pk", "last", "due_date") if last > due]


# -- lists for pages and the API ------------------------------------------------------------------
def _scoped_accounts(user: User | None) -> QuerySet[Account]:
    qs = Account.objects.all()
    return qs if user is None else qs.filter(account_scope_q(user=user))


def overdue_accounts(*, user: User | None, as_of_date: date, limit: int = 500) -> list[dict]:
    """Accounts in arrears, largest first, with their oldest due date and days overdue."""
    items = [i for i in open_items(due_on_or_before=as_of_date) if i.due_date < as_of_date or i.kind == "late_fee"]
    by_account: dict[int, dict] = {}
    for item in items:
        row = by_account.setdefault(item.account_id, {"account_id": item.account_id, "arrears_fen": 0,
                                                      "oldest_due": item.due_date, "items": 0})
        row["arrears_fen"] += item.outstanding_fen
        row["items"] += 1
        row["oldest_due"] = min(row["oldest_due"], item.due_date)
    visible = {a.pk: a for a in _scoped_accounts(user).filter(pk__in=list(by_account)).select_related("customer")}
    rows = []
    for account_id, row in by_account.items():
        account = visible.get(account_id)
        if account is None:
            continue
        rows.append({**row, "account": account, "days_overdue": (as_of_date - row["oldest_due"]).days})
    rows.sort(key=lambda r: (-r["arrears_fen"], r["account"].number))
    return rows[:limit]


def notices(*, user: User | None, account_id: int | None = None, stage: str = "") -> QuerySet[Notice]:
    qs = Notice.objects.select_related("account", "charge", "message").filter(
        account__in=_scoped_accounts(user))
    if account_id:
        qs = qs.filter(account_id=account_id)
    if stage:
        qs = qs.filter(stage=stage)
    return qs


def call_queue(*, user: User | None, status: str = CallTask.Status.OPEN) -> QuerySet[CallTask]:
    qs = CallTask.objects.select_related("account", "account__customer", "notice").filter(
        account__in=_scoped_accounts(user))
    return qs.filter(status=status) if status else qs


def promises(*, user: User | None, status: str = "") -> QuerySet[Promise]:
    qs = Promise.objects.select_related("account", "charge").filter(account__in=_scoped_accounts(user))
    return qs.filter(status=status) if status else qs


def open_promise(*, account_id: int, as_of_date: date) -> Promise | None:
    return Promise.objects.filter(account_id=account_id, status=Promise.Status.OPEN,
                                  promised_date__gte=as_of_date).first()


def accounts_with_open_promise(*, as_of_date: date) -> set[int]:
    """Every account whose payment promise still holds on `as_of_date`, in one query: batch jobs
    (dunning, suspension) ask this for thousands of accounts, and open promises are few."""
    return set(Promise.objects.filter(status=Promise.Status.OPEN, promised_date__gte=as_of_date)
               .values_list("account_id", flat=True))


def suspension_cases(*, user: User | None, status: str = "", active: bool = False) -> QuerySet[SuspensionCase]:
    qs = SuspensionCase.objects.select_related("account", "account__customer", "work_order").filter(
        account__in=_scoped_accounts(user))
    if active:
        qs = qs.filter(status__in=SuspensionCase.ACTIVE)
    if status:
        qs = qs.filter(status=status)
    return qs


def suspension_case_get(*, user: User | None, case_id: int) -> SuspensionCase | None:
    return suspension_cases(user=user).filter(pk=case_id).first()


def restoration_overdue(*, user: User | None, as_of: datetime) -> QuerySet[SuspensionCase]:
    return suspension_cases(user=user, status=SuspensionCase.Status.RESTORING).filter(restore_due_at__lt=as_of)


def late_fee_assessments(*, user: User | None, account_id: int | None = None) -> QuerySet[LateFeeAssessment]:
    qs = LateFeeAssessment.objects.select_related("account", "charge").filter(account__in=_scoped_accounts(user))
    return qs.filter(account_id=account_id) if account_id else qs


def waivers_pending(*, user: User | None) -> QuerySet[ApprovalRequest]:
    """Late-fee waivers waiting for a second person (payments' approval requests of that kind)."""
    return (ApprovalRequest.objects.filter(kind=ApprovalRequest.Kind.LATE_FEE_WAIVER,
                                           status=ApprovalRequest.Status.PENDING,
                                           account__in=_scoped_accounts(user))
            .select_related("account", "charge", "requested_by", "decided_by").order_by("requested_at", "id"))


# -- KPI ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CollectionRate:
    """电费回收率 = 实收电费 / 应收电费 × 100% (T/CI 1281—2025 表1)."""

    start: date
    end: date  # bills due in [start, end)
    receivable_fen: int  # 应收: bills due in the window, net of credit notes
    collected_fen: int  # 实收: what has been paid on them by as_of
    outstanding_fen: int
    bills: int

    @property
    def rate(self) -> Decimal | None:
        if not self.receivable_fen:
            return None
        return Decimal(self.collected_fen) / Decimal(self.receivable_fen)


def collection_rate(*, start: date, end: date, as_of_date: date, org_unit_ids: list[int] | None = None) -> CollectionRate:
    """Bills (not late fees) due in [start, end); postings dated after `as_of_date` are ignored.

    The ledger arithmetic is payments' `collection_inputs` (one definition for every caller):
    receivable = bills less credit notes, collected = receivable − still outstanding.
    """
    inputs = collection_inputs(start=start, end=end, as_of_date=as_of_date, org_unit_ids=org_unit_ids)
    bills = Charge.objects.filter(kind=Charge.Kind.BILL, due_date__gte=start, due_date__lt=end)
    if org_unit_ids is not None:
        bills = bills.filter(account__org_unit_id__in=org_unit_ids)
    return CollectionRate(start=start, end=end, receivable_fen=inputs.receivable_fen,
                          collected_fen=inputs.collected_fen, outstanding_fen=inputs.outstanding_fen,
                          bills=bills.count())
