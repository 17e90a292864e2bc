"""Open items on the receivable: bills (and their credit notes), late fees, credit application.

How billing reaches the ledger (billing may not import payments): `receivables_post_issued_bills`
reads issued bills that have no receivable yet and posts them, idempotently (the entry's unique
`source` is `bill:<bill id>`). Billing's issue step, the CLI `gridcare payments post-bills` and the
demo loader call it; `bill_charge_post` posts one amount for callers that are not billing bills
(tests, migrations of opening balances).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat

from gridcare.access.models import User
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.payments.allocation import OpenItem, allocate
from gridcare.payments.models import AccountLedger, Charge, JournalEntry, Ledger, Posting
from gridcare.payments.policy import payments_policy
from gridcare.payments.services._core import (
    NEW_CHARGE,
    EntryPlan,
    Line,
    credits_of,
    header_for_update,
    headers_for_update,
    local_date,
    lock_headers,
    open_items_for,
    placeholders,
    positive_fen,
    post_entries,
    post_entry,
    qn,
)
from gridcare.payments.services.prepay import low_balance_check


@dataclass(frozen=True)
class ChargePosted:
    charge: Charge
    created: bool
    credit_applied_fen: int = 0


def _existing_charge(source: str) -> Charge | None:
    return Charge.objects.filter(entry__source=source).first()


def credit_apply_plans(*, headers: dict[int, AccountLedger], credits: dict[int, int],
                       items: dict[int, list[OpenItem]], business_date: date) -> list[EntryPlan]:
    """Plans that apply each account's credit to its open items in policy order (balance-neutral:
    credit debit, receivable credit)."""
    policy = payments_policy()
    plans = []
    for account_id, credit in credits.items():
        if credit <= 0 or not items.get(account_id):
            continue
        alloc = allocate(credit, items[account_id], order=policy.allocation_order, late_fees=policy.late_fees)
        if not alloc.parts:
            continue
        lines = [Line(Ledger.AR, -fen, charge_id=cid) for cid, fen in alloc.parts]
        lines.append(Line(Ledger.CREDIT, alloc.applied_fen))
        plans.append(EntryPlan(account_id=account_id, kind=JournalEntry.Kind.CREDIT_APPLY, lines=lines,
                               business_date=business_date, description="预存/溢缴余额抵扣"))
    return plans


def _after_charges(account_ids: list[int], headers: dict[int, AccountLedger], *, as_of: datetime) -> dict[int, int]:
    """Apply credit to the new open items (预付费 automatic deduction) and alert low prepaid balances."""
    applied: dict[int, int] = {}
    if payments_policy().apply_credit_on_charge:
        credits = {a: c for a, c in credits_of(account_ids).items() if c > 0}
        if credits:
            plans = credit_apply_plans(headers=headers, credits=credits, items=open_items_for(list(credits)),
                                       business_date=local_date(as_of))
            post_entries(plans, headers=headers, as_of=as_of)
            applied = {p.account_id: sum(ln.amount_fen for ln in p.lines if ln.ledger == Ledger.CREDIT)
                       for p in plans}
    for account_id in account_ids:
        header = headers[account_id]
        if header.prepaid:
            low_balance_check(header=header, as_of=as_of)
    return applied


@transaction.atomic
def bill_charge_post(*, account_id: int, amount_fen: int, reference: str, due_date: date, as_of: datetime,
                     source: str, bill_id: int | None = None, payment_reference: str = "", period_code: str = "",
                     business_date: date | None = None, description: str = "") -> ChargePosted:
    """Post one bill as an open item: receivable debit, revenue credit; then apply any credit.

    Idempotent by `source` (billing uses `bill:<id>`): a second call returns the first charge.
    Raises ValidationFailed (amount_fen, reference, source).
    """
    positive_fen(amount_fen)
    if not reference.strip():
        raise ValidationFailed("a bill reference is required", field="reference")
    if not source.strip():
        raise ValidationFailed("an idempotency source is required", field="source")
    existing = _existing_charge(source)
    if existing is not None:
        return ChargePosted(charge=existing, created=False)
    header = header_for_update(account_id)
    existing = _existing_charge(source)  # a concurrent call may have posted it while we waited
    if existing is not None:
        return ChargePosted(charge=existing, created=False)
    charge = Charge(kind=Charge.Kind.BILL, reference=reference[:64], payment_reference=payment_reference[:32],
                    period_code=period_code[:7], amount_fen=amount_fen, due_date=due_date, bill_id=bill_id)
    plan = EntryPlan(account_id=account_id, kind=JournalEntry.Kind.CHARGE, source=source,
                     business_date=business_date or local_date(as_of), description=description or f"电费 {reference}",
                     lines=[Line(Ledger.AR, amount_fen, charge_id=NEW_CHARGE), Line(Ledger.REVENUE, -amount_fen)],
                     new_charge=charge)
    post_entry(plan, header=header, as_of=as_of)
    applied = _after_charges([account_id], {account_id: header}, as_of=as_of)
    return ChargePosted(charge=charge, created=True, credit_applied_fen=applied.get(account_id, 0))


def _credit_note_plan(*, original: Charge, amount_fen: int, source: str, business_date: date,
                      description: str, outstanding: int) -> EntryPlan:
    """Revenue debit and a receivable credit of the full amount on the corrected bill. If the bill
    was already (partly) paid, the part it no longer owes moves to customer credit in the same
    entry (receivable debit, credit credit), so the item is never overpaid and the full credit
    note stays visible on the item it corrects."""
    excess = amount_fen - min(amount_fen, max(outstanding, 0))
    lines = [Line(Ledger.REVENUE, amount_fen), Line(Ledger.AR, -amount_fen, charge_id=original.pk)]
    if excess:
        lines += [Line(Ledger.AR, excess, charge_id=original.pk), Line(Ledger.CREDIT, -excess)]
    return EntryPlan(account_id=original.account_id, kind=JournalEntry.Kind.CREDIT_NOTE, source=source,
                     business_date=business_date, description=description, lines=lines)


@transaction.atomic
def bill_credit_note_post(*, charge_id: int, amount_fen: int, source: str, as_of: datetime,
                          description: str = "") -> JournalEntry:
    """Post a bill correction's credit note against the bill it reverses (idempotent by `source`)."""
    positive_fen(amount_fen)
    existing = JournalEntry.objects.filter(source=source).first()
    if existing is not None:
        return existing
    original = Charge.objects.filter(pk=charge_id).first()
    if original is None:
        raise NotFound(f"charge {charge_id} not found", field="charge_id")
    header = header_for_update(original.account_id)
    existing = JournalEntry.objects.filter(source=source).first()
    if existing is not None:
        return existing
    outstanding = {i.charge_id: i.outstanding_fen for i in open_items_for([original.account_id])[original.account_id]}
    plan = _credit_note_plan(original=original, amount_fen=amount_fen, source=source, business_date=local_date(as_of),
                             description=description or f"冲红 {original.reference}",
                             outstanding=outstanding.get(original.pk, 0))
    entry = post_entry(plan, header=header, as_of=as_of)
    _after_charges([original.account_id], {original.account_id: header}, as_of=as_of)
    return entry


@transaction.atomic
def late_fee_charge_post(*, charge_id: int, amount_fen: int, through: date, as_of: datetime,
                         description: str = "") -> ChargePosted:
    """A late fee (违约金) as its own open item on the bill's account: receivable debit on the new
    item, late-fee income credit. Idempotent by (bill, through): source `latefee:<charge>:<date>`.
    Credit the customer holds is applied to it like to any charge. The one-item case of
    `late_fee_charges_post`."""
    posted = late_fee_charges_post(items=[LateFeeIn(charge_id=charge_id, amount_fen=amount_fen, through=through,
                                                    description=description)], as_of=as_of)
    source = late_fee_source(charge_id, through)
    charge = Charge.objects.get(pk=posted.charge_ids[source])
    return ChargePosted(charge=charge, created=source in posted.created,
                        credit_applied_fen=posted.credit_applied_fen.get(charge.account_id, 0))


@transaction.atomic
def credit_apply(*, account_id: int, as_of: datetime, actor: User | None = None) -> int:
    """Apply the account's credit to its open items now (e.g. after a reversal reopened a bill).
    Returns the fen applied."""
    header = header_for_update(account_id)
    credits = credits_of([account_id])
    plans = credit_apply_plans(headers={account_id: header}, credits=credits, items=open_items_for([account_id]),
                               business_date=local_date(as_of))
    for plan in plans:
        plan.created_by_id = actor.pk if actor else None
    post_entries(plans, headers={account_id: header}, as_of=as_of)
    return sum(-ln.amount_fen for p in plans for ln in p.lines if ln.ledger == Ledger.AR)


# -- bills from billing ----------------------------------------------------------------------------
@dataclass
class BillSyncResult:
    charges: int = 0
    credit_notes: int = 0
    charged_fen: int = 0
    credited_fen: int = 0
    credit_applied_fen: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (bill id, reason)


def receivables_post_issued_bills(*, as_of: datetime, account_ids: list[int] | None = None,
                                  bill_ids: list[int] | None = None, chunk_size: int = 5000) -> BillSyncResult:
    """Post a receivable for every issued bill that has none yet (billing → ledger). Idempotent and
    resumable: each chunk commits on its own, and a posted bill is never found again.

    `bill_ids` (what the issue announced) or `account_ids` narrow the search; with neither, every
    issued bill is looked at. Bills are read in (issued_at, id) order, a chunk after the last one
    seen, so each bill is read once however many there are."""
    result = BillSyncResult()
    if bill_ids is not None:
        ids = sorted(set(bill_ids))
        for lo in range(0, len(ids), chunk_size):
            bills = _unposted_bills(account_ids, chunk_size, bill_ids=ids[lo:lo + chunk_size])
            if bills:
                with transaction.atomic():
                    _post_bills_chunk(bills, as_of=as_of, result=result)
        return result
    after: tuple[datetime, int] | None = None
    while True:
        bills = _unposted_bills(account_ids, chunk_size, after=after)
        if not bills:
            return result
        after = (bills[-1].issued_at, bills[-1].id)
        with transaction.atomic():
            _post_bills_chunk(bills, as_of=as_of, result=result)


class _Bill(NamedTuple):
    id: int
    account_id: int
    kind: str
    total_fen: int
    corrects_id: int | None
    number: str
    reason: str
    issued_at: datetime


def _unposted_bills(account_ids: list[int] | None, limit: int, *, after: tuple[datetime, int] | None = None,
                    bill_ids: list[int] | None = None) -> list[_Bill]:
    from gridcare.billing.models import Bill

    if bill_ids is not None and account_ids is None and connection.vendor == "postgresql":
        # The issue receiver's case: thousands of ids, bound as one array.
        # The posted ones are looked up by their sources on the unique index: an anti-join on the
        # computed source was planned as a scan of the whole journal, once per chunk.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT source FROM {qn(JournalEntry)} WHERE source = ANY(%s)",
                           [[f"bill:{i}" for i in bill_ids]])
            posted = {int(r[0][5:]) for r in cursor.fetchall()}
            cursor.execute(
                f"SELECT b.id, b.account_id, b.kind, b.total_fen, b.corrects_id, b.number, b.reason, b.issued_at "
                f"FROM unnest(%s::bigint[]) AS t (id) JOIN {qn(Bill)} b ON b.id = t.id "
                f"WHERE b.status = %s AND b.total_fen <> 0 "
                f"ORDER BY b.issued_at, b.id", [[i for i in bill_ids if i not in posted], Bill.Status.ISSUED])
            return [_Bill(*r) for r in cursor.fetchall()][:limit]

    posted = JournalEntry.objects.filter(source=Concat(Value("bill:"), Cast(OuterRef("pk"), output_field=_text())))
    qs = (Bill.objects.filter(status=Bill.Status.ISSUED).exclude(total_fen=0)
          .annotate(posted=Exists(posted)).filter(posted=False))
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    if bill_ids is not None:
        qs = qs.filter(pk__in=bill_ids)
    if after is not None:
        qs = qs.filter(Q(issued_at__gt=after[0]) | Q(issued_at=after[0], pk__gt=after[1]))
    # Credit notes after the bill they reverse; a rebill after its credit note (same period, by version).
    rows = qs.order_by("issued_at", "id").values_list("id", "account_id", "kind", "total_fen", "corrects_id", "number",
                                                      "reason", "issued_at")[:limit]
    return [_Bill(*r) for r in rows]


def _text():
    from django.db.models import CharField

    return CharField()


def _post_bills_chunk(bills: list[_Bill], *, as_of: datetime, result: BillSyncResult) -> None:
    """Positive bills (invoices, and adjustment bills that charge) are posted set-based by the bulk
    charge writer (`_write_charges`), reading the bills straight from billing's table. Negative ones
    (credit notes, adjustment bills that refund) need the corrected bill's open item and go one by
    one after them, as before. The unique entry `source` (`bill:<id>`) keeps a second call, or a
    concurrent one, from posting a bill twice."""
    business_date = local_date(as_of)
    charges = [b for b in bills if b.total_fen > 0 and b.kind != "credit"]
    credits = [b for b in bills if b.total_fen < 0 and b.kind != "invoice"]
    for b in bills:
        if b not in charges and b not in credits:
            result.skipped.append((b.id, f"{b.kind} with amount {b.total_fen}"))
    account_ids = sorted({b.account_id for b in charges} | {b.account_id for b in credits})
    if not account_ids:
        return
    prepaid = lock_headers(account_ids)
    touched: set[int] = set()
    if charges:
        posted = _write_charges(*_bill_rows([b.id for b in charges], business_date=business_date), as_of=as_of)
        result.charges += len(posted)
        result.charged_fen += sum(p.amount_fen for p in posted)
        touched.update(p.account_id for p in posted)
    if credits:
        headers = headers_for_update(b.account_id for b in credits)
        for bill in credits:
            original = Charge.objects.filter(kind=Charge.Kind.BILL, bill_id=bill.corrects_id).first()
            if original is None:
                result.skipped.append((bill.id, "the corrected bill has no receivable yet"))
                continue
            owed = {i.charge_id: i.outstanding_fen for i in open_items_for([bill.account_id])[bill.account_id]}
            plan = _credit_note_plan(original=original, amount_fen=-bill.total_fen, source=f"bill:{bill.id}",
                                     business_date=business_date,
                                     description=f"冲红 {bill.number}: {bill.reason}"[:255],
                                     outstanding=owed.get(original.pk, 0))
            post_entries([plan], headers=headers, as_of=as_of)
            result.credit_notes += 1
            result.credited_fen += -bill.total_fen
            touched.add(bill.account_id)
    result.credit_applied_fen += sum(_follow_up(touched, prepaid, as_of=as_of).values())


def _follow_up(touched: set[int], prepaid: set[int], *, as_of: datetime) -> dict[int, int]:
    """Credit application (预付费 deduction) and low-balance alerts after new charges. They concern
    the few accounts that hold credit or are prepaid: only their headers are loaded as objects.
    Returns the fen of credit applied per account."""
    follow = sorted(set(_accounts_in_credit(sorted(touched))) | (prepaid & touched))
    if not follow:
        return {}
    return _after_charges(follow, headers_for_update(follow), as_of=as_of)


# -- bulk charges ----------------------------------------------------------------------------------
# What the journal needs for an open item of each kind that is posted from outside (the charge kind
# decides the entry kind and the income ledger credited).
_KINDS = {Charge.Kind.BILL: (JournalEntry.Kind.CHARGE, Ledger.REVENUE),
          Charge.Kind.LATE_FEE: (JournalEntry.Kind.LATE_FEE, Ledger.LATE_FEE_INCOME)}
# The input relation every bulk writer reads, in this column order.
_COLUMNS = ("n", "account_id", "source", "description", "business_date", "kind", "reference", "payment_reference",
            "period_code", "amount_fen", "due_date", "bill_id", "parent_id")
_PG_TYPES = ("bigint", "bigint", "text", "text", "date", "text", "text", "text", "text", "bigint", "date", "bigint",
             "bigint")
_WRITE_CHUNK = 2000


@dataclass(frozen=True)
class ChargeIn:
    """One open item to post: receivable debit on a new `Charge`, income credit (revenue for a bill,
    late-fee income for a late fee), in one entry whose unique `source` makes it idempotent."""

    account_id: int
    kind: str  # Charge.Kind.BILL or Charge.Kind.LATE_FEE
    source: str
    amount_fen: int
    reference: str
    due_date: date
    business_date: date
    description: str = ""
    payment_reference: str = ""
    period_code: str = ""
    bill_id: int | None = None
    parent_id: int | None = None


@dataclass
class ChargesPosted:
    charge_ids: dict[str, int] = field(default_factory=dict)  # source → open item, new or found
    created: set[str] = field(default_factory=set)  # the sources posted now
    posted_fen: int = 0
    credit_applied_fen: dict[int, int] = field(default_factory=dict)  # account → credit applied to the new items


class _Posted(NamedTuple):
    source: str
    charge_id: int
    account_id: int
    amount_fen: int


@transaction.atomic
def charges_post_many(*, items: Sequence[ChargeIn], as_of: datetime) -> ChargesPosted:
    """Post many open items in set-based writes (the same writer as the receivables of issued bills):
    per chunk one INSERT … SELECT each for entries, open items and postings and one UPDATE for the
    header deltas (one statement on PostgreSQL), then credit application for accounts that hold
    credit or are prepaid. One transaction; the caller may wrap it in its own to record why.

    Idempotent by `source`: an item whose source is already posted is not posted again and its
    existing open item is returned. Raises ValidationFailed (kind, amount_fen, source, reference)."""
    unique: dict[str, ChargeIn] = {}
    for item in items:
        if item.kind not in _KINDS:
            raise ValidationFailed(f"charges of kind {item.kind!r} are not posted in bulk", field="kind")
        positive_fen(item.amount_fen)
        if not item.source.strip():
            raise ValidationFailed("an idempotency source is required", field="source")
        if not item.reference.strip():
            raise ValidationFailed("a reference is required", field="reference")
        unique.setdefault(item.source, item)
    result = ChargesPosted()
    todo = list(unique.values())
    for lo in range(0, len(todo), _WRITE_CHUNK):
        chunk = todo[lo:lo + _WRITE_CHUNK]
        prepaid = lock_headers([i.account_id for i in chunk])
        posted = _write_charges(*_item_rows(chunk, start=lo), as_of=as_of)
        for p in posted:
            result.charge_ids[p.source] = p.charge_id
            result.created.add(p.source)
            result.posted_fen += p.amount_fen
        for account_id, fen in _follow_up({p.account_id for p in posted}, prepaid, as_of=as_of).items():
            result.credit_applied_fen[account_id] = result.credit_applied_fen.get(account_id, 0) + fen
    found = [s for s in unique if s not in result.charge_ids]
    for lo in range(0, len(found), 900):
        result.charge_ids.update(Charge.objects.filter(entry__source__in=found[lo:lo + 900])
                                 .values_list("entry__source", "pk"))
    return result


def _item_rows(items: Sequence[ChargeIn], *, start: int = 0) -> tuple[str, list]:
    """The input relation of `_write_charges` from Python values: one JSON document bound as one
    parameter (json_to_recordset on PostgreSQL, json_each on SQLite), whatever the number of rows —
    a placeholder or an array element per value costs more on the client than the writes do."""
    payload = json.dumps([dict(zip(_COLUMNS, (
        start + n, i.account_id, i.source, i.description or i.reference, i.business_date.isoformat(), i.kind,
        i.reference, i.payment_reference, i.period_code, i.amount_fen, i.due_date.isoformat(), i.bill_id,
        i.parent_id), strict=True)) for n, i in enumerate(items)], ensure_ascii=False)
    return json_rows(_COLUMNS, _PG_TYPES), [payload]


def json_rows(columns: Sequence[str], pg_types: Sequence[str]) -> str:
    """SELECT of typed columns from a JSON array of objects bound as one parameter."""
    if connection.vendor == "postgresql":
        return (f"SELECT * FROM json_to_recordset(%s::json) AS t "
                f"({', '.join(f'{c} {t}' for c, t in zip(columns, pg_types, strict=True))})")
    return f"SELECT {', '.join(_json_field(c) for c in columns)} FROM json_each(%s)"


def _json_field(column: str) -> str:
    return f"json_extract(value, '$.{column}') AS {column}"


def _bill_rows(bill_ids: list[int], *, business_date: date) -> tuple[str, list]:
    """The input relation of `_write_charges` read from billing's issued bills (positive ones)."""
    from gridcare.billing.models import Bill

    bill_t = qn(Bill)
    day = Charge._meta.get_field("due_date").get_db_prep_value(business_date, connection)
    if connection.vendor == "postgresql":
        return (f"SELECT b.id AS n, b.account_id, 'bill:' || b.id::text AS source, "
                f"'电费 ' || b.period_code || ' ' || b.number AS description, %s::date AS business_date, "
                f"%s::text AS kind, b.number AS reference, b.payment_reference, b.period_code, b.total_fen AS amount_fen, "
                f"COALESCE(b.due_date, %s::date) AS due_date, b.id AS bill_id, NULL::bigint AS parent_id "
                f"FROM unnest(%s::bigint[]) AS t (id) JOIN {bill_t} b ON b.id = t.id WHERE b.total_fen > 0",
                [day, Charge.Kind.BILL, day, list(bill_ids)])
    return (f"SELECT b.id AS n, b.account_id, 'bill:' || CAST(b.id AS VARCHAR(20)) AS source, "
            f"'电费 ' || b.period_code || ' ' || b.number AS description, %s AS business_date, %s AS kind, "
            f"b.number AS reference, b.payment_reference, b.period_code, b.total_fen AS amount_fen, "
            f"COALESCE(b.due_date, %s) AS due_date, b.id AS bill_id, NULL AS parent_id "
            f"FROM {bill_t} b WHERE b.id IN ({placeholders(len(bill_ids))}) AND b.total_fen > 0",
            [day, Charge.Kind.BILL, day, *bill_ids])


def _kind_map() -> tuple[str, list]:
    """(charge kind, entry kind, income ledger) as a relation, so the SQL needs no literal codes."""
    sql = " UNION ALL ".join(["SELECT %s AS kind, %s AS entry_kind, %s AS income"] * len(_KINDS))
    return sql, [v for kind, (entry, income) in _KINDS.items() for v in (kind, entry, income)]


def _write_charges(rows_sql: str, rows_params: list, *, as_of: datetime) -> list[_Posted]:
    """Entries, open items and both postings for every input row whose source is not posted yet,
    and the header deltas; returns what was posted. The input relation has the columns of
    `_COLUMNS`; the caller holds the accounts' header locks (`lock_headers`)."""
    created = JournalEntry._meta.get_field("created_at").get_db_prep_value(as_of, connection)
    stamp = AccountLedger._meta.get_field("updated_at").get_db_prep_value(as_of, connection)
    entry_t, charge_t, posting_t, header_t = (qn(m) for m in (JournalEntry, Charge, Posting, AccountLedger))
    kinds_sql, kinds_params = _kind_map()
    charge_cols = ("account_id, kind, reference, payment_reference, period_code, amount_fen, due_date, bill_id, "
                   "parent_id, entry_id, created_at")
    charge_values = ("i.account_id, i.kind, SUBSTR(i.reference, 1, 64), SUBSTR(COALESCE(i.payment_reference, ''), 1, 32), "
                     "SUBSTR(COALESCE(i.period_code, ''), 1, 7), i.amount_fen, i.due_date, i.bill_id, i.parent_id")
    if connection.vendor == "postgresql":
        # One statement (data-modifying CTEs). ON CONFLICT on the unique entry source skips an item
        # posted meanwhile.
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH i AS ({rows_sql}), m AS ({kinds_sql}), "
                f"e AS (INSERT INTO {entry_t} (account_id, kind, source, description, business_date, created_at) "
                f"  SELECT i.account_id, m.entry_kind, i.source, SUBSTR(i.description, 1, 255), i.business_date, %s "
                f"  FROM i JOIN m ON m.kind = i.kind ORDER BY i.n ON CONFLICT (source) DO NOTHING RETURNING id, source), "
                f"c AS (INSERT INTO {charge_t} ({charge_cols}) "
                f"  SELECT {charge_values}, e.id, %s FROM e JOIN i ON i.source = e.source ORDER BY e.id "
                f"  RETURNING id, entry_id, account_id, kind, amount_fen), "
                f"p AS (INSERT INTO {posting_t} (entry_id, account_id, ledger, channel, charge_id, amount_fen) "
                f"  SELECT c.entry_id, c.account_id, CASE WHEN k.sign > 0 THEN %s ELSE m.income END, '', "
                f"  CASE WHEN k.sign > 0 THEN c.id END, k.sign * c.amount_fen "
                f"  FROM c JOIN m ON m.kind = c.kind CROSS JOIN (VALUES (1), (-1)) AS k (sign) "
                f"  ORDER BY c.entry_id, k.sign DESC), "
                f"h AS (UPDATE {header_t} SET balance_fen = {header_t}.balance_fen + s.amount, "
                f"  entries = {header_t}.entries + s.n, updated_at = %s "
                f"  FROM (SELECT account_id, SUM(amount_fen) AS amount, COUNT(*) AS n FROM c GROUP BY account_id) s "
                f"  WHERE {header_t}.account_id = s.account_id) "
                f"SELECT e.source, c.id, c.account_id, c.amount_fen FROM c JOIN e ON e.id = c.entry_id ORDER BY c.id",
                [*rows_params, *kinds_params, created, created, Ledger.AR, stamp])
            return [_Posted(s, int(c), int(a), int(f)) for s, c, a, f in cursor.fetchall()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH i AS ({rows_sql}), m AS ({kinds_sql}) "
            f"INSERT INTO {entry_t} (account_id, kind, source, description, business_date, created_at) "
            f"SELECT i.account_id, m.entry_kind, i.source, SUBSTR(i.description, 1, 255), i.business_date, %s "
            f"FROM i JOIN m ON m.kind = i.kind "
            f"WHERE NOT EXISTS (SELECT 1 FROM {entry_t} j WHERE j.source = i.source) ORDER BY i.n RETURNING id, source",
            [*rows_params, *kinds_params, created])
        sources = dict(cursor.fetchall())
        if not sources:
            return []
        entry_ids = sorted(sources)
        entries = placeholders(len(entry_ids))
        # The input drives the join (CROSS JOIN fixes the order): each row finds its entry on the
        # unique source index (the unary + keeps SQLite from walking the id list instead).
        cursor.execute(
            f"WITH i AS ({rows_sql}) INSERT INTO {charge_t} ({charge_cols}) "
            f"SELECT {charge_values}, j.id, %s FROM i CROSS JOIN {entry_t} j "
            f"WHERE j.source = i.source AND +j.id IN ({entries}) ORDER BY j.id "
            f"RETURNING id, entry_id, account_id, amount_fen",
            [*rows_params, created, *entry_ids])
        posted = [_Posted(sources[e], int(c), int(a), int(f)) for c, e, a, f in cursor.fetchall()]
        # Two postings per entry, the receivable debit first: its open item, and the income credit.
        cursor.execute(
            f"WITH m AS ({kinds_sql}) INSERT INTO {posting_t} (entry_id, account_id, ledger, channel, charge_id, amount_fen) "
            f"SELECT c.entry_id, c.account_id, CASE WHEN k.sign > 0 THEN %s ELSE m.income END, '', "
            f"CASE WHEN k.sign > 0 THEN c.id END, k.sign * c.amount_fen "
            f"FROM {charge_t} c JOIN m ON m.kind = c.kind CROSS JOIN (SELECT 1 AS sign UNION ALL SELECT -1) k "
            f"WHERE c.entry_id IN ({entries}) ORDER BY c.entry_id, k.sign DESC",
            [*kinds_params, Ledger.AR, *entry_ids])
        # Header deltas in one statement (the customer side of each entry is its receivable debit).
        cursor.execute(
            f"UPDATE {header_t} SET balance_fen = {header_t}.balance_fen + s.amount, "
            f"entries = {header_t}.entries + s.n, updated_at = %s "
            f"FROM (SELECT account_id, SUM(amount_fen) AS amount, COUNT(*) AS n FROM {charge_t} "
            f"WHERE entry_id IN ({entries}) GROUP BY account_id) s WHERE {header_t}.account_id = s.account_id",
            [stamp, *entry_ids])
    return sorted(posted, key=lambda p: p.charge_id)


# -- late fees in bulk -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LateFeeIn:
    """The late fee (违约金) to post on one bill through one day."""

    charge_id: int  # the bill's open item
    amount_fen: int
    through: date
    description: str = ""


def late_fee_source(charge_id: int, through: date) -> str:
    """The idempotency key of the late fee on one bill through one day."""
    return f"latefee:{charge_id}:{through.isoformat()}"


@transaction.atomic
def late_fee_charges_post(*, items: Sequence[LateFeeIn], as_of: datetime) -> ChargesPosted:
    """Late fees on many bills at once (month-end assessment), set-based through
    `charges_post_many`: each a new `late_fee` open item (parent = the bill, due on `through`,
    the bill's payment reference and period), receivable debit / late-fee income credit. Idempotent
    by source `latefee:<bill>:<through>`. Raises NotFound (charge_id), ValidationFailed (amount_fen)."""
    for item in items:
        positive_fen(item.amount_fen)
    ids = sorted({i.charge_id for i in items})
    bills: dict[int, tuple] = {}
    for lo in range(0, len(ids), 900):
        bills.update((r[0], r) for r in Charge.objects.filter(pk__in=ids[lo:lo + 900]).values_list(
            "pk", "account_id", "reference", "payment_reference", "period_code"))
    missing = [i for i in ids if i not in bills]
    if missing:
        raise NotFound(f"charge {missing[0]} not found", field="charge_id")
    charges = []
    for item in items:
        _pk, account_id, reference, payment_reference, period_code = bills[item.charge_id]
        charges.append(ChargeIn(
            account_id=account_id, kind=Charge.Kind.LATE_FEE, source=late_fee_source(item.charge_id, item.through),
            amount_fen=item.amount_fen, reference=f"{reference}-LF{item.through:%Y%m%d}"[:64], due_date=item.through,
            business_date=item.through, description=item.description or f"违约金 {reference}（截至 {item.through}）",
            payment_reference=payment_reference, period_code=period_code, parent_id=item.charge_id))
    return charges_post_many(items=charges, as_of=as_of)


def _accounts_in_credit(account_ids: list[int]) -> list[int]:
    if not account_ids:
        return []
    out: list[int] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT account_id FROM {qn(Posting)} WHERE ledger = %s AND account_id = ANY(%s) "
                           "GROUP BY account_id HAVING SUM(amount_fen) < 0", [Ledger.CREDIT, list(account_ids)])
            return [r[0] for r in cursor.fetchall()]
        for lo in range(0, len(account_ids), 5000):
            chunk = account_ids[lo:lo + 5000]
            cursor.execute(f"SELECT account_id FROM {qn(Posting)} WHERE ledger = %s AND account_id IN "
                           f"({placeholders(len(chunk))}) GROUP BY account_id HAVING SUM(amount_fen) < 0",
                           [Ledger.CREDIT, *chunk])
            out += [r[0] for r in cursor.fetchall()]
    return out
