"""Late-fee (违约金) assessment: compute with the configured rule, post through the payments ledger.

When: at month end for every bill still overdue; for a bill paid late, computed through its
payment date (the nightly run finds bills paid since `payment_lookback_days`); and at the counter
for one account before a payment is taken. Each assessment computes the cumulative fee from the
due date and posts only the difference to what was assessed before, so the three never add up to
more than the rule allows and re-running a day posts nothing (unique (bill, through)).
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from gridcare.access.models import User
from gridcare.collections import ledger
from gridcare.collections.latefees import LateFee, first_accrual_day, late_fee
from gridcare.collections.models import LateFeeAssessment
from gridcare.collections.policy import collections_policy
from gridcare.collections.selectors import bills_paid_recently, late_fee_assessed, open_items, timelines
from gridcare.collections.services._common import local_date, require
from gridcare.core.errors import NotFound
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.payments.models import Charge

Progress = Callable[[int, int], None]
CHUNK = 500


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


def _quotes(charges: list[Charge], *, through_of: Callable[[Charge], date]) -> list[Quote]:
    policy = collections_policy().late_fees
    ids = [c.pk for c in charges]
    lines = timelines(ids)
    assessed = late_fee_assessed(ids)
    out = []
    for charge in charges:
        timeline = lines[charge.pk]
        rule = policy.rule_for(charge.account.category)
        fee = late_fee(due_date=charge.due_date, through=through_of(charge), opening_fen=timeline.opening_fen,
                       changes=timeline.changes, rule=rule)
        outstanding = timeline.opening_fen + sum(d for day, d in timeline.changes if day <= through_of(charge))
        out.append(Quote(charge_id=charge.pk, reference=charge.reference, due_date=charge.due_date,
                         outstanding_fen=outstanding, fee=fee, assessed_fen=assessed.get(charge.pk, 0)))
    return out


def late_fee_quote(*, account_id: int, as_of_date: date) -> list[Quote]:
    """What paying today would add in late fees, bill by bill (counter, portal, API)."""
    kinds = collections_policy().late_fees.charge_kinds
    ids = [i.charge_id for i in open_items(kinds=kinds, account_ids=[account_id], due_on_or_before=as_of_date)]
    charges = list(Charge.objects.select_related("account").filter(pk__in=ids).order_by("due_date", "id"))
    return [q for q in _quotes(charges, through_of=lambda c: as_of_date) if q.fee.days]


@dataclass
class AssessResult:
    bills: int = 0
    posted: int = 0
    posted_fen: int = 0
    unchanged: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


def _assess_one(quote: Quote, *, account_id: int, reason: str, as_of: datetime, result: AssessResult) -> None:
    through = quote.fee.through
    difference = quote.fee.fee_fen - quote.assessed_fen
    try:
        with transaction.atomic():
            if LateFeeAssessment.objects.filter(charge_id=quote.charge_id, through=through).exists():
                result.unchanged += 1
                return
            fee_charge = None
            posted = max(difference, 0)
            if posted:
                fee_charge = ledger.late_fee_post(
                    bill_id=quote.charge_id, amount_fen=posted, through=through, as_of=as_of,
                    description=f"违约金 {quote.reference}（截至 {through}）").charge
            LateFeeAssessment.objects.create(
                account_id=account_id, charge_id=quote.charge_id, fee_charge=fee_charge, through=through,
                reason=reason, days=quote.fee.days, exact_fen=quote.fee.exact_fen,
                cumulative_fen=quote.fee.fee_fen, posted_fen=posted, minimum_applied=quote.fee.minimum_applied,
                formula=quote.fee.formula()[:500],
                bands=[{"from": b.first_day.isoformat(), "to": b.last_day.isoformat(), "days": b.days,
                        "principal_fen": b.principal_fen, "rate": str(b.rate), "cross_year": b.cross_year}
                       for b in quote.fee.bands],
                created_at=as_of)
    except IntegrityError:  # a concurrent run assessed it
        result.unchanged += 1
        return
    result.bills += 1
    result.by_reason[reason] = result.by_reason.get(reason, 0) + 1
    if posted:
        result.posted += 1
        result.posted_fen += posted


def is_month_end(day: date) -> bool:
    return day.day == monthrange(day.year, day.month)[1]


def late_fees_assess(*, as_of: datetime, month_end: bool | None = None, progress: Progress | None = None) -> AssessResult:
    """The nightly assessment: bills paid late since the lookback (fee through their payment
    date) and, at month end, every bill still overdue (fee through today)."""
    policy = collections_policy().late_fees
    today = local_date(as_of)
    month_end = is_month_end(today) if month_end is None else month_end
    work: list[tuple[Charge, str, date]] = []
    if policy.assess_on_payment:
        ids = bills_paid_recently(since=today - timedelta(days=policy.payment_lookback_days), through=today)
        lines = timelines(ids)
        charges = [c for lo in range(0, len(ids), CHUNK)
                   for c in Charge.objects.select_related("account").filter(pk__in=ids[lo:lo + CHUNK],
                                                                            kind__in=policy.charge_kinds)]
        for charge in charges:
            paid_on = lines[charge.pk].last_change
            if paid_on is not None and paid_on >= first_accrual_day(charge.due_date,
                                                                   policy.rule_for(charge.account.category)):
                work.append((charge, LateFeeAssessment.Reason.PAYMENT, paid_on))
    if month_end and policy.assess_at_month_end:
        ids = [i.charge_id for i in open_items(kinds=policy.charge_kinds, due_on_or_before=today - timedelta(days=1))]
        for charge in Charge.objects.select_related("account").filter(pk__in=ids):
            if first_accrual_day(charge.due_date, policy.rule_for(charge.account.category)) <= today:
                work.append((charge, LateFeeAssessment.Reason.MONTH_END, today))
    done = _assessed_through([c.pk for c, _r, _t in work])
    todo = [(c, r, t) for c, r, t in work if (c.pk, t) not in done]
    result = AssessResult(unchanged=len(work) - len(todo))
    work = todo
    total = len(work)
    for start in range(0, total, CHUNK):
        chunk = work[start:start + CHUNK]
        through = {c.pk: t for c, _r, t in chunk}
        quotes = _quotes([c for c, _r, _t in chunk], through_of=lambda c, days=through: days[c.pk])
        for n, ((charge, reason, _t), quote) in enumerate(zip(chunk, quotes, strict=True), start=start + 1):
            _assess_one(quote, account_id=charge.account_id, reason=reason, as_of=as_of, result=result)
            if progress is not None:
                progress(n, total)
    return result


def _assessed_through(charge_ids: list[int]) -> set[tuple[int, date]]:
    out: set[tuple[int, date]] = set()
    for start in range(0, len(charge_ids), CHUNK):
        out.update(LateFeeAssessment.objects.filter(charge_id__in=charge_ids[start:start + CHUNK])
                   .values_list("charge_id", "through"))
    return out


def late_fees_assess_account(*, actor: User | None, account_id: int, as_of: datetime) -> AssessResult:
    """At the counter, before a payment: post the fee accrued so far on the account's overdue
    bills so the payment can pay it (payments allocates late fees first or last by policy)."""
    require(actor, "payments.collect")
    qs = Account.objects.filter(pk=account_id)
    if actor is not None:
        qs = qs.filter(account_scope_q(user=actor))
    if not qs.exists():
        raise NotFound(_("account %(id)s not found") % {"id": account_id}, field="account_id")
    today = local_date(as_of)
    result = AssessResult()
    for quote in late_fee_quote(account_id=account_id, as_of_date=today):
        _assess_one(quote, account_id=account_id, reason=LateFeeAssessment.Reason.COUNTER, as_of=as_of, result=result)
    return result
