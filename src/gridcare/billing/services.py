"""Writes of the billing app: runs, audit actions, approval (two-person rule), issue, corrections,
period close and bill delivery. Each public function is one transaction, except the run executor,
which commits one transaction per chunk of accounts so a killed run resumes where it stopped.

Errors raised: UnableToStartRun, UnableToApproveBills, UnableToIssueBills, UnableToModifyIssuedBill,
UnableToResolveException, UnableToCorrectBill, UnableToClosePeriod, UnableToIssueAdjustment,
PermissionDenied, NotFound.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import polars as pl
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils.translation import gettext as _

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import can
from gridcare.access.services import audit_record
from gridcare.billing.config import RULE_CODES, AuditConfig, build_config
from gridcare.billing.models import (
    AuditRule,
    Bill,
    BillDelivery,
    BillException,
    BillingRun,
    BillingRunSkip,
    BillLine,
    BillRead,
)
from gridcare.billing.pipeline import BillSpec, ChunkOutcome, bill_accounts, refresh_statistics
from gridcare.billing.signals import bills_issued
from gridcare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from gridcare.core.money import fen_to_yuan
from gridcare.core.periods import month_period
from gridcare.customers.models import Account, OrgUnit
from gridcare.metering.calendar import calendar_map, period_bounds
from gridcare.metering.models import BillingPeriod, MeterRead
from gridcare.metering.services import billing_period_close as metering_period_close
from gridcare.metering.services import billing_periods_for_scope
from gridcare.tariffs.selectors import schedule_set
from gridcare.tariffs.services import tariff_library_sync

logger = logging.getLogger("gridcare.billing")


class UnableToStartRun(Conflict):
    code = "unable_to_start_run"


class UnableToApproveBills(Conflict):
    code = "unable_to_approve_bills"


class UnableToIssueBills(Conflict):
    code = "unable_to_issue_bills"


class UnableToModifyIssuedBill(Conflict):
    code = "bill_issued"


class UnableToResolveException(Conflict):
    code = "unable_to_resolve_exception"


class UnableToCorrectBill(Conflict):
    code = "unable_to_correct_bill"


class UnableToClosePeriod(Conflict):
    code = "unable_to_close_period"


class UnableToIssueAdjustment(Conflict):
    code = "unable_to_issue_adjustment"


def _user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.pk else None


def _require_scope(actor: User, run: BillingRun) -> None:
    """A staff member with an org unit acts only on runs inside their subtree."""
    if actor.org_unit_id is None:
        return
    if run.org_unit_id is None or not run.org_unit.path.startswith(actor.org_unit.path):
        raise PermissionDenied(_("run %(run)s is outside your org unit") % {"run": run.pk}, field="run_id")


def _require(actor: User | None, capability: str) -> None:
    if actor is None or not can(actor.role, capability):
        raise PermissionDenied(_("this needs the %(capability)s capability") % {"capability": capability}, field="actor")


# --------------------------------------------------------------------------------------------------
# Audit configuration
# --------------------------------------------------------------------------------------------------


def audit_config(*, chunk_size: int | None = None) -> AuditConfig:
    overrides = {r.code: (r.enabled, r.params) for r in AuditRule.objects.all()}
    sampling = overrides.pop("sampling", None)
    rate = None
    if sampling is not None:
        rate = str(sampling[1].get("rate", "0")) if sampling[0] else "0"
    return build_config(overrides, sample_rate=rate, chunk_size=chunk_size)


def _checked_params(code: str, params: dict) -> dict:
    """Only the rule's own parameters, each a non-negative number (per-category maps of them too),
    so a bad value is refused here instead of failing the next billing run."""
    from gridcare.billing.config import default_rules

    spec = default_rules()[code]
    out: dict = {}
    for name, value in (params or {}).items():
        if name == "enabled" or name not in spec:
            raise ValidationFailed(_("%(rule)s has no parameter %(name)s") % {"rule": code, "name": name}, field=f"params.{name}")
        if isinstance(spec[name], dict):
            if not isinstance(value, dict):
                raise ValidationFailed(_("%(name)s must be a mapping") % {"name": name}, field=f"params.{name}")
            out[name] = {str(k): _number(v, f"params.{name}.{k}") for k, v in value.items()}
        else:
            out[name] = _number(value, f"params.{name}")
    return out


def _number(value: object, field: str) -> str:
    try:
        number = Decimal(str(value).strip())
    except Exception:
        raise ValidationFailed(_("%(value)s is not a number") % {"value": value}, field=field) from None
    if not number.is_finite() or number < 0:
        raise ValidationFailed(_("must be a non-negative number"), field=field)
    return str(value).strip()


@transaction.atomic
def audit_rule_set(*, code: str, enabled: bool, params: dict, actor: User | None, as_of: datetime) -> AuditRule:
    """Switch an audit rule on or off or change its parameters (or `sampling` with {"rate": "0.05"})."""
    _require(actor, "billing.audit")
    if code not in (*RULE_CODES, "sampling"):
        raise ValidationFailed(_("unknown audit rule %(rule)s") % {"rule": code}, field="code")
    if code == "sampling":
        try:
            rate = Decimal(str(params.get("rate", "")))
        except Exception:
            raise ValidationFailed(_("the sampling rate must be a number"), field="params.rate") from None
        if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
            raise ValidationFailed(_("the sampling rate must be between 0 and 1"), field="params.rate")
    else:
        params = _checked_params(code, params)
    rule, _created = AuditRule.objects.update_or_create(
        code=code, defaults={"enabled": enabled, "params": params, "updated_at": as_of, "updated_by": _user(actor)})
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="audit_rule", object_id=code,
                 summary=f"audit rule {code}: {'on' if enabled else 'off'} {params}"[:255], at=as_of)
    return rule


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


def _scope_accounts(run: BillingRun) -> Q:
    start, end = period_bounds(run.period_code, 1)
    # Every calendar's period lies within a month and a month after the month start.
    q = Q(opened_on__lt=end + timedelta(days=31)) & (~Q(status=Account.Status.CLOSED) | Q(closed_on__gte=start))
    if run.org_unit_id is not None:
        q &= Q(org_unit__path__startswith=run.org_unit.path)
    return q


def _candidates(run: BillingRun):
    # An adjustment (退补) bill filed under the period is not the period's bill.
    has_bill = Bill.objects.filter(account=OuterRef("pk"), period_code=run.period_code).exclude(
        kind=Bill.Kind.ADJUSTMENT)
    return Account.objects.filter(_scope_accounts(run)).filter(~Exists(has_bill))


@transaction.atomic
def billing_run_start(*, period_code: str, org_unit: OrgUnit | None, actor: User | None, as_of: datetime,
                      chunk_size: int | None = None) -> BillingRun:
    """Open a run for the period and scope, or return the one still active (so a restart resumes it)."""
    month_period(period_code)
    if actor is not None and actor.pk and not can(actor.role, "billing.run"):
        raise PermissionDenied(_("this needs the %(capability)s capability") % {"capability": "billing.run"}, field="actor")
    if actor is not None and actor.pk and actor.org_unit_id is not None:
        # A staff member bills within their own subtree: "all" means all of theirs.
        if org_unit is None:
            org_unit = actor.org_unit
        elif not org_unit.path.startswith(actor.org_unit.path):
            raise PermissionDenied(_("%(unit)s is outside your org unit") % {"unit": org_unit.code}, field="org_unit")
    scope_key = org_unit.code if org_unit is not None else "*"
    active = BillingRun.objects.filter(period_code=period_code, scope_key=scope_key,
                                       status__in=BillingRun.ACTIVE).first()
    if active is not None:
        return active
    periods = billing_periods_for_scope(org_unit=org_unit, code=period_code, as_of=as_of)
    closed = [p for p in periods if p.status == BillingPeriod.Status.CLOSED]
    if closed:
        raise UnableToStartRun(_("period %(period)s is closed for %(unit)s") % {"period": period_code, "unit": closed[0].org_unit},
                               field="period")
    config = audit_config(chunk_size=chunk_size)
    run = BillingRun(period_code=period_code, org_unit=org_unit, scope_key=scope_key, chunk_size=config.chunk_size,
                     prepared_by=_user(actor), created_at=as_of, stats={})
    run.total_accounts = _candidates(run).count()
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        return BillingRun.objects.get(period_code=period_code, scope_key=scope_key, status__in=BillingRun.ACTIVE)
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="billing_run", object_id=run.pk,
                 summary=f"billing run {period_code} {scope_key}: {run.total_accounts} accounts", at=as_of)
    return run


ProgressFn = Callable[[BillingRun], None]


def _kill_hook(kill_after: int | None) -> Callable[[int], None] | None:
    """Test hook: SIGKILL this process inside the transaction of the chunk that reaches `kill_after`
    accounts, so tests can prove that a run killed at any point resumes to the same bills."""
    if not kill_after:
        return None
    done = {"n": 0}

    def hook(n: int) -> None:
        done["n"] += n
        if done["n"] >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def billing_run_execute(*, run_id: int, as_of: datetime, progress: ProgressFn | None = None,
                        kill_after: int | None = None) -> BillingRun:
    """Bill every candidate account of the run, one transaction per chunk, and mark it completed.

    Idempotent and resumable: accounts that already have a bill for the period are never billed
    again (and the unique (account, period, version, kind) constraint backs that up), and the run's
    cursor skips the accounts a committed chunk could not bill.
    """
    run = BillingRun.objects.select_related("org_unit").filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("billing run %(run)s not found") % {"run": run_id}, field="run_id")
    if run.status == BillingRun.Status.COMPLETED:
        return run
    tariff_library_sync(as_of=as_of)
    schedules = schedule_set()
    config = audit_config(chunk_size=run.chunk_size)
    hook = _kill_hook(kill_after)
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.RUNNING, stage="billing",
                                                started_at=run.started_at or as_of, heartbeat_at=as_of, error="")
    run.refresh_from_db()
    if progress:
        progress(run)
    try:
        while True:
            with transaction.atomic():
                run = BillingRun.objects.select_for_update(of=("self",)).select_related("org_unit").get(pk=run.pk)
                ids = list(_candidates(run).filter(pk__gt=run.cursor).order_by("pk").values_list("pk", flat=True)
                           [: run.chunk_size])
                if not ids:
                    break
                t0 = time.perf_counter()
                outcome = bill_accounts(
                    account_ids=ids,
                    spec=BillSpec(period_code=run.period_code, run_id=run.pk, prepared_by_id=run.prepared_by_id),
                    schedules=schedules, config=config, as_of=as_of,
                )
                _record_chunk(run, ids, outcome, time.perf_counter() - t0, as_of)
                if hook is not None:
                    hook(len(ids))
            if progress:
                progress(run)
    except Exception as exc:
        logger.exception("billing run %s failed", run.pk)
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.FAILED, error=str(exc)[:2000],
                                                    finished_at=as_of)
        raise
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run.pk)
        run.status = BillingRun.Status.COMPLETED
        run.stage = "done"
        run.finished_at = as_of
        run.total_accounts = max(run.total_accounts, run.processed_accounts)
        run.save(update_fields=["status", "stage", "finished_at", "total_accounts"])
        audit_record(actor=None, action=AuditEvent.Action.ACTION, object_type="billing_run", object_id=run.pk,
                     summary=f"run {run.period_code} completed: {run.billed_accounts} bills, "
                             f"{run.skipped_accounts} skipped", at=as_of)
    refresh_statistics(run.billed_accounts)
    if progress:
        progress(run)
    return run


def _record_chunk(run: BillingRun, ids: list[int], outcome: ChunkOutcome, seconds: float, as_of: datetime) -> None:
    stats = dict(run.stats or {})
    timings = dict(stats.get("seconds", {}))
    for stage, secs in outcome.timings.items():
        timings[stage] = round(timings.get(stage, 0.0) + secs, 3)
    stats["seconds"] = timings
    stats["exceptions"] = int(stats.get("exceptions", 0)) + outcome.exceptions
    stats["estimated_reads"] = int(stats.get("estimated_reads", 0)) + outcome.estimated_reads
    stats["chunks"] = int(stats.get("chunks", 0)) + 1
    run.cursor = max(ids)
    run.processed_accounts += len(ids)
    run.billed_accounts += outcome.billed
    run.skipped_accounts += outcome.skipped
    run.total_accounts = max(run.total_accounts, run.processed_accounts)
    run.heartbeat_at = as_of
    run.stats = stats
    run.save(update_fields=["cursor", "processed_accounts", "billed_accounts", "skipped_accounts", "total_accounts",
                            "heartbeat_at", "stats"])


@transaction.atomic
def billing_run_approve(*, run_id: int, actor: User | None, as_of: datetime) -> int:
    """Approve the run's draft bills that have no open exception. Two-person rule: the approver is
    never the preparer of the batch. Returns the number approved; call again after exceptions are
    resolved."""
    _require(actor, "billing.approve")
    run = BillingRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("billing run %(run)s not found") % {"run": run_id}, field="run_id")
    _require_scope(actor, run)
    if run.status != BillingRun.Status.COMPLETED:
        raise UnableToApproveBills(_("run %(run)s is %(status)s; approve it when it has completed")
                                   % {"run": run_id, "status": run.get_status_display()}, field="run_id")
    if run.prepared_by_id is not None and run.prepared_by_id == actor.pk:
        raise UnableToApproveBills(_("two-person rule: the preparer of a batch cannot approve it"), field="actor")
    open_exc = BillException.objects.filter(bill=OuterRef("pk"), status=BillException.Status.OPEN)
    ready = Bill.objects.filter(run=run, status=Bill.Status.DRAFT).filter(~Exists(open_exc)).exclude(
        prepared_by=actor)
    count = ready.update(status=Bill.Status.APPROVED, approved_by=actor, approved_at=as_of)
    BillingRun.objects.filter(pk=run.pk).update(approved_by=actor, approved_at=as_of)
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="billing_run", object_id=run.pk,
                 summary=f"run {run.period_code}: {count} bills approved", at=as_of)
    return count


def _due_days_by_unit() -> dict[int, int]:
    return {unit: cal.due_days for unit, cal in calendar_map().items()}


@transaction.atomic
def billing_run_issue(*, run_id: int, actor: User | None, as_of: datetime) -> list[int]:
    """Issue the run's approved bills: they get their issue time and due date and never change again.
    Returns the ids of the bills issued (for delivery)."""
    _require(actor, "billing.issue")
    run = BillingRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("billing run %(run)s not found") % {"run": run_id}, field="run_id")
    _require_scope(actor, run)
    approved = Bill.objects.filter(run=run, status=Bill.Status.APPROVED)
    ids = list(approved.values_list("pk", flat=True))
    if not ids:
        raise UnableToIssueBills(_("no approved bills to issue in this run"), field="run_id")
    due = _due_days_by_unit()
    units = approved.values_list("org_unit_id", flat=True).distinct()
    by_days: dict[int, list[int]] = {}
    for unit in units:
        by_days.setdefault(due[unit], []).append(unit)
    for days, unit_ids in by_days.items():
        Bill.objects.filter(run=run, status=Bill.Status.APPROVED, org_unit_id__in=unit_ids).update(
            status=Bill.Status.ISSUED, issued_at=as_of, due_date=as_of.date() + timedelta(days=days))
    BillingRun.objects.filter(pk=run.pk).update(issued_at=as_of)
    # Every bill of the run changed status: statistics still saying "all draft" made the receivable
    # posting's join on issued bills a nested loop over the whole table per chunk (60 s at 100,000).
    refresh_statistics(len(ids), tables=("billing_bill",))
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="billing_run", object_id=run.pk,
                 summary=f"run {run.period_code}: {len(ids)} bills issued", at=as_of)
    bills_issued.send(sender=Bill, bill_ids=ids, as_of=as_of)
    return ids


# --------------------------------------------------------------------------------------------------
# Auditor actions on exceptions
# --------------------------------------------------------------------------------------------------


def _locked_exception(exception_id: int) -> BillException:
    exc = BillException.objects.select_for_update().select_related("bill").filter(pk=exception_id).first()
    if exc is None:
        raise NotFound(_("exception %(id)s not found") % {"id": exception_id}, field="exception_id")
    if exc.status != BillException.Status.OPEN:
        raise UnableToResolveException(_("exception %(id)s is already %(status)s")
                                       % {"id": exception_id, "status": exc.get_status_display()}, field="exception_id")
    if exc.bill.status == Bill.Status.ISSUED:
        raise UnableToModifyIssuedBill(_("bill %(number)s is issued; correct it instead") % {"number": exc.bill.number},
                                       field="bill")
    return exc


def _resolve(exc: BillException, status: str, actor: User | None, as_of: datetime, note: str) -> None:
    exc.status = status
    exc.resolved_at = as_of
    exc.resolved_by = _user(actor)
    exc.note = note.strip()[:255]
    exc.save(update_fields=["status", "resolved_at", "resolved_by", "note"])


@transaction.atomic
def bill_exception_confirm(*, exception_id: int, actor: User | None, as_of: datetime, note: str = "") -> BillException:
    """The auditor checked the hit and the bill is right."""
    _require(actor, "billing.audit")
    exc = _locked_exception(exception_id)
    _resolve(exc, BillException.Status.CONFIRMED, actor, as_of, note or "confirmed")
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="bill_exception", object_id=exc.pk,
                 summary=f"{exc.bill.number} {exc.rule} confirmed", at=as_of)
    return exc


@transaction.atomic
def bill_exception_hold(*, exception_id: int, actor: User | None, as_of: datetime, note: str) -> BillException:
    """Keep the bill out of the batch (挂起) until someone releases it."""
    _require(actor, "billing.audit")
    if not note.strip():
        raise ValidationFailed(_("say why the bill is held"), field="note")
    exc = _locked_exception(exception_id)
    Bill.objects.filter(pk=exc.bill_id, status__in=Bill.MUTABLE).update(status=Bill.Status.HELD)
    _resolve(exc, BillException.Status.HELD, actor, as_of, note)
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="bill", object_id=exc.bill_id,
                 summary=f"{exc.bill.number} held ({exc.rule}): {note}"[:255], at=as_of)
    return exc


@transaction.atomic
def bill_release(*, bill_id: int, actor: User | None, as_of: datetime, note: str) -> Bill:
    """A held bill goes back to draft, ready for approval with its batch."""
    _require(actor, "billing.audit")
    bill = Bill.objects.select_for_update().filter(pk=bill_id).first()
    if bill is None:
        raise NotFound(_("bill %(id)s not found") % {"id": bill_id}, field="bill_id")
    if bill.status != Bill.Status.HELD:
        raise UnableToResolveException(_("bill %(number)s is %(status)s, not held")
                                       % {"number": bill.number, "status": bill.get_status_display()}, field="bill_id")
    bill.status = Bill.Status.DRAFT
    bill.save(update_fields=["status"])
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="bill", object_id=bill.pk,
                 summary=f"{bill.number} released: {note}"[:255], at=as_of)
    return bill


def _correct_end_reads(bill: Bill, reads: dict[tuple[int, str], object], actor: User | None, as_of: datetime) -> None:
    """Replace the closing reads a bill used by corrected values (the old read is voided, kept)."""
    from gridcare.metering.services import _parse_manual_value

    used = {(r.meter_id, r.register): r for r in bill.reads.all()}
    for (meter_id, register), value in reads.items():
        br = used.get((meter_id, register))
        if br is None:
            raise ValidationFailed(_("the bill used no %(register)s read of meter %(meter)s")
                                   % {"register": register, "meter": meter_id}, field="reads")
        milli = _parse_manual_value(value)
        MeterRead.objects.filter(meter_id=meter_id, register=register, read_date=br.end_date,
                                 status__in=[MeterRead.Status.VALID, MeterRead.Status.ESTIMATED]).update(
            status=MeterRead.Status.VOID, resolution=f"corrected on bill {bill.number}", resolved_at=as_of,
            resolved_by=_user(actor))
        MeterRead.objects.create(
            meter_id=meter_id, asset_number=br.asset_number, register=register, read_date=br.end_date,
            value_milli=milli, status=MeterRead.Status.VALID, source=MeterRead.Source.MANUAL,
            detail=f"corrected on bill {bill.number}", created_at=as_of, resolved_by=_user(actor), resolved_at=as_of,
        )


def _openings_of(bill: Bill) -> pl.DataFrame:
    rows = [(r.meter_id, r.register, r.start_value, r.start_date, r.start_read_id, r.start_status or "valid")
            for r in bill.reads.all() if r.start_value is not None]
    return pl.DataFrame(rows, schema={"meter_id": pl.Int64, "register": pl.Utf8, "value_milli": pl.Int64,
                                      "read_date": pl.Date, "read_id": pl.Int64, "status": pl.Utf8}, orient="row")


def _rerate_draft(bill: Bill, as_of: datetime) -> Bill:
    """Re-rate a draft bill in place (same number): its lines, reads and open exceptions are replaced."""
    openings = _openings_of(bill)
    BillLine.objects.filter(bill=bill).delete()
    BillRead.objects.filter(bill=bill).delete()
    BillException.objects.filter(bill=bill, status=BillException.Status.OPEN).update(
        status=BillException.Status.SUPERSEDED, resolved_at=as_of)
    old_pk = bill.pk
    # The pipeline writes a fresh bill row; move the kept exceptions onto it and drop the old row.
    Bill.objects.filter(pk=old_pk).update(number=f"{bill.number}~{old_pk}", version=0)
    outcome = bill_accounts(
        account_ids=[bill.account_id],
        spec=BillSpec(period_code=bill.period_code, version=bill.version if bill.version else 1, run_id=bill.run_id,
                      prepared_by_id=bill.prepared_by_id, corrects_id=bill.corrects_id, reason=bill.reason),
        schedules=schedule_set(), config=audit_config(), as_of=as_of, openings=openings, estimate=False,
    )
    if not outcome.bill_ids:
        skip = BillingRunSkip.objects.filter(account_id=bill.account_id).order_by("-id").first()
        raise UnableToResolveException(_("the account could not be re-rated: %(reason)s")
                                       % {"reason": skip.reason if skip else "-"}, field="reads")
    new_pk = outcome.bill_ids[0]
    BillException.objects.filter(bill_id=old_pk).update(bill_id=new_pk)
    BillDelivery.objects.filter(bill_id=old_pk).delete()
    Bill.objects.filter(pk=old_pk).delete()
    return Bill.objects.get(pk=new_pk)


@transaction.atomic
def bill_exception_correct_read(*, exception_id: int, reads: dict[tuple[int, str], object], actor: User | None,
                                as_of: datetime, note: str) -> Bill:
    """Correct the closing read(s) the bill used and re-rate it; the new rating is audited again."""
    _require(actor, "billing.audit")
    if not reads:
        raise ValidationFailed(_("give at least one corrected read"), field="reads")
    if not note.strip():
        raise ValidationFailed(_("say what was corrected"), field="note")
    exc = _locked_exception(exception_id)
    bill = Bill.objects.select_for_update().get(pk=exc.bill_id)
    before = {"total_fen": bill.total_fen, "energy_wh": bill.energy_wh}
    _correct_end_reads(bill, reads, actor, as_of)
    _resolve(exc, BillException.Status.CORRECTED, actor, as_of, note)
    new = _rerate_draft(bill, as_of)
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="bill", object_id=new.pk,
                 summary=f"{new.number}: read corrected and re-rated ({exc.rule}): {note}"[:255], before=before,
                 after={"total_fen": new.total_fen, "energy_wh": new.energy_wh}, at=as_of)
    return new


# --------------------------------------------------------------------------------------------------
# Corrections of issued bills (credit note + rebill)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    credit: Bill
    rebill: Bill


def assert_bill_mutable(bill: Bill) -> None:
    """Every service that changes a bill calls this first: an issued bill never changes."""
    if bill.status == Bill.Status.ISSUED:
        raise UnableToModifyIssuedBill(_("bill %(number)s is issued and cannot change; correct it with a new version "
                                         "(credit note + rebill)") % {"number": bill.number}, field="bill")


@transaction.atomic
def bill_correct(*, bill_id: int, reason: str, actor: User | None, as_of: datetime,
                 reads: dict[tuple[int, str], object] | None = None) -> Correction:
    """Prepare a correction of an issued bill: a credit note reversing it and a rebill computed from
    the same opening reads and the (corrected) closing reads. Both stay drafts until a second person
    approves them (bill_correction_approve)."""
    _require(actor, "billing.run")
    if not reason.strip():
        raise ValidationFailed(_("a correction needs a reason"), field="reason")
    bill = Bill.objects.select_for_update().filter(pk=bill_id).first()
    if bill is None:
        raise NotFound(_("bill %(id)s not found") % {"id": bill_id}, field="bill_id")
    if bill.kind != Bill.Kind.INVOICE or bill.status != Bill.Status.ISSUED:
        raise UnableToCorrectBill(_("only an issued bill can be corrected"), field="bill_id")
    siblings = Bill.objects.select_for_update().filter(account_id=bill.account_id, period_code=bill.period_code)
    if siblings.filter(status__in=Bill.MUTABLE).exists():
        raise UnableToCorrectBill(_("a correction of this bill is already waiting for approval"), field="bill_id")
    latest = siblings.filter(kind=Bill.Kind.INVOICE).aggregate(v=Max("version"))["v"]
    if latest != bill.version:
        raise UnableToCorrectBill(_("bill %(number)s was already replaced by version %(version)s")
                                  % {"number": bill.number, "version": latest}, field="bill_id")
    version = bill.version + 1
    if reads:
        _correct_end_reads(bill, reads, actor, as_of)
    credit = Bill.objects.create(
        number=f"C{bill.period_code.replace('-', '')}-{bill.account.number}-{version}", account_id=bill.account_id,
        org_unit_id=bill.org_unit_id, period_code=bill.period_code, version=version, kind=Bill.Kind.CREDIT,
        status=Bill.Status.DRAFT, start_date=bill.start_date, end_date=bill.end_date, tariff_code=bill.tariff_code,
        total_fen=-bill.total_fen, energy_wh=-bill.energy_wh, cos_phi=bill.cos_phi, estimated=bill.estimated,
        corrects=bill, reason=reason.strip()[:255], prepared_by=_user(actor), payment_reference=bill.payment_reference,
        created_at=as_of,
    )
    BillLine.objects.bulk_create([
        BillLine(bill=credit, line_no=ln.line_no, component=ln.component, line_code=ln.line_code, tariff=ln.tariff,
                 tariff_version=ln.tariff_version, start_date=ln.start_date, end_date=ln.end_date,
                 quantity=-ln.quantity, unit=ln.unit, unit_price=ln.unit_price, amount_fen=-ln.amount_fen,
                 rule=ln.rule, explanation_zh=f"冲红：{ln.explanation_zh}"[:255],
                 explanation_en=f"Reversal: {ln.explanation_en}"[:255])
        for ln in bill.lines.all()
    ])
    outcome = bill_accounts(
        account_ids=[bill.account_id],
        spec=BillSpec(period_code=bill.period_code, version=version, run_id=None, prepared_by_id=actor.pk,
                      corrects_id=bill.pk, reason=reason.strip()),
        schedules=schedule_set(), config=audit_config(), as_of=as_of, openings=_openings_of(bill), estimate=False,
    )
    if not outcome.bill_ids:
        raise UnableToCorrectBill(_("the account could not be re-rated with the corrected data"), field="reads")
    rebill = Bill.objects.get(pk=outcome.bill_ids[0])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="bill", object_id=rebill.pk,
                 summary=f"correction of {bill.number}: credit {credit.number} {fen_to_yuan(credit.total_fen)}, "
                         f"rebill {rebill.number} {fen_to_yuan(rebill.total_fen)}: {reason}"[:255],
                 before={"bill": bill.number, "total_fen": bill.total_fen},
                 after={"credit": credit.number, "rebill": rebill.number, "total_fen": rebill.total_fen}, at=as_of)
    return Correction(credit=credit, rebill=rebill)


@transaction.atomic
def bill_correction_approve(*, rebill_id: int, actor: User | None, as_of: datetime) -> Correction:
    """Second person approves and issues a correction (credit note + rebill) together."""
    _require(actor, "billing.approve")
    rebill = Bill.objects.select_for_update(of=("self",)).select_related("corrects").filter(pk=rebill_id).first()
    if rebill is None or rebill.corrects_id is None or rebill.kind != Bill.Kind.INVOICE:
        raise NotFound(_("correction %(id)s not found") % {"id": rebill_id}, field="rebill_id")
    if rebill.status not in (Bill.Status.DRAFT, Bill.Status.APPROVED):
        raise UnableToCorrectBill(_("correction %(number)s is %(status)s")
                                  % {"number": rebill.number, "status": rebill.get_status_display()}, field="rebill_id")
    if rebill.prepared_by_id == actor.pk:
        raise UnableToApproveBills(_("two-person rule: the preparer of a correction cannot approve it"), field="actor")
    credit = Bill.objects.select_for_update().get(account_id=rebill.account_id, period_code=rebill.period_code,
                                                  version=rebill.version, kind=Bill.Kind.CREDIT)
    due = _due_days_by_unit()[rebill.org_unit_id]
    for b in (credit, rebill):
        b.status = Bill.Status.ISSUED
        b.approved_by = actor
        b.approved_at = as_of
        b.issued_at = as_of
        b.due_date = as_of.date() + timedelta(days=due)
        b.save(update_fields=["status", "approved_by", "approved_at", "issued_at", "due_date"])
    BillException.objects.filter(bill=rebill, status=BillException.Status.OPEN).update(
        status=BillException.Status.CONFIRMED, resolved_at=as_of, resolved_by=actor, note="approved with correction")
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="bill", object_id=rebill.pk,
                 summary=f"correction {credit.number} + {rebill.number} approved and issued", at=as_of)
    bills_issued.send(sender=Bill, bill_ids=[credit.pk, rebill.pk], as_of=as_of)
    return Correction(credit=credit, rebill=rebill)


# --------------------------------------------------------------------------------------------------
# Back-billing (退补) adjustment bills
# --------------------------------------------------------------------------------------------------


def _adjustment_reference(account_number: str, month: str, n: int) -> str:
    """Its own 缴费参考号 (account digits + issue month + sequence + Luhn digit): a bank file paying the
    adjustment must not land on the period's ordinary bill."""
    from gridcare.billing.pipeline import luhn_digit

    digits = "".join(ch for ch in account_number if ch.isdigit()) + month + f"{n:02d}"
    return digits + luhn_digit(digits)


@transaction.atomic
def bill_backbilling_issue(*, case_id: int, actor: User | None, as_of: datetime) -> Bill:
    """Bill an approved back-billing case as a separate, issued adjustment bill (kind `adjust`):
    补收 when the case total is positive, 退还 (a credit) when negative. One bill line per case line,
    each keeping its explanation and the number and period of the issued bill it corrects; the
    total is the case total to the fen. The case is locked first, so it is billed exactly once
    even when two people press the button together; payments posts the receivable (or the credit)
    from `bills_issued` after commit."""
    from django.utils import timezone

    from gridcare.parameters.models import BackBillingCase
    from gridcare.parameters.selectors import backbilling_bill_draft, backbilling_case_get
    from gridcare.parameters.services import backbilling_case_mark_billed

    _require(actor, "billing.issue")
    if backbilling_case_get(user=actor, case_id=case_id) is None:
        raise NotFound(_("back-billing case %(id)s not found") % {"id": case_id}, field="case_id")
    case = BackBillingCase.objects.select_for_update().get(pk=case_id)
    if case.status == BackBillingCase.Status.BILLED:
        raise UnableToIssueAdjustment(_("case %(case)s is already billed on %(bill)s")
                                      % {"case": case.number, "bill": case.bill_number}, field="case_id")
    if case.status != BackBillingCase.Status.APPROVED:
        raise UnableToIssueAdjustment(_("case %(case)s is %(status)s; only an approved case can be billed")
                                      % {"case": case.number, "status": case.get_status_display()}, field="case_id")
    draft = backbilling_bill_draft(case_id=case.pk)
    if not draft.lines or sum(ln["amount_fen"] for ln in draft.lines) != draft.total_fen:
        raise UnableToIssueAdjustment(_("case %(case)s: its lines do not add up to its total")
                                      % {"case": case.number}, field="case_id")
    if draft.total_fen == 0:
        raise UnableToIssueAdjustment(_("case %(case)s nets to zero; there is nothing to bill")
                                      % {"case": case.number}, field="case_id")
    # The account row serialises numbering: two cases of one account billed at once get 1 and 2.
    account = Account.objects.select_for_update().get(pk=draft.account_id)
    period_code = max(ln["corrects_period"] or f"{timezone.localtime(as_of):%Y-%m}" for ln in draft.lines)
    # The bill of the latest period corrected: a refund is credited against its receivable.
    traced = sorted((ln["corrects_period"], ln["corrects_number"]) for ln in draft.lines if ln["corrects_number"])
    corrected = sorted({number for _, number in traced})
    corrects = Bill.objects.filter(number=traced[-1][1]).first() if traced else None
    month = f"{timezone.localtime(as_of):%Y%m}"
    # Through the account (uniq_bill_version's first column): no pattern index on `number` is kept.
    n = Bill.objects.filter(account=account, number__startswith=f"A{month}-{account.number}-").count() + 1
    version = (Bill.objects.filter(account=account, period_code=period_code, kind=Bill.Kind.ADJUSTMENT)
               .aggregate(v=Max("version"))["v"] or 0) + 1
    bill = Bill.objects.create(
        number=f"A{month}-{account.number}-{n}", account=account, org_unit_id=account.org_unit_id,
        period_code=period_code, version=version, kind=Bill.Kind.ADJUSTMENT, status=Bill.Status.ISSUED,
        start_date=draft.start_date, end_date=draft.end_date, tariff_code=draft.tariff_code[:64],
        total_fen=draft.total_fen, energy_wh=draft.energy_wh, corrects=corrects, reason=draft.reason,
        prepared_by_id=case.prepared_by_id, approved_by_id=case.decided_by_id, approved_at=case.decided_at,
        issued_at=as_of, due_date=as_of.date() + timedelta(days=_due_days_by_unit()[account.org_unit_id]),
        payment_reference=_adjustment_reference(account.number, month, n) if draft.total_fen > 0 else "",
        created_at=as_of,
    )
    BillLine.objects.bulk_create([BillLine(bill=bill, **ln) for ln in draft.lines])
    backbilling_case_mark_billed(case_id=case.pk, bill_number=bill.number, as_of=as_of)
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="bill", object_id=bill.pk,
                 summary=f"adjustment bill {bill.number} for back-billing case {case.number}: "
                         f"{fen_to_yuan(bill.total_fen)} yuan, corrects {', '.join(sorted(set(corrected))) or '-'}"[:255],
                 after={"case": case.number, "total_fen": bill.total_fen, "lines": len(draft.lines)}, at=as_of)
    bills_issued.send(sender=Bill, bill_ids=[bill.pk], as_of=as_of)
    return bill


# --------------------------------------------------------------------------------------------------
# Period close
# --------------------------------------------------------------------------------------------------


@transaction.atomic
def billing_period_close(*, period_id: int, actor: User | None, as_of: datetime) -> BillingPeriod:
    """关账: refused while a bill of the period is not issued or a run is active."""
    _require(actor, "billing.issue")
    period = BillingPeriod.objects.select_related("org_unit").filter(pk=period_id).first()
    if period is None:
        raise NotFound(_("period %(id)s not found") % {"id": period_id}, field="period_id")
    cals = calendar_map()
    units = [u for u, cal in cals.items() if cal.owner_id == period.org_unit_id]
    open_bills = Bill.objects.filter(period_code=period.code, org_unit_id__in=units, status__in=Bill.MUTABLE).count()
    if open_bills:
        raise UnableToClosePeriod(_("%(n)s bills of %(period)s are not issued yet") % {"n": open_bills, "period": period.code},
                                  field="period")
    if BillingRun.objects.filter(period_code=period.code, status__in=BillingRun.ACTIVE).exists():
        raise UnableToClosePeriod(_("a billing run of %(period)s is still active") % {"period": period.code}, field="period")
    return metering_period_close(period_id=period.pk, actor=actor, as_of=as_of)


# --------------------------------------------------------------------------------------------------
# Delivery through the notifications outbox
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    queued: int
    skipped: int
    failed: int


def _portal_pdf_url(bill: Bill) -> str:
    """The portal's PDF link: GRIDCARE_PUBLIC_URL (e.g. https://95598.example.cn) + the portal path."""
    from django.conf import settings
    from django.urls import NoReverseMatch, reverse

    try:
        path = reverse("web:portal_bill_pdf", args=[bill.pk])
    except NoReverseMatch:
        return ""
    return getattr(settings, "GRIDCARE_PUBLIC_URL", "").rstrip("/") + path


def _adjustment_notice(bill: Bill) -> dict[str, str]:
    """The back-billing notice's own fields: 补收 or 退还, the amount without sign, and the bills and
    periods it corrects (from its lines)."""
    traced = sorted(set(bill.lines.exclude(corrects_number="").values_list("corrects_period", "corrects_number")))
    due = bill.total_fen > 0 and bill.due_date is not None
    return {"direction": "补收" if bill.total_fen > 0 else "退还", "amount": str(fen_to_yuan(abs(bill.total_fen))),
            "corrected_periods": "、".join(sorted({p for p, _n in traced})) or bill.period_code,
            "corrected_bills": "、".join(n for _p, n in traced) or "-",
            "due_note": f"，请于{bill.due_date.isoformat()}前缴纳" if due else "，已冲减应缴电费，已缴部分转入账户余额"}


def bills_deliver(*, bill_ids: list[int], as_of: datetime, pdf_url: Callable[[Bill], str] | None = None,
                  channels: tuple[str, ...] = ("sms", "email", "in_app")) -> DeliveryReport:
    """Queue the bill notice of each issued bill on each channel the customer can be reached on
    (SMS to the phone, e-mail with the PDF attached and the portal link in the body, in-app to portal
    users). One BillDelivery row per bill and channel makes this idempotent; quiet hours and retries
    belong to the outbox, which renders the attached PDF when it sends (billing/attachments.py)."""
    from gridcare.billing.attachments import bill_pdf_ref
    from gridcare.notifications.services import message_enqueue

    queued = skipped = failed = 0
    pdf_url = pdf_url or _portal_pdf_url
    done = set(BillDelivery.objects.filter(bill_id__in=bill_ids).values_list("bill_id", "channel"))
    # A correction's notice goes with its rebill (it names the amount reversed); the credit note has none.
    bills = (Bill.objects.filter(pk__in=bill_ids, status=Bill.Status.ISSUED,
                                 kind__in=[Bill.Kind.INVOICE, Bill.Kind.ADJUSTMENT])
             .select_related("account__customer", "corrects").prefetch_related("account__customer__portal_users"))
    for bill in bills:
        customer = bill.account.customer
        template = "bill_corrected" if bill.corrects_id else "bill_issued"
        context = {
            "account_number": bill.account.number, "period": bill.period_code, "amount": str(fen_to_yuan(bill.total_fen)),
            "kwh": str(Decimal(bill.energy_wh) / 1000), "due_date": bill.due_date.isoformat() if bill.due_date else "",
            "payment_reference": bill.payment_reference, "bill_number": bill.number,
            "pdf_url": pdf_url(bill), "reason": bill.reason,
            "old_amount": str(fen_to_yuan(bill.corrects.total_fen)) if bill.corrects_id else "",
        }
        if bill.kind == Bill.Kind.ADJUSTMENT:
            template = "bill_adjustment"
            context.update(_adjustment_notice(bill))
        targets = {"sms": (customer.phone, None), "email": (customer.email, None)}
        portal = next(iter(customer.portal_users.all()), None)
        targets["in_app"] = ("", portal)
        for channel in channels:
            recipient, user = targets[channel]
            if (bill.pk, channel) in done:
                continue
            if (channel != "in_app" and not recipient) or (channel == "in_app" and user is None):
                skipped += 1
                continue
            try:
                with transaction.atomic():
                    message = message_enqueue(
                        channel=channel, template=template, context=context, as_of=as_of, recipient=recipient,
                        recipient_user=user, purpose="bill", dedupe_key=f"bill:{bill.pk}:{channel}",
                        object_type="bill", object_id=bill.pk,
                        attachments=[bill_pdf_ref(bill.pk)] if channel == "email" else (),
                    )
                    BillDelivery.objects.create(bill=bill, channel=channel, message_id=message.pk,
                                                recipient=message.recipient, created_at=as_of)
                queued += 1
            except ValidationFailed as exc:
                BillDelivery.objects.get_or_create(bill=bill, channel=channel,
                                                   defaults={"created_at": as_of, "error": exc.message[:255],
                                                             "recipient": recipient})
                failed += 1
    return DeliveryReport(queued, skipped, failed)
