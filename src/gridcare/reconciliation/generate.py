"""A synthetic statement for a business day, written in the source's own layout: what the bank or
agency would send for our payments of that day, with a configurable share of the usual problems.

For demos, training and measuring the 自动对账率 on realistic files (`gridcare reconcile generate`).
Reads the books; writes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.money import fen_to_yuan
from gridcare.payments.fileformats import render_file
from gridcare.payments.models import DebitItem, Payment
from gridcare.reconciliation.policy import reconciliation_policy


@dataclass(frozen=True)
class Noise:
    """Shares of payments (0..1) given each problem; the rest appear exactly as booked."""

    missing: float = 0.01  # not on the statement (资金未到账)
    amount: float = 0.005  # a different amount (扣费记录与缴费不符)
    duplicate: float = 0.005  # debited twice (重复扣费)
    no_reference: float = 0.03  # reference dropped by the bank: matched on account + amount + date
    late: float = 0.05  # value date one day later (T+1)
    unknown: float = 0.005  # extra money nobody booked, as a share of the payments


@dataclass(frozen=True)
class Generated:
    content: bytes
    file_name: str
    payments: int
    lines: int
    injected: dict[str, int]


def statement_generate(*, source: str, business_date: date, noise: Noise = Noise(), seed: int = 1) -> Generated:
    spec = reconciliation_policy().source(source)
    rng = random.Random(f"{seed}:{source}:{business_date}")
    payments = list(Payment.objects.filter(source__in=spec.covers, business_date=business_date,
                                           status=Payment.Status.POSTED)
                    .select_related("account", "account__customer").order_by("pk"))
    debit_refs = dict(DebitItem.objects.filter(payment__in=payments).values_list("payment_id", "reference"))
    injected = {k: 0 for k in ("missing", "amount", "duplicate", "no_reference", "late", "unknown")}
    rows: list[dict] = []
    serial = 0

    def row(payment: Payment | None, *, amount: int, day: date, reference: str, account: str, payer: str) -> dict:
        nonlocal serial
        serial += 1
        paid_at = datetime.combine(day, time(12), tzinfo=BUSINESS_TZ)
        if payment is not None:
            booked = payment.received_at.astimezone(BUSINESS_TZ)
            paid_at = booked if booked.date() == day else datetime.combine(day, time(0, 30), tzinfo=BUSINESS_TZ)
        return {"txn_ref": f"{source}{business_date:%Y%m%d}{serial:07d}", "amount_fen": amount,
                "amount_yuan": fen_to_yuan(amount), "value_date": f"{day:%Y%m%d}",
                "paid_at": paid_at.strftime(spec.layout.datetime_format),
                "reference": reference, "account_number": account, "payer_name": payer[:20]}

    for payment in payments:
        draw = rng.random()
        if draw < noise.missing:
            injected["missing"] += 1
            continue
        amount, day = payment.amount_fen, business_date
        reference = debit_refs.get(payment.pk) or payment.external_ref or payment.receipt_number or ""
        draw = rng.random()
        if draw < noise.amount:
            amount += rng.choice((-100, 100, 1_000))
            amount = max(amount, 1)
            injected["amount"] += 1
        if rng.random() < noise.no_reference:
            reference = ""
            injected["no_reference"] += 1
        if rng.random() < noise.late:
            day = business_date + timedelta(days=1)
            injected["late"] += 1
        line = row(payment, amount=amount, day=day, reference=reference, account=payment.account.number,
                   payer=payment.account.customer.name)
        rows.append(line)
        if rng.random() < noise.duplicate:
            rows.append(row(payment, amount=amount, day=day, reference=reference, account=payment.account.number,
                            payer=payment.account.customer.name))
            injected["duplicate"] += 1
    for _ in range(round(len(payments) * noise.unknown)):
        rows.append(row(None, amount=rng.randint(1_000, 50_000), day=business_date, reference="", account="",
                        payer="未知付款人"))
        injected["unknown"] += 1
    context = {"batch_number": f"{source}{business_date:%Y%m%d}", "bank_code": source, "business_date": business_date,
               "count": len(rows), "total_fen": sum(r["amount_fen"] for r in rows),
               "total_yuan": fen_to_yuan(sum(r["amount_fen"] for r in rows))}
    content = render_file(spec.layout, rows, context)
    return Generated(content=content, file_name=f"{source}_{business_date:%Y%m%d}.txt", payments=len(payments),
                     lines=len(rows), injected=injected)
