"""The one place that writes the journal: balanced entries, the per-account lock, open items.

Every public service builds `Line`s and calls `post_entries`; nothing else creates postings. So
the invariants (each entry sums to zero, no zero lines, `AccountLedger.balance_fen` moves by
exactly the customer-side lines) are enforced once. Writers of one account serialise on its
`AccountLedger` row (`select_for_update`); open items are read only after that lock is held, so
an allocation never pays an item a concurrent payment already paid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import connection

from gridcare.access.models import User
from gridcare.access.roles import can
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.errors import Conflict, GridcareError, PermissionDenied, ValidationFailed
from gridcare.payments.models import CUSTOMER_LEDGERS, AccountLedger, Charge, JournalEntry, Ledger, Posting
from gridcare.payments.selectors import credits_of, open_items_for  # noqa: F401  (re-exported)


class UnbalancedEntry(GridcareError):
    """A programming error surfaced as a refusal: the lines of an entry do not sum to zero."""

    code = "unbalanced"
    status = 500


class UnableToPost(Conflict):
    """The ledger state does not allow the posting (e.g. refunding more credit than there is)."""

    code = "unable_to_post"


NEW_CHARGE = -1  # Line.charge_id placeholder: the plan's `new_charge`, created with the entry


@dataclass(frozen=True)
class Line:
    ledger: str
    amount_fen: int  # debit positive, credit negative
    charge_id: int | None = None
    channel: str = ""


@dataclass
class EntryPlan:
    account_id: int
    kind: str
    lines: list[Line]
    business_date: date
    source: str | None = None
    description: str = ""
    created_by_id: int | None = None
    reverses_id: int | None = None
    new_charge: Charge | None = field(default=None, repr=False)  # unsaved; gets this entry
    entry: JournalEntry | None = field(default=None, repr=False)

    @property
    def customer_delta(self) -> int:
        return sum(ln.amount_fen for ln in self.lines if ln.ledger in CUSTOMER_LEDGERS)


def local_date(at: datetime) -> date:
    return at.astimezone(BUSINESS_TZ).date()


def require(actor: User | None, capability: str) -> None:
    """System jobs pass `actor=None`; a person needs the capability."""
    if actor is None:
        return
    if not actor.is_active or not can(actor.role, capability):
        raise PermissionDenied(f"your role may not do this ({capability})")


def positive_fen(amount_fen: int, *, field_name: str = "amount_fen") -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise ValidationFailed("an amount in integer fen is required", field=field_name)
    if amount_fen <= 0:
        raise ValidationFailed("the amount must be greater than zero", field=field_name)
    if amount_fen > 10**14:
        raise ValidationFailed("the amount is implausibly large", field=field_name)
    return amount_fen


def headers_for_update(account_ids: Iterable[int]) -> dict[int, AccountLedger]:
    """Lock the ledger headers of these accounts (creating missing ones), in id order so two
    batches touching the same accounts cannot deadlock."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    existing = set(AccountLedger.objects.filter(account_id__in=ids).values_list("account_id", flat=True))
    missing = [i for i in ids if i not in existing]
    if missing:
        AccountLedger.objects.bulk_create([AccountLedger(account_id=i) for i in missing], ignore_conflicts=True)
    locked = AccountLedger.objects.select_for_update().filter(account_id__in=ids).order_by("account_id")
    return {h.account_id: h for h in locked}


def lock_headers(account_ids: Sequence[int]) -> set[int]:
    """`headers_for_update` without model instances, for batches of thousands of accounts: missing
    headers are created by one INSERT … SELECT, all are locked in id order (SELECT … FOR UPDATE on
    PostgreSQL; SQLite holds the database write lock for the whole transaction). Returns the ids of
    the prepaid accounts among them."""
    ids = sorted(set(account_ids))
    prepaid: set[int] = set()
    table, account_t = qn(AccountLedger), connection.ops.quote_name("customers_account")
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"INSERT INTO {table} (account_id, balance_fen, prepaid, entries) "
                           f"SELECT a.id, 0, false, 0 FROM {account_t} a WHERE a.id = ANY(%s) "
                           "ON CONFLICT (account_id) DO NOTHING", [ids])
            cursor.execute(f"SELECT account_id, prepaid FROM {table} WHERE account_id = ANY(%s) "
                           "ORDER BY account_id FOR UPDATE", [ids])
            return {a for a, p in cursor.fetchall() if p}
        for lo in range(0, len(ids), 5000):
            chunk = ids[lo:lo + 5000]
            marks = placeholders(len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (account_id, balance_fen, prepaid, entries) SELECT a.id, 0, %s, 0 "
                f"FROM {account_t} a WHERE a.id IN ({marks}) "
                f"AND NOT EXISTS (SELECT 1 FROM {table} h WHERE h.account_id = a.id) ON CONFLICT DO NOTHING",
                [False, *chunk])
            cursor.execute(f"SELECT account_id, prepaid FROM {table} WHERE account_id IN ({marks}) "
                           f"ORDER BY account_id{lock}", chunk)
            prepaid.update(a for a, p in cursor.fetchall() if p)
    return prepaid


def placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def header_for_update(account_id: int) -> AccountLedger:
    return headers_for_update([account_id])[account_id]


def check_balanced(plan: EntryPlan) -> None:
    if not plan.lines:
        raise UnbalancedEntry("an entry needs at least two lines")
    if any(ln.amount_fen == 0 for ln in plan.lines):
        raise UnbalancedEntry("a posting of zero is not allowed")
    total = sum(ln.amount_fen for ln in plan.lines)
    if total != 0:
        raise UnbalancedEntry(f"entry {plan.kind} for account {plan.account_id} is off by {total} fen")
    for ln in plan.lines:
        if ln.charge_id is not None and ln.ledger != Ledger.AR:
            raise UnbalancedEntry("only receivable lines point at an open item")
        if ln.charge_id == NEW_CHARGE and plan.new_charge is None:
            raise UnbalancedEntry("a line points at a new charge the plan does not carry")


def post_entries(plans: Sequence[EntryPlan], *, headers: dict[int, AccountLedger], as_of: datetime) -> None:
    """Write the entries, their postings and the header deltas. The caller holds the header locks
    (headers_for_update) inside its transaction; `plan.entry` is filled in."""
    if not plans:
        return
    for plan in plans:
        check_balanced(plan)
        if plan.account_id not in headers:
            raise UnbalancedEntry(f"account {plan.account_id} is not locked")
    entries = JournalEntry.objects.bulk_create([
        JournalEntry(account_id=p.account_id, kind=p.kind, source=p.source, description=p.description[:255],
                     business_date=p.business_date, created_at=as_of, created_by_id=p.created_by_id,
                     reverses_id=p.reverses_id)
        for p in plans
    ])
    new_charges = []
    for plan, entry in zip(plans, entries, strict=True):
        plan.entry = entry
        if plan.new_charge is not None:
            plan.new_charge.entry = entry
            plan.new_charge.account_id = plan.account_id
            plan.new_charge.created_at = as_of
            new_charges.append(plan.new_charge)
    if new_charges:
        Charge.objects.bulk_create(new_charges, batch_size=1000)
    postings = []
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for plan in plans:
        for ln in plan.lines:
            charge_id = plan.new_charge.pk if ln.charge_id == NEW_CHARGE else ln.charge_id
            postings.append(Posting(entry_id=plan.entry.pk, account_id=plan.account_id, ledger=ln.ledger,
                                    channel=ln.channel, charge_id=charge_id, amount_fen=ln.amount_fen))
        deltas[plan.account_id][0] += plan.customer_delta
        deltas[plan.account_id][1] += 1
    Posting.objects.bulk_create(postings, batch_size=2000)
    rows = []
    for account_id, (delta, count) in deltas.items():
        header = headers[account_id]
        header.balance_fen += delta
        header.entries += count
        header.updated_at = as_of
        rows.append((delta, count, as_of, account_id))
    # Relative updates, one prepared statement executed many times: Django's bulk_update builds a
    # CASE per column whose cost grows with the batch and dominated large imports.
    execute_many(f"UPDATE {qn(AccountLedger)} SET balance_fen = balance_fen + %s, entries = entries + %s, "
                 "updated_at = %s WHERE account_id = %s", rows, AccountLedger._meta.get_field("updated_at"), 2)


def qn(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def execute_many(sql: str, rows: list[tuple], datetime_field=None, datetime_index: int | None = None) -> None:
    """`cursor.executemany` with aware datetimes adapted for the backend (SQLite stores text)."""
    if not rows:
        return
    if datetime_field is not None and datetime_index is not None:
        rows = [tuple(datetime_field.get_db_prep_value(v, connection) if i == datetime_index else v
                      for i, v in enumerate(row)) for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def post_entry(plan: EntryPlan, *, header: AccountLedger, as_of: datetime) -> JournalEntry:
    post_entries([plan], headers={header.account_id: header}, as_of=as_of)
    assert plan.entry is not None
    return plan.entry
