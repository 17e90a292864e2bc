"""Bank auto-debit (批扣/代扣) and agency collection (代收) files.

Debit: `debit_batch_generate` writes one file per bank, in that bank's layout (policy YAML), with
one item per mandated account that owes money and has no item still at the bank. The bank's
result file settles the items: `debit_result_import` posts a payment for each debited item and
marks failures. Agency: `agency_file_import` posts what an agency collected for us.

Bad input: a file that cannot be read at all is refused whole (FileInvalid). Otherwise every bad
row is reported with its line number, field and reason and posts nothing, while the good rows
post. The same bytes imported again are refused (ImportedFile is unique per kind, source and
SHA-256); a row whose item or transaction is already settled is reported as a duplicate and
posts nothing, so a corrected re-send never posts twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import Sum

from gridcare.access.models import User
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.errors import Conflict, NotFound, ValidationFailed
from gridcare.customers.models import Account
from gridcare.payments.fileformats import (
    FileInvalid,
    RowError,
    amount_fen_of,
    datetime_of,
    parse_file,
    render_file,
    yuan_text,
)
from gridcare.payments.models import (
    Channel,
    Charge,
    DebitBatch,
    DebitItem,
    DebitMandate,
    ImportedFile,
    Payment,
)
from gridcare.payments.policy import payments_policy
from gridcare.payments.services._core import execute_many, headers_for_update, local_date, qn, require
from gridcare.payments.services.payments import PaymentIn, payments_post_many

CAPABILITY = "payments.collect"
Progress = Callable[[int, int], None]


class AlreadyImported(Conflict):
    code = "already_imported"


# -- mandates -------------------------------------------------------------------------------------
@transaction.atomic
def mandate_sign(*, account_id: int, bank_code: str, bank_account: str, holder_name: str, signed_on: date,
                 actor: User | None) -> DebitMandate:
    """Record a debit agreement (批扣/代扣协议); an account has at most one active one."""
    require(actor, CAPABILITY)
    payments_policy().bank(bank_code)
    digits = bank_account.replace(" ", "")
    if not digits.isdigit() or not 8 <= len(digits) <= 34:
        raise ValidationFailed("the bank account is 8–34 digits", field="bank_account")
    if not holder_name.strip() or len(holder_name) > 64:
        raise ValidationFailed("the account holder's name is required (≤ 64)", field="holder_name")
    if not Account.objects.filter(pk=account_id).exists():
        raise NotFound(f"account {account_id} not found", field="account_id")
    if DebitMandate.objects.filter(account_id=account_id, status=DebitMandate.Status.ACTIVE).exists():
        raise Conflict("the account already has an active debit agreement; cancel it first", field="account_id")
    try:
        with transaction.atomic():
            return DebitMandate.objects.create(account_id=account_id, bank_code=bank_code, bank_account=digits,
                                               holder_name=holder_name.strip(), signed_on=signed_on)
    except IntegrityError:
        raise Conflict("the account already has an active debit agreement", field="account_id") from None


@transaction.atomic
def mandate_cancel(*, mandate_id: int, cancelled_on: date, actor: User | None) -> DebitMandate:
    require(actor, CAPABILITY)
    mandate = DebitMandate.objects.select_for_update().filter(pk=mandate_id).first()
    if mandate is None:
        raise NotFound(f"mandate {mandate_id} not found", field="mandate_id")
    if mandate.status != DebitMandate.Status.ACTIVE:
        raise Conflict("the agreement is already cancelled", field="mandate_id")
    mandate.status = DebitMandate.Status.CANCELLED
    mandate.cancelled_on = cancelled_on
    mandate.save(update_fields=["status", "cancelled_on"])
    return mandate


# -- debit files ------------------------------------------------------------------------------------
@transaction.atomic
def debit_batch_generate(*, bank_code: str, as_of: datetime, actor: User | None = None,
                         due_on_or_before: date | None = None) -> DebitBatch | None:
    """One debit file for the bank: every account with an active mandate at the bank whose balance
    is owed (open items due by `due_on_or_before`, default: all) and which has no item pending at
    the bank. Returns None when there is nothing to debit."""
    require(actor, CAPABILITY)
    bank = payments_policy().bank(bank_code)
    day = local_date(as_of)
    mandates = {m.account_id: m for m in DebitMandate.objects.filter(bank_code=bank_code,
                                                                     status=DebitMandate.Status.ACTIVE)}
    pending = set(DebitItem.objects.filter(account_id__in=list(mandates), status=DebitItem.Status.PENDING)
                  .values_list("account_id", flat=True))
    candidates = [a for a in mandates if a not in pending]
    headers = headers_for_update(candidates)
    amounts = {}
    for account_id, header in headers.items():
        if header.balance_fen <= 0:
            continue
        owed = header.balance_fen
        if due_on_or_before is not None:
            from gridcare.payments.models import Ledger, Posting

            due = Posting.objects.filter(account_id=account_id, ledger=Ledger.AR,
                                         charge__due_date__lte=due_on_or_before).aggregate(s=Sum("amount_fen"))["s"]
            owed = min(owed, int(due or 0))
        if owed > 0:
            amounts[account_id] = owed
    if not amounts:
        return None
    n = DebitBatch.objects.filter(bank_code=bank_code, business_date=day).count() + 1
    number = f"{bank_code}{day:%Y%m%d}{n:03d}"[:32]
    accounts = dict(Account.objects.filter(pk__in=list(amounts)).values_list("pk", "number"))
    batch = DebitBatch.objects.create(number=number, bank_code=bank_code, business_date=day, file_name="",
                                      content=b"", created_by=actor, created_at=as_of)
    items = [DebitItem(batch=batch, reference=f"{number}{i:06d}"[:40], account_id=account_id,
                       mandate=mandates[account_id], amount_fen=amounts[account_id])
             for i, account_id in enumerate(sorted(amounts, key=lambda a: accounts[a]), start=1)]
    DebitItem.objects.bulk_create(items)
    total = sum(amounts.values())
    rows = [{"reference": it.reference, "account_number": accounts[it.account_id],
             "bank_account": it.mandate.bank_account, "holder_name": it.mandate.holder_name,
             "amount_fen": it.amount_fen, "amount_yuan": yuan_text(it.amount_fen), "business_date": day.isoformat()}
            for it in items]
    context = {"batch_number": number, "bank_code": bank_code, "business_date": day, "count": len(items),
               "total_fen": total, "total_yuan": yuan_text(total)}
    batch.content = render_file(bank.debit_file, rows, context)
    batch.file_name = bank.debit_file.file_name.format(**context)[:128]
    batch.items_count = len(items)
    batch.total_fen = total
    batch.save(update_fields=["content", "file_name", "items_count", "total_fen"])
    return batch


@dataclass
class ImportReport:
    file_id: int | None = None
    rows: int = 0
    posted: int = 0
    posted_fen: int = 0
    failed: int = 0  # debit items the bank could not debit (a valid outcome, not an error)
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows": self.rows, "posted": self.posted, "posted_fen": self.posted_fen, "failed": self.failed,
                "duplicates": self.duplicates, "rejected": len(self.errors),
                "errors": [e.as_dict() for e in self.errors]}


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _register(kind: str, source: str, content: bytes, file_name: str, actor: User | None, as_of: datetime) -> ImportedFile:
    sha = _sha(content)
    existing = ImportedFile.objects.filter(kind=kind, source=source, sha256=sha).first()
    if existing is not None:
        raise AlreadyImported(f"this file was imported on {existing.imported_at:%Y-%m-%d %H:%M} "
                              f"({existing.file_name}); nothing was posted again", field="file")
    try:
        with transaction.atomic():
            return ImportedFile.objects.create(kind=kind, source=source, sha256=sha, file_name=file_name[:128],
                                               imported_at=as_of, imported_by=actor)
    except IntegrityError:
        raise AlreadyImported("this file is being imported right now", field="file") from None


def _finish(record: ImportedFile, report: ImportReport) -> ImportReport:
    record.rows = report.rows
    record.posted = report.posted
    record.rejected = len(report.errors)
    record.report = report.as_dict()
    record.save(update_fields=["rows", "posted", "rejected", "report"])
    report.file_id = record.pk
    return report


@transaction.atomic
def debit_result_import(*, bank_code: str, content: bytes, file_name: str, as_of: datetime,
                        actor: User | None = None) -> ImportReport:
    """Settle debit items from the bank's result file (see module doc for bad input)."""
    require(actor, CAPABILITY)
    layout = payments_policy().bank(bank_code).result_file
    parsed = parse_file(layout, content)
    record = _register("debit_result", bank_code, content, file_name, actor, as_of)
    report = ImportReport(rows=len(parsed.rows) + len(parsed.errors), errors=list(parsed.errors))
    refs = [row.get("reference", "") for _, row in parsed.rows]
    items: dict[str, DebitItem] = {}
    for start in range(0, len(refs), 900):  # by the unique reference index; the bank is checked here
        for it in (DebitItem.objects.select_for_update(of=("self",)).filter(reference__in=refs[start:start + 900])
                   .select_related("batch").defer("batch__content")):  # not the whole file once per row
            if it.batch.bank_code == bank_code:
                items[it.reference] = it
    good: list[tuple[DebitItem, PaymentIn]] = []
    failed: list[tuple[DebitItem, str, str]] = []
    seen: set[str] = set()
    for line, row in parsed.rows:
        ref = row.get("reference", "")
        item = items.get(ref)
        if item is None:
            report.errors.append(RowError(line, "reference", f"no debit item {ref!r} was sent to {bank_code}"))
            continue
        try:
            amount = amount_fen_of(row)
        except ValidationFailed as exc:
            report.errors.append(RowError(line, exc.field, exc.message))
            continue
        if amount != item.amount_fen:
            report.errors.append(RowError(line, exc_field(row), f"amount {amount} fen differs from the "
                                                                 f"{item.amount_fen} fen requested"))
            continue
        if ref in seen or item.status != DebitItem.Status.PENDING:
            report.duplicates += 1
            continue
        seen.add(ref)
        code = row.get("status", "")
        if code in layout.success_codes:
            received = datetime.combine(item.batch.business_date, datetime.min.time(), tzinfo=BUSINESS_TZ)
            good.append((item, PaymentIn(account_id=item.account_id, amount_fen=amount, channel=Channel.BANK_DEBIT,
                                         method=Payment.Method.DEBIT, source=bank_code, received_at=received,
                                         external_ref=item.reference, idempotency_key=f"debit:{item.reference}",
                                         business_date=local_date(as_of), description=f"批扣 {bank_code}")))
        else:
            failed.append((item, code[:16], row.get("message", "")[:128]))
    posted = payments_post_many(items=[p for _, p in good], as_of=as_of, actor=actor)
    for (item, _), result in zip(good, posted, strict=True):
        item.status = DebitItem.Status.SUCCEEDED
        item.payment = result.payment
        item.result_code = "ok"
        if result.created:
            report.posted += 1
            report.posted_fen += result.payment.amount_fen
        else:
            report.duplicates += 1
    for item, code, message in failed:
        item.status = DebitItem.Status.FAILED
        item.result_code = code
        item.result_message = message
    execute_many(f"UPDATE {qn(DebitItem)} SET status = %s, payment_id = %s, result_code = %s, result_message = %s "
                 "WHERE id = %s", [(i.status, i.payment_id, i.result_code, i.result_message, i.pk)
                                   for i in [i for i, _ in good] + [i for i, _, _ in failed]])
    report.failed = len(failed)
    batches = {item.batch_id for item, _ in good} | {item.batch_id for item, _, _ in failed}
    for batch in DebitBatch.objects.filter(pk__in=batches):
        if not batch.items.filter(status=DebitItem.Status.PENDING).exists():
            batch.status = DebitBatch.Status.SETTLED
            batch.save(update_fields=["status"])
    report.errors.sort(key=lambda e: e.line)
    return _finish(record, report)


def exc_field(row: dict) -> str:
    return "amount_fen" if "amount_fen" in row else "amount_yuan"


# -- agency files ----------------------------------------------------------------------------------------
@transaction.atomic
def agency_file_import(*, agency_code: str, content: bytes, file_name: str, as_of: datetime,
                       actor: User | None = None) -> ImportReport:
    """Post what an agency (代收) collected (see module doc for bad input)."""
    require(actor, CAPABILITY)
    layout = payments_policy().agency(agency_code).file
    parsed = parse_file(layout, content)
    record = _register("agency", agency_code, content, file_name, actor, as_of)
    report = ImportReport(rows=len(parsed.rows) + len(parsed.errors), errors=list(parsed.errors))
    numbers = {row.get("account_number", "") for _, row in parsed.rows}
    accounts = dict(Account.objects.filter(number__in=numbers).values_list("number", "pk"))
    references = {row.get("payment_reference", "") for _, row in parsed.rows} - {""}
    charges = {(c.account_id, c.payment_reference): c.pk for c in Charge.objects.filter(
        payment_reference__in=references, kind=Charge.Kind.BILL)} if references else {}
    already = set(Payment.objects.filter(source=agency_code, external_ref__in=[r.get("txn_ref", "")
                                                                               for _, r in parsed.rows])
                  .values_list("external_ref", flat=True))
    good: list[PaymentIn] = []
    seen: set[str] = set()
    for line, row in parsed.rows:
        errors = []
        txn = row.get("txn_ref", "")
        if not txn or len(txn) > 64:
            errors.append(RowError(line, "txn_ref", "the transaction reference is empty or longer than 64"))
        account_id = accounts.get(row.get("account_number", ""))
        if account_id is None:
            errors.append(RowError(line, "account_number", f"unknown account {row.get('account_number', '')!r}"))
        try:
            amount = amount_fen_of(row)
        except ValidationFailed as exc:
            errors.append(RowError(line, exc.field, exc.message))
            amount = 0
        try:
            paid_at = datetime_of(row.get("paid_at", ""), layout.datetime_format, field="paid_at", tz=BUSINESS_TZ)
        except ValidationFailed as exc:
            errors.append(RowError(line, exc.field, exc.message))
            paid_at = None
        if paid_at is not None and paid_at > as_of:
            errors.append(RowError(line, "paid_at", "the payment time is in the future"))
        first = None
        ref = row.get("payment_reference", "")
        if ref and account_id is not None:
            first = charges.get((account_id, ref))
            if first is None:
                errors.append(RowError(line, "payment_reference", f"no bill {ref!r} on account "
                                                                  f"{row.get('account_number')}"))
        if errors:
            report.errors.extend(errors)
            continue
        if txn in already or txn in seen:
            report.duplicates += 1
            continue
        seen.add(txn)
        good.append(PaymentIn(account_id=account_id, amount_fen=amount, channel=Channel.AGENCY,
                              method=Payment.Method.TRANSFER, source=agency_code, received_at=paid_at,
                              external_ref=txn, idempotency_key=f"agency:{agency_code}:{txn}",
                              first_charge_id=first, description=f"代收 {agency_code}"))
    for result in payments_post_many(items=good, as_of=as_of, actor=actor):
        if result.created:
            report.posted += 1
            report.posted_fen += result.payment.amount_fen
        else:
            report.duplicates += 1
    report.errors.sort(key=lambda e: e.line)
    return _finish(record, report)


def file_preview_errors(*, kind: str, code: str, content: bytes) -> list[RowError]:
    """Parse-level problems only (no database), for a quick check before import."""
    policy = payments_policy()
    layout = policy.bank(code).result_file if kind == "debit_result" else policy.agency(code).file
    try:
        return parse_file(layout, content).errors
    except FileInvalid as exc:
        return [RowError(0, exc.field, exc.message)]
