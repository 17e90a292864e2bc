"""Demo data: receivables for the issued demo bills, and payments for most of them through every
channel, spread over the days before `as_of` so reconciliation and dunning have something to show.

Deterministic for a seed and idempotent: bills post once (entry source `bill:<id>`), payments carry
keys derived from the open item (`demo:…`), and the bank and agency files run once (their import
is recorded; a second run finds the record and skips them). Roughly: a quarter of the accounts
have a debit agreement and pay by bank debit (a few debits fail), a few are prepaid with credit
left, one in ten keeps arrears of its last one to three bills, some pay part, some pay too much (credit), the rest pay at the
counter, online or through an agency.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.db.models import Q

from gridcare.core.calendars import BUSINESS_TZ
from gridcare.customers.models import Account
from gridcare.payments.fileformats import render_file, yuan_text
from gridcare.payments.models import AccountLedger, DebitMandate, ImportedFile, Payment
from gridcare.payments.policy import payments_policy
from gridcare.payments.selectors import open_items_for
from gridcare.payments.services import (
    PaymentIn,
    agency_file_import,
    debit_batch_generate,
    debit_result_import,
    payments_post_many,
    receivables_post_issued_bills,
)

CHUNK = 1000
DEMO_MARK = "demo-"


def _at(day, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TZ)


ARREARS_MONTHS_MAX = 3


def load_demo(*, seed: int, as_of: datetime) -> str:
    sync = receivables_post_issued_bills(as_of=as_of)
    today = as_of.astimezone(BUSINESS_TZ).date()
    accounts = list(Account.objects.order_by("pk").values_list("pk", "number", "category"))
    if not accounts:
        return "no accounts; load master data first"
    policy = payments_policy()
    banks = sorted(policy.banks)
    agencies = sorted(policy.agencies)
    group = {}
    for pk, _number, _category in accounts:
        r = random.Random(f"{seed}:account:{pk}").random()
        group[pk] = ("debit" if r < 0.25 else "prepaid" if r < 0.30 else "arrears" if r < 0.40 else
                     "partial" if r < 0.47 else "over" if r < 0.52 else "pay")
    first_run = not ImportedFile.objects.filter(file_name__startswith=DEMO_MARK).exists()
    mandates = _mandates(accounts, group, banks, random.Random(f"{seed}:mandates"), today) if first_run else 0
    _prepaid(group, as_of)
    items = open_items_for([pk for pk, g in group.items() if g != "debit"])
    numbers = {pk: number for pk, number, _ in accounts}
    done = _paid_by_demo()
    counter, online, agency_rows = [], [], {code: [] for code in agencies}
    for account_id, open_items in sorted(items.items()):
        kind = group[account_id]
        if kind == "arrears":  # the usual defaulter owes the last months, not a whole year
            months = random.Random(f"{seed}:arrears:{account_id}").randint(1, ARREARS_MONTHS_MAX)
            owed_from = today - timedelta(days=31 * months)
            open_items = [item for item in open_items if item.due_date < owed_from]
        for item in open_items:
            if item.charge_id in done:
                continue
            rng = random.Random(f"{seed}:charge:{item.charge_id}")
            paid_on = min(today - timedelta(days=rng.randint(1, 7)), today)
            amount = item.outstanding_fen
            if kind == "partial":
                amount = max(1, amount * rng.randint(30, 80) // 100)
            elif kind in ("over", "prepaid"):
                amount += rng.choice((1000, 5000, 10000, 20000))
            when = _at(paid_on, rng.randint(8, 19), rng.randint(0, 59))
            channel = rng.random()
            if channel < 0.45:
                counter.append(PaymentIn(account_id=account_id, amount_fen=amount, channel="counter",
                                         method=rng.choice(("cash", "card", "qr")), source="DEMO", received_at=when,
                                         idempotency_key=f"demo:{item.charge_id}", first_charge_id=item.charge_id,
                                         description="营业厅缴费"))
            elif channel < 0.75 or not agencies:
                online.append(PaymentIn(account_id=account_id, amount_fen=amount, channel="online", method="gateway",
                                        source="testpay", received_at=when, external_ref=f"TPDEMO{item.charge_id}",
                                        idempotency_key=f"gw:testpay:TPDEMO{item.charge_id}",
                                        first_charge_id=item.charge_id, description="线上缴费"))
            elif first_run:  # agency files are sent once; later runs leave these items open
                code = agencies[item.charge_id % len(agencies)]
                agency_rows[code].append((numbers[account_id], item.charge_id, amount, when))
    posted = 0
    for batch in (counter, online):
        for start in range(0, len(batch), CHUNK):
            posted += sum(r.created for r in payments_post_many(items=batch[start:start + CHUNK], as_of=as_of))
    files = 0
    if first_run:
        for code, rows in agency_rows.items():
            if rows:
                posted += _agency_file(code, rows, as_of).posted
                files += 1
        for bank in banks:
            report = _debit_round(bank, random.Random(f"{seed}:debit:{bank}"), today, as_of)
            if report is not None:
                posted += report.posted
                files += 1
    arrears = sum(1 for g in group.values() if g == "arrears")
    return (f"{sync.charges} bills posted to the ledger, {posted} payments "
            f"({len(counter)} counter, {len(online)} online), {files} bank/agency files, {mandates} debit agreements, "
            f"{arrears} accounts left in arrears")


def _paid_by_demo() -> set[int]:
    """Open items a previous run already paid something on (so a re-run never pays them again)."""
    out = set()
    for key, ref in Payment.objects.filter(Q(idempotency_key__startswith="demo:") | Q(idempotency_key__startswith=
                                                                                        "gw:testpay:TPDEMO")
                                           ).values_list("idempotency_key", "external_ref"):
        digits = (ref or key).rsplit("TPDEMO", 1)[-1].rsplit(":", 1)[-1]
        if digits.isdigit():
            out.add(int(digits))
    return out


def _mandates(accounts, group, banks, rng, today) -> int:
    existing = set(DebitMandate.objects.values_list("account_id", flat=True))
    new = [DebitMandate(account_id=pk, bank_code=banks[pk % len(banks)], bank_account=f"62{rng.randrange(10**15):015d}",
                        holder_name=f"户{number[-6:]}", signed_on=today - timedelta(days=rng.randint(60, 900)))
           for pk, number, _ in accounts if group[pk] == "debit" and pk not in existing]
    DebitMandate.objects.bulk_create(new, batch_size=2000)
    return len(new)


def _prepaid(group, as_of) -> None:
    ids = [pk for pk, g in group.items() if g == "prepaid"]
    AccountLedger.objects.bulk_create([AccountLedger(account_id=pk) for pk in ids], ignore_conflicts=True)
    AccountLedger.objects.filter(account_id__in=ids, prepaid=False).update(prepaid=True, updated_at=as_of)


def _agency_file(code: str, rows, as_of):
    layout = payments_policy().agency(code).file
    lines = [{"txn_ref": f"{code}{charge_id:010d}", "account_number": number, "amount_fen": amount,
              "amount_yuan": yuan_text(amount), "paid_at": when.strftime(layout.datetime_format),
              "payment_reference": ""}
             for number, charge_id, amount, when in rows]
    content = render_file(layout, lines, {})
    return agency_file_import(agency_code=code, content=content, file_name=f"{DEMO_MARK}{code}.txt", as_of=as_of)


def _debit_round(bank: str, rng, today, as_of):
    """The bank debits 96 % of the file; the rest fail with "insufficient funds"."""
    sent = _at(today - timedelta(days=3), 8, 0)
    batch = debit_batch_generate(bank_code=bank, as_of=sent)
    if batch is None:
        return None
    layout = payments_policy().bank(bank).result_file
    success = layout.success_codes[0]
    rows = []
    for item in batch.items.order_by("id"):
        ok = rng.random() < 0.96
        rows.append({"reference": item.reference, "amount_fen": item.amount_fen,
                     "amount_yuan": yuan_text(item.amount_fen), "status": success if ok else "3001",
                     "bank_ref": f"BK{item.pk:010d}", "message": "成功" if ok else "余额不足"})
    content = render_file(layout, rows, {})
    return debit_result_import(bank_code=bank, content=content, file_name=f"{DEMO_MARK}{batch.file_name}",
                               as_of=_at(today - timedelta(days=2), 10, 0))
