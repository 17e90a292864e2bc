"""Reconciliation writes: import a statement and match it, close a business day, resolve a
discrepancy. One transaction per public function; every function takes `as_of`.

Every discrepancy opens a supervision work order (督办工单) through the service desk's public
`work_order_create`, in the same transaction as the discrepancy, so there is never a problem
without its order or an order without its problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from gridcare.access.models import User
from gridcare.access.roles import can
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from gridcare.core.money import format_yuan
from gridcare.customers.models import Account
from gridcare.payments.fileformats import RowError
from gridcare.payments.models import CheckoutIntent, DebitItem, Payment
from gridcare.reconciliation import matching
from gridcare.reconciliation.models import DailyReport, Discrepancy, LineStatus, Statement, StatementLine
from gridcare.reconciliation.policy import StatementSource, reconciliation_policy
from gridcare.reconciliation.statements import ParsedLine, parse_statement
from gridcare.service.models import WorkOrder
from gridcare.service.services import work_order_open, work_order_resolve

CAPABILITY = "payments.approve"
_CHUNK = 900  # keeps IN (...) lists under SQLite's variable limit
REASON_KIND = {
    "amount": Discrepancy.Kind.AMOUNT, "date": Discrepancy.Kind.DATE, "reversed": Discrepancy.Kind.REVERSED,
    "already_matched": Discrepancy.Kind.DUPLICATE, "duplicate_in_statement": Discrepancy.Kind.DUPLICATE,
    "ambiguous": Discrepancy.Kind.AMBIGUOUS,
}


class StatementRejected(ValidationFailed):
    """One or more rows are malformed: the whole statement is refused and nothing is written."""

    code = "statement_invalid"

    def __init__(self, message: str, *, errors: Iterable[RowError]) -> None:
        super().__init__(message, field="file")
        self.errors = tuple(errors)

    def as_dict(self) -> dict:
        return {**super().as_dict(), "errors": [e.as_dict() for e in self.errors[:200]]}


class UnableToResolveDiscrepancy(ValidationFailed):
    code = "unable_to_resolve"


def _require(actor: User | None) -> None:
    if actor is not None and (not actor.is_active or not can(actor.role, CAPABILITY)):
        raise PermissionDenied(_("your role may not reconcile statements (%(capability)s)") % {"capability": CAPABILITY})


# -- candidates -----------------------------------------------------------------------------------
def _chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i: i + size]


def payment_keys(payment_ids: list[int]) -> list[tuple[int, str]]:
    """Every reference a payment can be found by: its external reference, receipt number, the
    debit item it settled and the portal checkout it paid."""
    out: list[tuple[int, str]] = []
    for chunk in _chunks(payment_ids):
        for pid, ref, receipt in Payment.objects.filter(pk__in=chunk).values_list("pk", "external_ref",
                                                                                 "receipt_number"):
            out.extend((pid, k) for k in (ref, receipt) if k)
        out.extend(DebitItem.objects.filter(payment_id__in=chunk).values_list("payment_id", "reference"))
        out.extend(CheckoutIntent.objects.filter(payment_id__in=chunk).values_list("payment_id", "number"))
    return out


def _payment_ids_by_keys(keys: set[str], covers: tuple[str, ...]) -> set[int]:
    ids: set[int] = set()
    key_list = sorted(k for k in keys if k)
    base = Payment.objects.filter(source__in=covers)
    for chunk in _chunks(key_list):
        ids.update(base.filter(Q(external_ref__in=chunk) | Q(receipt_number__in=chunk)).values_list("pk", flat=True))
        ids.update(DebitItem.objects.filter(reference__in=chunk, payment__source__in=covers, payment__isnull=False)
                   .values_list("payment_id", flat=True))
        ids.update(CheckoutIntent.objects.filter(number__in=chunk, payment__source__in=covers, payment__isnull=False)
                   .values_list("payment_id", flat=True))
    return ids


def _candidates(source: StatementSource, lines: list[ParsedLine], tolerance: int) -> matching.MatchInput:
    policy = reconciliation_policy()
    first = min(line.value_date for line in lines) - timedelta(days=tolerance)
    last = max(line.value_date for line in lines) + timedelta(days=tolerance)
    keys: set[str] = set()
    line_keys = []
    for line in lines:
        for priority, name in enumerate(source.match_fields):
            value = getattr(line, name)
            if value:
                keys.add(value)
                line_keys.append({"line_id": line.line_no, "key": value, "priority": priority})
    ids = set(Payment.objects.filter(source__in=source.covers, business_date__gte=first, business_date__lte=last)
              .values_list("pk", flat=True))
    ids |= _payment_ids_by_keys(keys, source.covers)
    id_list = sorted(ids)
    reconciled: set[int] = set()
    rows = []
    for chunk in _chunks(id_list):
        reconciled.update(StatementLine.objects.filter(payment_id__in=chunk, status__in=(
            LineStatus.MATCHED, LineStatus.MISMATCHED)).values_list("payment_id", flat=True))
        rows.extend(Payment.objects.filter(pk__in=chunk).values_list("pk", "account__number", "amount_fen",
                                                                     "business_date", "status"))
    payments = [{"payment_id": pid, "account_number": number or "", "amount_fen": amount, "business_date": day,
                 "reversed": status == Payment.Status.REVERSED, "already_matched": pid in reconciled}
                for pid, number, amount, day, status in rows]
    return matching.MatchInput(
        lines=matching.frame(({"line_id": line.line_no, "account_number": line.account_number,
                               "amount_fen": line.amount_fen, "value_date": line.value_date} for line in lines),
                             matching.LINES_SCHEMA),
        line_keys=matching.frame(line_keys, matching.LINE_KEYS_SCHEMA),
        payments=matching.frame(payments, matching.PAYMENTS_SCHEMA),
        payment_keys=matching.frame(({"payment_id": p, "key": k} for p, k in payment_keys(id_list)),
                                    matching.PAYMENT_KEYS_SCHEMA),
        tolerance_days=tolerance, fallback=policy.fallback,
    )


# -- supervision orders ---------------------------------------------------------------------------
def _supervise(discrepancy: Discrepancy, *, as_of: datetime) -> None:
    policy = reconciliation_policy()
    if not policy.supervision_enabled:
        return
    label = Discrepancy.Kind(discrepancy.kind).label
    account = discrepancy.account.number if discrepancy.account_id else ""
    parts = [f"对账异常督办：{label}", f"来源 {discrepancy.source}", f"业务日期 {discrepancy.business_date}",
             f"户号 {account or '-'}", f"金额 {format_yuan(discrepancy.amount_fen)} 元"]
    if discrepancy.difference_fen:
        parts.append(f"差额 {format_yuan(discrepancy.difference_fen)} 元")
    if discrepancy.line_id:
        parts.append(f"对账单流水 {discrepancy.line.txn_ref}（第 {discrepancy.line.line_no} 行）")
    if discrepancy.payment_id:
        parts.append(f"缴费记录 #{discrepancy.payment_id}")
    parts.append(discrepancy.description)
    # The desk's internal door: idempotent per discrepancy key, and on the `system` channel, which
    # the repeated-contact rule does not count (ten problems of one customer are not ten calls).
    opened = work_order_open(
        origin="reconciliation", external_ref=discrepancy.key, channel=policy.supervision_channel,
        category=policy.supervision_category, account_number=account,
        subject=f"对账异常督办：{label}（{discrepancy.source} {discrepancy.business_date}）"[:200],
        description="；".join(parts), as_of=as_of,
    )
    discrepancy.work_order = opened.work_order
    discrepancy.save(update_fields=["work_order"])


def _close_order(discrepancy: Discrepancy, *, text: str, as_of: datetime) -> None:
    order = discrepancy.work_order
    if order is not None and order.status in WorkOrder.OPEN_STATUSES:
        work_order_resolve(actor=None, number=order.number, resolution=text, as_of=as_of)


def _open(*, key: str, kind: str, source: str, business_date: date, amount_fen: int, description: str,
          as_of: datetime, line: StatementLine | None = None, payment_id: int | None = None,
          account_id: int | None = None, difference_fen: int = 0) -> Discrepancy | None:
    if Discrepancy.objects.filter(key=key).exists():
        return None
    discrepancy = Discrepancy.objects.create(
        key=key, kind=kind, source=source, business_date=business_date, line=line, payment_id=payment_id,
        account_id=account_id, amount_fen=amount_fen, difference_fen=difference_fen,
        description=description[:255], detected_at=as_of,
    )
    _supervise(discrepancy, as_of=as_of)
    return discrepancy


def _auto_resolve_missing(payment_ids: Iterable[int], *, as_of: datetime) -> int:
    found = list(Discrepancy.objects.select_related("work_order").filter(
        kind=Discrepancy.Kind.MISSING, status=Discrepancy.Status.OPEN, payment_id__in=list(payment_ids)))
    for discrepancy in found:
        discrepancy.status = Discrepancy.Status.RESOLVED
        discrepancy.resolution = Discrepancy.Resolution.AUTO_MATCHED
        discrepancy.resolution_note = "a later statement shows the money"
        discrepancy.resolved_at = as_of
        discrepancy.save(update_fields=["status", "resolution", "resolution_note", "resolved_at"])
        _close_order(discrepancy, text="后续对账单已到账，自动核销", as_of=as_of)
    return len(found)


# -- import ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportResult:
    statement: Statement | None
    created: bool
    lines: int = 0
    skipped: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    discrepancies: int = 0
    resolved_missing: int = 0
    dry_run: bool = False

    @property
    def auto_rate(self) -> Decimal | None:
        counted = self.lines - self.skipped
        return Decimal(self.counts.get(LineStatus.MATCHED, 0)) / Decimal(counted) if counted else None


class _DryRun(Exception):
    def __init__(self, result: ImportResult) -> None:
        self.result = result


def _description(status: str, reason: str, line: ParsedLine, payment: dict | None) -> str:
    if status == LineStatus.UNMATCHED:
        return ("参考号对应多笔缴费，无法自动对账" if reason == "ambiguous"
                else "对账单有到账，系统无对应缴费记录")
    assert payment is not None
    texts = {
        "amount": f"到账 {format_yuan(line.amount_fen)} 元，缴费记录 {format_yuan(payment['amount_fen'])} 元",
        "date": f"到账日期 {line.value_date}，缴费日期 {payment['business_date']}，超出容差",
        "reversed": "缴费已冲正，但对账单仍有到账",
        "already_matched": "该缴费已由此前的对账单核对，本行为重复扣费",
        "duplicate_in_statement": "同一缴费在对账单中出现多次（重复扣费）",
    }
    return texts.get(reason, reason)


def _import(*, source: StatementSource, parsed_lines: list[ParsedLine], sha256: str, file_name: str,
            actor: User | None, as_of: datetime) -> ImportResult:
    policy = reconciliation_policy()
    known = set()
    refs = [line.txn_ref for line in parsed_lines]
    for chunk in _chunks(refs):
        known.update(StatementLine.objects.filter(source=source.code, txn_ref__in=chunk)
                     .values_list("txn_ref", flat=True))
    fresh = [line for line in parsed_lines if line.txn_ref not in known]
    statement = Statement.objects.create(
        source=source.code, kind=source.kind, file_name=file_name[:200], sha256=sha256,
        first_date=min(line.value_date for line in parsed_lines), last_date=max(line.value_date for line in parsed_lines),
        lines_total=len(parsed_lines), lines_skipped=len(parsed_lines) - len(fresh),
        total_fen=sum(line.amount_fen for line in parsed_lines), imported_at=as_of, imported_by=actor,
    )
    counts = {s: 0 for s in LineStatus.values}
    if not fresh:
        return ImportResult(statement=statement, created=True, lines=len(parsed_lines), skipped=len(parsed_lines),
                            counts=counts)
    data = _candidates(source, fresh, policy.tolerance_days)
    result = matching.match(data)
    payments = {row["payment_id"]: row for row in data.payments.iter_rows(named=True)}
    accounts_by_payment: dict[int, int] = {}
    for chunk in _chunks(result["payment_id"].drop_nulls().unique().to_list()):
        accounts_by_payment.update(Payment.objects.filter(pk__in=chunk).values_list("pk", "account_id"))
    numbers = {line.account_number for line in fresh if line.account_number}
    accounts_by_number: dict[str, int] = {}
    for chunk in _chunks(sorted(numbers)):
        accounts_by_number.update(Account.objects.filter(number__in=chunk).values_list("number", "pk"))
    by_no = {line.line_no: line for line in fresh}
    rows = []
    for line_no, payment_id, status, method, reason in result.iter_rows():
        line = by_no[line_no]
        account_id = accounts_by_payment.get(payment_id) or accounts_by_number.get(line.account_number)
        auto = status == LineStatus.MATCHED
        rows.append(StatementLine(
            statement=statement, source=source.code, line_no=line_no, txn_ref=line.txn_ref, reference=line.reference,
            account_number=line.account_number, payer_name=line.payer_name, amount_fen=line.amount_fen,
            value_date=line.value_date, paid_at=line.paid_at, status=status, method=method, reason=reason,
            payment_id=payment_id, account_id=account_id, auto=auto, matched_at=as_of if auto else None,
        ))
        counts[status] += 1
    created = StatementLine.objects.bulk_create(rows, batch_size=1000)
    if any(r.pk is None for r in created):  # pragma: no cover - backends without RETURNING
        created = list(StatementLine.objects.filter(statement=statement))
    discrepancies = 0
    for row in created:
        if row.status == LineStatus.MATCHED:
            continue
        kind = Discrepancy.Kind.UNRECORDED if row.status == LineStatus.UNMATCHED and not row.reason \
            else REASON_KIND[row.reason]
        payment = payments.get(row.payment_id) if row.payment_id else None
        parsed = by_no[row.line_no]
        difference = row.amount_fen - payment["amount_fen"] if payment and kind == Discrepancy.Kind.AMOUNT else 0
        if _open(key=f"line:{row.pk}", kind=kind, source=source.code, business_date=row.value_date,
                 amount_fen=row.amount_fen, description=_description(row.status, row.reason, parsed, payment),
                 as_of=as_of, line=row, payment_id=row.payment_id, account_id=row.account_id,
                 difference_fen=difference):
            discrepancies += 1
    statement.matched = counts[LineStatus.MATCHED]
    statement.mismatched = counts[LineStatus.MISMATCHED]
    statement.duplicates = counts[LineStatus.DUPLICATE]
    statement.unmatched = counts[LineStatus.UNMATCHED]
    statement.save(update_fields=["matched", "mismatched", "duplicates", "unmatched"])
    reconciled = [r.payment_id for r in created if r.payment_id and r.status in (LineStatus.MATCHED,
                                                                                 LineStatus.MISMATCHED)]
    resolved = _auto_resolve_missing(reconciled, as_of=as_of)
    return ImportResult(statement=statement, created=True, lines=len(parsed_lines),
                        skipped=len(parsed_lines) - len(fresh), counts=counts, discrepancies=discrepancies,
                        resolved_missing=resolved)


def statement_import(*, source: str, content: bytes, file_name: str, actor: User | None, as_of: datetime,
                     kind: str | None = None, dry_run: bool = False) -> ImportResult:
    """Import one statement file and match it against our payments.

    The same file again returns its first import (created=False) and changes nothing; a
    transaction already seen in an earlier file of the same source is skipped. Raises
    NotFound(source), FileInvalid (unreadable file), StatementRejected (row errors, nothing
    written), PermissionDenied, Conflict (a concurrent import of the same source).
    """
    _require(actor)
    spec = reconciliation_policy().source(source, kind=kind)
    parsed = parse_statement(spec, content, tz=BUSINESS_TZ)
    if not parsed.ok:
        raise StatementRejected(_("%(n)s row error(s); nothing was imported") % {"n": len(parsed.errors)},
                                errors=parsed.errors)
    existing = Statement.objects.filter(source=spec.code, sha256=parsed.sha256).first()
    if existing is not None:
        return ImportResult(statement=existing, created=False, lines=existing.lines_total,
                            skipped=existing.lines_total)
    for attempt in range(3):
        try:
            with transaction.atomic():
                result = _import(source=spec, parsed_lines=parsed.lines, sha256=parsed.sha256, file_name=file_name,
                                 actor=actor, as_of=as_of)
                if dry_run:
                    raise _DryRun(result)
            break
        except _DryRun as stop:
            r = stop.result
            return ImportResult(statement=None, created=False, lines=r.lines, skipped=r.skipped, counts=r.counts,
                                discrepancies=r.discrepancies, dry_run=True)
        except IntegrityError:
            # A concurrent import committed the same file, the same transactions or a match of the
            # same payment between our reads and our writes. Its rows are visible now: the same file
            # is returned as is, anything else is matched again against them.
            existing = Statement.objects.filter(source=spec.code, sha256=parsed.sha256).first()
            if existing is not None:
                return ImportResult(statement=existing, created=False, lines=existing.lines_total,
                                    skipped=existing.lines_total)
            if attempt == 2:
                raise Conflict(_("another import of %(source)s statements ran at the same time; import again")
                               % {"source": spec.code}, field="file") from None
    return result


# -- closing a day --------------------------------------------------------------------------------
def _day_figures(business_date: date) -> dict:
    policy = reconciliation_policy()
    out: dict = {"business_date": business_date.isoformat(), "sources": {}, "statements_missing": []}
    totals = {"lines": 0, "auto": 0, "missing": 0}
    for code, source in sorted(policy.sources.items()):
        statements = Statement.objects.filter(source=code, first_date__lte=business_date, last_date__gte=business_date)
        lines = StatementLine.objects.filter(source=code, value_date=business_date)
        by_status = {s: {"count": 0, "amount_fen": 0} for s in LineStatus.values}
        for status, count, amount in _grouped(lines):
            by_status[status] = {"count": count, "amount_fen": amount}
        payments = Payment.objects.filter(source__in=source.covers, business_date=business_date,
                                          status=Payment.Status.POSTED)
        paid_count = payments.count()
        paid_fen = sum(payments.values_list("amount_fen", flat=True))
        missing = Discrepancy.objects.filter(kind=Discrepancy.Kind.MISSING, source=code, business_date=business_date)
        auto = lines.filter(status=LineStatus.MATCHED, auto=True).count()
        total_lines = sum(v["count"] for v in by_status.values())
        has_statement = statements.exists()
        if not has_statement and paid_count:
            out["statements_missing"].append(code)
        out["sources"][code] = {
            "name": source.name, "kind": source.kind, "statement": has_statement, "lines": by_status,
            "payments": {"count": paid_count, "amount_fen": paid_fen},
            "missing": missing.count(), "auto_matched": auto, "total_lines": total_lines,
            "open_discrepancies": Discrepancy.objects.filter(source=code, business_date=business_date,
                                                             status=Discrepancy.Status.OPEN).count(),
        }
        totals["lines"] += total_lines
        totals["auto"] += auto
        totals["missing"] += missing.count()
    denominator = totals["lines"] + totals["missing"]
    rate = (Decimal(totals["auto"]) / Decimal(denominator)).quantize(Decimal("0.0001")) if denominator else None
    out["totals"] = {**totals, "auto_rate": str(rate) if rate is not None else None}
    return out


def _grouped(lines) -> list[tuple[str, int, int]]:
    return [(r["status"], r["n"], r["fen"] or 0) for r in lines.values("status").annotate(n=Count("id"),
                                                                                           fen=Sum("amount_fen"))]


@transaction.atomic
def reconciliation_day_close(*, business_date: date, actor: User | None, as_of: datetime) -> DailyReport:
    """Close a business day: every payment of the day, through a source whose statement covers the
    day, that no statement line has shown becomes a 资金未到账 discrepancy (with its work order);
    then the day's report is (re)built. Safe to run again: known discrepancies are not reopened."""
    _require(actor)
    policy = reconciliation_policy()
    for code, source in policy.sources.items():
        if not Statement.objects.filter(source=code, first_date__lte=business_date,
                                        last_date__gte=business_date).exists():
            continue
        reconciled = StatementLine.objects.filter(status__in=(LineStatus.MATCHED, LineStatus.MISMATCHED),
                                                  payment__isnull=False).values("payment_id")
        unseen = (Payment.objects.filter(source__in=source.covers, business_date=business_date,
                                         status=Payment.Status.POSTED)
                  .exclude(pk__in=reconciled).select_related("account").order_by("pk"))
        for payment in unseen:
            _open(key=f"missing:{payment.pk}", kind=Discrepancy.Kind.MISSING, source=code,
                  business_date=business_date, amount_fen=payment.amount_fen, payment_id=payment.pk,
                  account_id=payment.account_id, difference_fen=-payment.amount_fen, as_of=as_of,
                  description=f"缴费记录 #{payment.pk}（{payment.channel}/{payment.source} {payment.external_ref}）"
                              f"在对账单中未到账")
    report, _created = DailyReport.objects.update_or_create(
        business_date=business_date,
        defaults={"data": _day_figures(business_date), "generated_at": as_of, "generated_by": actor},
    )
    return report


# -- resolving ------------------------------------------------------------------------------------
@transaction.atomic
def discrepancy_resolve(*, actor: User, discrepancy_id: int, resolution: str, note: str, as_of: datetime,
                        payment_id: int | None = None, line_id: int | None = None) -> Discrepancy:
    """Close a discrepancy. `matched_manually` links the statement line and the payment (a
    human match, which does not count as automatic); the other resolutions need a note.
    The supervision work order is resolved with the same text."""
    _require(actor)
    if actor is None:
        raise PermissionDenied(_("a person resolves discrepancies"))
    discrepancy = (Discrepancy.objects.select_for_update(of=("self",)).select_related("line", "work_order")
                   .filter(pk=discrepancy_id).first())
    if discrepancy is None:
        raise NotFound(_("discrepancy %(id)s not found") % {"id": discrepancy_id}, field="discrepancy_id")
    if discrepancy.status != Discrepancy.Status.OPEN:
        raise UnableToResolveDiscrepancy(_("the discrepancy is already resolved"), field="status")
    choices = [c for c in Discrepancy.Resolution.values if c != Discrepancy.Resolution.AUTO_MATCHED]
    if resolution not in choices:
        raise ValidationFailed(_("%(value)r is not one of %(choices)s") % {"value": resolution, "choices": ", ".join(choices)},
                               field="resolution")
    note = (note or "").strip()
    if len(note) > 255:
        raise ValidationFailed(_("note is longer than 255 characters"), field="note")
    if resolution != Discrepancy.Resolution.MATCHED_MANUALLY and not note:
        raise ValidationFailed(_("say what was done"), field="note")
    policy = reconciliation_policy()
    source = policy.source(discrepancy.source)
    others: list[Discrepancy] = []
    if resolution == Discrepancy.Resolution.MATCHED_MANUALLY:
        if discrepancy.kind in (Discrepancy.Kind.UNRECORDED, Discrepancy.Kind.AMBIGUOUS):
            line = discrepancy.line
            payment = Payment.objects.filter(pk=payment_id or 0, source__in=source.covers).first()
            if payment is None:
                raise ValidationFailed(_("payment %(id)s is not a payment of %(source)s") % {"id": payment_id, "source": source.code},
                                       field="payment_id")
        elif discrepancy.kind == Discrepancy.Kind.MISSING:
            payment = Payment.objects.get(pk=discrepancy.payment_id)
            line = StatementLine.objects.select_for_update().filter(
                pk=line_id or 0, source=discrepancy.source, status=LineStatus.UNMATCHED).first()
            if line is None:
                raise ValidationFailed(_("line %(id)s is not an unmatched line of %(source)s") % {"id": line_id, "source": source.code},
                                       field="line_id")
        else:
            raise UnableToResolveDiscrepancy(_("a %(kind)s discrepancy is not matched by hand") % {"kind": discrepancy.get_kind_display()},
                                             field="resolution")
        if StatementLine.objects.filter(payment=payment, status__in=(LineStatus.MATCHED,
                                                                     LineStatus.MISMATCHED)).exists():
            raise ValidationFailed(_("payment %(id)s is already reconciled") % {"id": payment.pk}, field="payment_id")
        if payment.amount_fen != line.amount_fen:
            raise ValidationFailed(_("amounts differ: statement %(line)s, payment %(payment)s") % {
                "line": format_yuan(line.amount_fen), "payment": format_yuan(payment.amount_fen)}, field="payment_id")
        line.status, line.method, line.reason = LineStatus.MATCHED, "manual", ""
        line.payment, line.account_id, line.auto = payment, payment.account_id, False
        line.matched_at, line.matched_by = as_of, actor
        line.save(update_fields=["status", "method", "reason", "payment", "account", "auto", "matched_at",
                                 "matched_by"])
        note = note or f"statement line {line.txn_ref} ↔ payment #{payment.pk}"
        others = list(Discrepancy.objects.select_for_update().filter(
            Q(line=line) | Q(kind=Discrepancy.Kind.MISSING, payment=payment), status=Discrepancy.Status.OPEN)
            .exclude(pk=discrepancy.pk))
    for item in [discrepancy, *others]:
        item.status = Discrepancy.Status.RESOLVED
        item.resolution = resolution
        item.resolution_note = note[:255]
        item.resolved_at = as_of
        item.resolved_by = actor
        item.save(update_fields=["status", "resolution", "resolution_note", "resolved_at", "resolved_by"])
        _close_order(item, text=f"{Discrepancy.Resolution(resolution).label!s}：{note}", as_of=as_of)
    return discrepancy

