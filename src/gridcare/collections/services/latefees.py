"""Late-fee (违约金) assessment: compute with the configured rule, post through the payments ledger.

When: at month end for every bill still overdue; for a bill paid late, computed through its
payment date (the nightly run finds bills paid since `payment_lookback_days`); and at the counter
for one account before a payment is taken. Each assessment computes the cumulative fee from the
due date and posts only the difference to what was assessed before, so the three never add up to
more than the rule allows and re-running a day posts nothing (unique (bill, through)).
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from gridcare.access.models import User
from gridcare.collections import ledger
from gridcare.collections.latefees import LateFee, first_accrual_day, late_fee
from gridcare.collections.models import LateFeeAssessment
from gridcare.collections.policy import LateFeePolicy, collections_policy
from gridcare.collections.selectors import (
    Assessed,
    Timeline,
    bills_paid_recently,
    late_fees_assessed,
    open_items,
    timelines,
)
from gridcare.collections.services._common import local_date, require
from gridcare.core.errors import NotFound
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.metering.bulk import bulk_insert
from gridcare.payments.models import Charge

Progress = Callable[[int, int], None]
CHUNK = 2000  # bills per transaction (whole accounts); an interrupted run keeps the chunks it committed


@dataclass(frozen=True)
class Quote:
    """The fee on one bill if it were paid on `through`, and what is not assessed yet."""

    charge_id: int
    reference: str
    due_date: date
    outstanding_fen: int
    fee: LateFee
    assessed_fen: int

    @property
    def unassessed_fen(self) -> int:
        return max(self.fee.fee_fen - self.assessed_fen, 0)


def _quote(line: Timeline, *, through: date, assessed: Assessed | None, policy: LateFeePolicy | None = None) -> Quote:
    rule = (policy or collections_policy().late_fees).rule_for(line.category)
    fee = late_fee(due_date=line.due_date, through=through, opening_fen=line.opening_fen, changes=line.changes,
                   rule=rule)
    return Quote(charge_id=line.charge_id, reference=line.reference, due_date=line.due_date,
                 outstanding_fen=line.outstanding_on(through), fee=fee,
                 assessed_fen=assessed.posted_fen if assessed else 0)


def late_fee_quote(*, account_id: int, as_of_date: date) -> list[Quote]:
    """What paying today would add in late fees, bill by bill (counter, portal, API)."""
    kinds = collections_policy().late_fees.charge_kinds
    ids = [i.charge_id for i in open_items(kinds=kinds, account_ids=[account_id], due_on_or_before=as_of_date)]
    lines, assessed = timelines(ids), late_fees_assessed(ids)
    quotes = [_quote(lines[i], through=as_of_date, assessed=assessed.get(i)) for i in ids if i in lines]
    return [q for q in quotes if q.fee.days]


@dataclass
class AssessResult:
    bills: int = 0
    posted: int = 0
    posted_fen: int = 0
    unchanged: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Work:
    """One bill to assess: through `through`, or (payment time) through the day it was paid off."""

    charge_id: int
    account_id: int
    reason: str
    through: date | None = None  # None: the date of the bill's last receivable change (its payment)


def _through(work: _Work, line: Timeline, policy: LateFeePolicy) -> date | None:
    """The day to assess through, or None when the bill accrues nothing to assess by then."""
    rule = policy.rule_for(line.category)
    through = work.through if work.through is not None else line.last_change
    if through is None or through < first_accrual_day(line.due_date, rule):
        return None
    return through


def _chunks(work: list[_Work], size: int) -> Iterable[list[_Work]]:
    """Runs of about `size` bills that never split an account (its bills commit together)."""
    work = sorted(work, key=lambda w: (w.account_id, w.charge_id))
    chunk: list[_Work] = []
    for item in work:
        if len(chunk) >= size and item.account_id != chunk[-1].account_id:
            yield chunk
            chunk = []
        chunk.append(item)
    if chunk:
        yield chunk


def _assess(work: list[_Work], *, as_of: datetime, result: AssessResult, progress: Progress | None = None,
            chunk_size: int = CHUNK) -> None:
    """Assess bills in chunks of whole accounts, each chunk one transaction: read the chunk's
    receivable histories and earlier assessments (a few queries), apply the rule to every bill in
    Python, post the differences set-based through payments (`ledger.late_fees_post`) and record
    the assessments in bulk. A run that stops keeps the chunks it committed; a second run finds
    their (bill, through) assessed and posts nothing for them."""
    total = len(work)
    done = 0
    for chunk in _chunks(work, chunk_size):
        for attempt in (1, 2):
            try:
                partial = AssessResult()
                _assess_chunk(chunk, as_of=as_of, result=partial)
                break
            except IntegrityError:  # a concurrent run assessed some of these bills: read them again
                if attempt == 2:
                    raise
        result.bills += partial.bills
        result.posted += partial.posted
        result.posted_fen += partial.posted_fen
        result.unchanged += partial.unchanged
        for reason, n in partial.by_reason.items():
            result.by_reason[reason] = result.by_reason.get(reason, 0) + n
        done += len(chunk)
        if progress is not None:
            progress(done, total)


@transaction.atomic
def _assess_chunk(chunk: list[_Work], *, as_of: datetime, result: AssessResult) -> None:
    policy = collections_policy().late_fees
    ids = sorted({w.charge_id for w in chunk})
    # Serialise assessments of the same bills (nightly run and counter at once) without blocking
    # payments, whose postings only take a key-share lock on the bill.
    list(Charge.objects.select_for_update(no_key=True).filter(pk__in=ids).values_list("pk", flat=True))
    assessed = late_fees_assessed(ids)
    # A bill already assessed through the day asked for needs no history (a re-run reads little).
    # The counter first checks that anything accrued at all, as it always did.
    todo = []
    for w in chunk:
        if (w.through is not None and w.reason != LateFeeAssessment.Reason.COUNTER and w.charge_id in assessed
                and w.through in assessed[w.charge_id].throughs):
            result.unchanged += 1
        else:
            todo.append(w)
    chunk = todo
    lines = timelines(sorted({w.charge_id for w in chunk}))
    planned: list[tuple[_Work, Quote, int]] = []
    for item in chunk:
        line = lines.get(item.charge_id)
        through = _through(item, line, policy) if line is not None else None
        if through is None:
            continue
        before = assessed.get(item.charge_id)
        counter = item.reason == LateFeeAssessment.Reason.COUNTER
        if not counter and before is not None and through in before.throughs:
            result.unchanged += 1
            continue
        quote = _quote(line, through=through, assessed=before, policy=policy)
        if counter and not quote.fee.days:
            continue  # nothing accrued: the counter does not record an empty assessment
        if counter and before is not None and through in before.throughs:
            result.unchanged += 1
            continue
        planned.append((item, quote, max(quote.fee.fee_fen - quote.assessed_fen, 0)))
    fees = ledger.late_fees_post(
        fees=[ledger.FeeToPost(bill_id=q.charge_id, amount_fen=fen, through=q.fee.through,
                               description=f"违约金 {q.reference}（截至 {q.fee.through}）")
              for _w, q, fen in planned if fen],
        as_of=as_of)
    _record(planned, fees, as_of=as_of)
    for item, _q, fen in planned:
        result.bills += 1
        result.by_reason[item.reason] = result.by_reason.get(item.reason, 0) + 1
        if fen:
            result.posted += 1
            result.posted_fen += fen


def _record(planned: list[tuple[_Work, Quote, int]], fees: dict[tuple[int, date], int], *, as_of: datetime) -> None:
    """The assessments, as plain tuples through the pipelines' bulk insert (COPY on PostgreSQL):
    Django's bulk_create prepares every value of every row through its field and cost more than
    the ledger writes."""
    bulk_insert(LateFeeAssessment, (
        "account", "charge", "fee_charge", "through", "reason", "days", "exact_fen", "cumulative_fen", "posted_fen",
        "minimum_applied", "formula", "bands", "created_at"), [
        (item.account_id, q.charge_id, fees.get((q.charge_id, q.fee.through)), q.fee.through, str(item.reason),
         q.fee.days, q.fee.exact_fen, q.fee.fee_fen, fen, q.fee.minimum_applied, q.fee.formula()[:500],
         [{"from": b.first_day.isoformat(), "to": b.last_day.isoformat(), "days": b.days,
           "principal_fen": b.principal_fen, "rate": str(b.rate), "cross_year": b.cross_year} for b in q.fee.bands],
         as_of)
        for item, q, fen in planned])


def is_month_end(day: date) -> bool:
    return day.day == monthrange(day.year, day.month)[1]


def late_fees_assess(*, as_of: datetime, month_end: bool | None = None, progress: Progress | None = None,
                     chunk_size: int = CHUNK) -> AssessResult:
    """The nightly assessment: bills paid late since the lookback (fee through their payment
    date) and, at month end, every bill still overdue (fee through today). Set-based, in chunks
    of whole accounts that commit on their own."""
    policy = collections_policy().late_fees
    today = local_date(as_of)
    month_end = is_month_end(today) if month_end is None else month_end
    work: list[_Work] = []
    if policy.assess_on_payment:
        ids = bills_paid_recently(since=today - timedelta(days=policy.payment_lookback_days), through=today)
        for lo in range(0, len(ids), 5000):
            work += [_Work(charge_id=pk, account_id=account_id, reason=LateFeeAssessment.Reason.PAYMENT)
                     for pk, account_id in Charge.objects.filter(pk__in=ids[lo:lo + 5000], kind__in=policy.charge_kinds)
                     .values_list("pk", "account_id")]
    if month_end and policy.assess_at_month_end:
        work += [_Work(charge_id=i.charge_id, account_id=i.account_id, reason=LateFeeAssessment.Reason.MONTH_END,
                       through=today)
                 for i in open_items(kinds=policy.charge_kinds, due_on_or_before=today - timedelta(days=1))]
    result = AssessResult()
    _assess(work, as_of=as_of, result=result, progress=progress, chunk_size=chunk_size)
    return result


def late_fees_assess_account(*, actor: User | None, account_id: int, as_of: datetime) -> AssessResult:
    """At the counter, before a payment: post the fee accrued so far on the account's overdue
    bills so the payment can pay it (payments allocates late fees first or last by policy). The
    one-account case of the bulk assessment."""
    require(actor, "payments.collect")
    qs = Account.objects.filter(pk=account_id)
    if actor is not None:
        qs = qs.filter(account_scope_q(user=actor))
    if not qs.exists():
        raise NotFound(_("account %(id)s not found") % {"id": account_id}, field="account_id")
    return late_fees_assess_accounts(account_ids=[account_id], as_of=as_of)


def late_fees_assess_accounts(*, account_ids: list[int], as_of: datetime, progress: Progress | None = None,
                              chunk_size: int = CHUNK) -> AssessResult:
    """The counter assessment for many accounts at once (system use: the demo, a company's own
    campaign): the fee accrued through today on each account's overdue bills."""
    today = local_date(as_of)
    kinds = collections_policy().late_fees.charge_kinds
    work = [_Work(charge_id=i.charge_id, account_id=i.account_id, reason=LateFeeAssessment.Reason.COUNTER,
                  through=today)
            for lo in range(0, len(account_ids), 5000)
            for i in open_items(kinds=kinds, account_ids=account_ids[lo:lo + 5000], due_on_or_before=today)]
    result = AssessResult()
    _assess(work, as_of=as_of, result=result, progress=progress, chunk_size=chunk_size)
    return result
