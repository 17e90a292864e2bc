"""Payments reads: balances, open items, the account statement, payments, KPI inputs.

Public selectors other apps call (collections, reconciliation, kpi, web, api):
`account_balance`, `open_items`, `charge_outstanding`, `account_statement`, `payment_list`,
`ledger_check` (invariant report), `debit_ratio` (批扣代扣比率), `collection_inputs` (电费回收率).
Staff-facing selectors take the user and filter by `account_scope_q`; the ledger maths is the
same for every caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Q, QuerySet, Sum

from gridcare.access.models import User
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.payments.allocation import OpenItem
from gridcare.payments.models import (
    CUSTOMER_LEDGERS,
    AccountLedger,
    ApprovalRequest,
    Charge,
    DebitBatch,
    DebitItem,
    DebitMandate,
    JournalEntry,
    Ledger,
    Payment,
    Posting,
    TillSession,
)


def open_items_for(account_ids: Iterable[int]) -> dict[int, list[OpenItem]]:
    """Open items (receivable charges with something still owed) per account, from the postings.
    Call with the accounts' headers locked when the result drives a posting."""
    ids = list(set(account_ids))
    out: dict[int, list[OpenItem]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        owed = dict(Posting.objects.filter(account_id__in=chunk, ledger=Ledger.AR, charge__isnull=False)
                    .values("charge_id").annotate(s=Sum("amount_fen")).filter(s__gt=0).values_list("charge_id", "s"))
        if not owed:
            continue
        for cid, account_id, kind, due in (Charge.objects.filter(pk__in=list(owed))
                                          .values_list("pk", "account_id", "kind", "due_date")):
            out[account_id].append(OpenItem(charge_id=cid, kind=kind, due_date=due, outstanding_fen=int(owed[cid])))
    for items in out.values():
        items.sort(key=lambda i: (i.due_date, i.charge_id))
    return out


def credit_of(account_id: int) -> int:
    """Customer credit available (≥ 0): minus the sum of the account's `credit` postings."""
    total = Posting.objects.filter(account_id=account_id, ledger=Ledger.CREDIT).aggregate(s=Sum("amount_fen"))["s"]
    return max(-(total or 0), 0)


def credits_of(account_ids: Iterable[int]) -> dict[int, int]:
    ids = list(set(account_ids))
    out = dict.fromkeys(ids, 0)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for account_id, total in (Posting.objects.filter(account_id__in=chunk, ledger=Ledger.CREDIT)
                                  .values("account_id").annotate(s=Sum("amount_fen")).values_list("account_id", "s")):
            out[account_id] = max(-(total or 0), 0)
    return out


@dataclass(frozen=True)
class Balance:
    account_id: int
    owed_fen: int  # sum of receivable postings (open items)
    credit_fen: int  # customer credit available (≥ 0)
    balance_fen: int  # owed − credit; positive: the customer owes
    prepaid: bool = False
    low_balance_fen: int | None = None


def account_balance(*, account_id: int) -> Balance:
    """The balance from the postings themselves (not the cached header)."""
    sums = dict(Posting.objects.filter(account_id=account_id, ledger__in=CUSTOMER_LEDGERS).values("ledger")
                .annotate(s=Sum("amount_fen")).values_list("ledger", "s"))
    owed = int(sums.get(Ledger.AR) or 0)
    credit = -int(sums.get(Ledger.CREDIT) or 0)
    header = AccountLedger.objects.filter(account_id=account_id).first()
    return Balance(account_id=account_id, owed_fen=owed, credit_fen=credit, balance_fen=owed - credit,
                   prepaid=bool(header and header.prepaid), low_balance_fen=header.low_balance_fen if header else None)


@dataclass(frozen=True)
class OpenItemView:
    charge: Charge
    outstanding_fen: int
    overdue_days: int


def open_items(*, account_id: int, as_of_date: date | None = None) -> list[OpenItemView]:
    """Open items of the account, oldest due first, with what is still owed on each."""
    items = open_items_for([account_id])[account_id]
    charges = Charge.objects.in_bulk([i.charge_id for i in items])
    out = []
    for i in items:
        overdue = (as_of_date - i.due_date).days if as_of_date and as_of_date > i.due_date else 0
        out.append(OpenItemView(charge=charges[i.charge_id], outstanding_fen=i.outstanding_fen, overdue_days=overdue))
    return out


def charge_outstanding(*, charge_id: int) -> int:
    """What is still owed on one open item: the sum of its receivable postings."""
    return int(Posting.objects.filter(charge_id=charge_id, ledger=Ledger.AR).aggregate(s=Sum("amount_fen"))["s"] or 0)


# -- statement -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    business_date: date
    kind: str
    kind_label: str
    description: str
    reference: str
    debit_fen: int  # increases what the customer owes
    credit_fen: int  # decreases it
    balance_fen: int  # running balance after this line
    reversed: bool = False


@dataclass
class Statement:
    account: Account
    start: date
    end: date  # exclusive
    opening_fen: int
    closing_fen: int
    lines: list[StatementLine] = field(default_factory=list)
    balance: Balance | None = None

    @property
    def debits_fen(self) -> int:
        return sum(ln.debit_fen for ln in self.lines)

    @property
    def credits_fen(self) -> int:
        return sum(ln.credit_fen for ln in self.lines)


def _references(entry_ids: list[int]) -> dict[int, str]:
    refs: dict[int, str] = {}
    for entry_id, reference in Charge.objects.filter(entry_id__in=entry_ids).values_list("entry_id", "reference"):
        refs[entry_id] = reference
    for entry_id, receipt, ext in Payment.objects.filter(entry_id__in=entry_ids).values_list(
            "entry_id", "receipt_number", "external_ref"):
        refs[entry_id] = receipt or ext
    return refs


def account_statement(*, account_id: int, start: date, end: date) -> Statement:
    """对账单: entries dated in [start, end) with their effect on the customer's balance, the
    opening balance (everything before `start`) and a running balance. Internal moves between the
    customer's receivable and credit (credit applied to a bill) show with zero effect."""
    account = Account.objects.get(pk=account_id)
    side = Q(postings__ledger__in=CUSTOMER_LEDGERS)
    opening = int(Posting.objects.filter(account_id=account_id, ledger__in=CUSTOMER_LEDGERS,
                                         entry__business_date__lt=start).aggregate(s=Sum("amount_fen"))["s"] or 0)
    entries = list(JournalEntry.objects.filter(account_id=account_id, business_date__gte=start, business_date__lt=end)
                   .annotate(delta=Sum("postings__amount_fen", filter=side),
                             ar=Sum("postings__amount_fen", filter=Q(postings__ledger=Ledger.AR)))
                   .order_by("business_date", "created_at", "id"))
    reversed_ids = set(JournalEntry.objects.filter(reverses__in=[e.pk for e in entries])
                       .values_list("reverses_id", flat=True))
    refs = _references([e.pk for e in entries])
    running = opening
    lines = []
    for e in entries:
        delta = int(e.delta or 0)
        running += delta
        lines.append(StatementLine(
            entry_id=e.pk, business_date=e.business_date, kind=e.kind, kind_label=str(JournalEntry.Kind(e.kind).label),
            description=e.description, reference=refs.get(e.pk, e.source or ""),
            debit_fen=max(delta, 0), credit_fen=max(-delta, 0), balance_fen=running, reversed=e.pk in reversed_ids))
    return Statement(account=account, start=start, end=end, opening_fen=opening, closing_fen=running, lines=lines,
                     balance=account_balance(account_id=account_id))


# -- lists -----------------------------------------------------------------------------------------
def accounts_visible(*, user: User) -> QuerySet[Account]:
    return Account.objects.filter(account_scope_q(user=user)).distinct()


def account_for(*, user: User, account_id: int | None = None, number: str | None = None) -> Account | None:
    qs = accounts_visible(user=user).select_related("customer", "org_unit")
    if account_id is not None:
        return qs.filter(pk=account_id).first()
    if number:
        return qs.filter(number=number.strip()).first()
    return None


def payment_list(*, user: User | None = None, account_id: int | None = None, business_date: date | None = None,
                 channel: str = "", till_id: int | None = None) -> QuerySet[Payment]:
    qs = Payment.objects.select_related("account")
    if user is not None:
        qs = qs.filter(account_scope_q(user=user, prefix="account__"))
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if business_date is not None:
        qs = qs.filter(business_date=business_date)
    if channel:
        qs = qs.filter(channel=channel)
    if till_id is not None:
        qs = qs.filter(till_id=till_id)
    return qs.order_by("-received_at", "-id")


def payment_get(*, user: User | None, payment_id: int) -> Payment | None:
    qs = Payment.objects.select_related("account", "account__customer", "till", "created_by")
    if user is not None:
        qs = qs.filter(account_scope_q(user=user, prefix="account__"))
    return qs.filter(pk=payment_id).first()


def receipt_data(*, payment: Payment, customer_name: str) -> dict:
    """What a receipt shows: the payment, where its money went (items paid, credit), the till."""
    from gridcare.core.calendars import BUSINESS_TZ

    parts = []
    credit = 0
    for ledger, charge_ref, amount in Posting.objects.filter(entry_id=payment.entry_id).exclude(
            ledger=Ledger.CLEARING).values_list("ledger", "charge__reference", "amount_fen").order_by("id"):
        if ledger == Ledger.AR:
            parts.append((charge_ref, -amount))
        elif ledger == Ledger.CREDIT:
            credit += -amount
    till = payment.till
    return {
        "receipt_number": payment.receipt_number or str(payment.pk), "account_number": payment.account.number,
        "customer_name": customer_name, "amount_fen": payment.amount_fen,
        "method_label": str(Payment.Method(payment.method).label),
        "received_at": payment.received_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M"),
        "cashier": till.cashier.username if till else (payment.created_by.username if payment.created_by else ""),
        "counter": till.org_unit.name if till else payment.source, "allocations": parts, "credit_fen": credit,
        "tendered_fen": payment.tendered_fen,
        "change_fen": (payment.tendered_fen - payment.amount_fen) if payment.tendered_fen is not None else 0,
        "reversed_": payment.status == Payment.Status.REVERSED,
    }


def open_till(*, cashier: User) -> TillSession | None:
    return TillSession.objects.filter(cashier=cashier, closed_at__isnull=True).first()


def approvals_pending(*, user: User | None = None) -> QuerySet[ApprovalRequest]:
    qs = ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING).select_related(
        "account", "payment", "charge", "requested_by")
    if user is not None:
        qs = qs.filter(account_scope_q(user=user, prefix="account__"))
    return qs.order_by("requested_at", "id")


def debit_batches(*, bank_code: str = "") -> QuerySet[DebitBatch]:
    qs = DebitBatch.objects.defer("content").annotate(
        succeeded=Count("items", filter=Q(items__status=DebitItem.Status.SUCCEEDED)),
        failed=Count("items", filter=Q(items__status=DebitItem.Status.FAILED)))
    if bank_code:
        qs = qs.filter(bank_code=bank_code)
    return qs.order_by("-created_at", "-id")


# -- invariants and KPI inputs -----------------------------------------------------------------------
@dataclass(frozen=True)
class LedgerCheck:
    entries: int
    unbalanced_entries: list[int]
    header_mismatches: list[tuple[int, int, int]]  # (account id, header, sum of postings)
    overpaid_charges: list[int]

    @property
    def ok(self) -> bool:
        return not (self.unbalanced_entries or self.header_mismatches or self.overpaid_charges)


def ledger_check(*, limit: int = 100) -> LedgerCheck:
    """The invariants, checked against the whole ledger (CLI `gridcare payments check`, tests)."""
    unbalanced = list(JournalEntry.objects.annotate(s=Sum("postings__amount_fen")).exclude(s=0)
                      .values_list("pk", flat=True)[:limit])
    sums = dict(Posting.objects.filter(ledger__in=CUSTOMER_LEDGERS).values("account_id")
                .annotate(s=Sum("amount_fen")).values_list("account_id", "s"))
    mismatches = []
    for account_id, balance in AccountLedger.objects.values_list("account_id", "balance_fen"):
        total = int(sums.pop(account_id, 0) or 0)
        if total != balance:
            mismatches.append((account_id, balance, total))
    mismatches += [(account_id, 0, int(total)) for account_id, total in sums.items() if total]
    overpaid = list(Posting.objects.filter(ledger=Ledger.AR, charge__isnull=False).values("charge_id")
                    .annotate(s=Sum("amount_fen")).filter(s__lt=0).values_list("charge_id", flat=True)[:limit])
    return LedgerCheck(entries=JournalEntry.objects.count(), unbalanced_entries=unbalanced,
                       header_mismatches=mismatches[:limit], overpaid_charges=overpaid)


@dataclass(frozen=True)
class DebitRatio:
    """批扣代扣比率 (T/CI 1281 table 1): accounts with an active debit agreement / all accounts."""

    mandated_accounts: int
    total_accounts: int

    @property
    def percent(self):
        from decimal import Decimal

        if not self.total_accounts:
            return None
        return (Decimal(self.mandated_accounts) * 100 / Decimal(self.total_accounts)).quantize(Decimal("0.01"))


def debit_ratio(*, as_of_date: date, org_unit_ids: list[int] | None = None) -> DebitRatio:
    """Accounts open on `as_of_date` (opened on or before, not closed before) and those of them
    with a debit agreement signed on or before that day and not cancelled by then."""
    accounts = Account.objects.filter(opened_on__lte=as_of_date).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gt=as_of_date))
    if org_unit_ids is not None:
        accounts = accounts.filter(org_unit_id__in=org_unit_ids)
    mandated = (DebitMandate.objects.filter(account__in=accounts, signed_on__lte=as_of_date)
                .filter(Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=as_of_date))
                .values("account_id").distinct().count())
    return DebitRatio(mandated_accounts=mandated, total_accounts=accounts.count())


@dataclass(frozen=True)
class CollectionInputs:
    """电费回收率 inputs (T/CI 1281 table 1: 实收电费 / 应收电费) for bills due in [start, end), as of
    the end of `as_of_date`: billed, less credit notes, is receivable; what of it is no longer owed
    was collected (payments, credit applied, discounts; a reversal reopens what it had paid)."""

    billed_fen: int
    credited_fen: int
    outstanding_fen: int

    @property
    def receivable_fen(self) -> int:
        return self.billed_fen - self.credited_fen

    @property
    def collected_fen(self) -> int:
        return self.receivable_fen - self.outstanding_fen

    @property
    def percent(self):
        from decimal import Decimal

        if self.receivable_fen <= 0:
            return None
        return (Decimal(self.collected_fen) * 100 / Decimal(self.receivable_fen)).quantize(Decimal("0.01"))


def collection_inputs(*, start: date, end: date, as_of_date: date, org_unit_ids: list[int] | None = None) -> CollectionInputs:
    postings = Posting.objects.filter(charge__kind=Charge.Kind.BILL, charge__due_date__gte=start,
                                      charge__due_date__lt=end, ledger=Ledger.AR,
                                      entry__business_date__lte=as_of_date)
    if org_unit_ids is not None:
        postings = postings.filter(account__org_unit_id__in=org_unit_ids)

    def total(qs) -> int:
        return int(qs.aggregate(s=Sum("amount_fen"))["s"] or 0)

    billed = total(postings.filter(entry__kind=JournalEntry.Kind.CHARGE))
    credited = -total(postings.filter(entry__kind=JournalEntry.Kind.CREDIT_NOTE, amount_fen__lt=0))
    return CollectionInputs(billed_fen=billed, credited_fen=credited, outstanding_fen=total(postings))
