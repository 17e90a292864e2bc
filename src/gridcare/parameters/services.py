"""Writes of the billing-parameter app, one transaction each: propose / approve / reject /
withdraw parameter versions (two-person rule), and prepare / approve / reject / mark billed
back-billing cases.

Errors raised: ParameterSpecInvalid, BackBillingInvalid, ValidationFailed, PermissionDenied,
NotFound, UnableToDecide (409: not pending, or the two-person rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import can
from gridcare.access.services import audit_record
from gridcare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from gridcare.core.money import fen_to_yuan
from gridcare.core.periods import month_period
from gridcare.customers.models import Account, ServicePoint
from gridcare.customers.selectors import account_get
from gridcare.parameters import backbilling
from gridcare.parameters.config import ParametersConfig, default_config
from gridcare.parameters.deduction import find_cycle
from gridcare.parameters.models import BackBillingCase, BackBillingLine, BillingParameter, ParameterLink
from gridcare.parameters.selectors import account_facts, billing_parameters, original_bills
from gridcare.parameters.specs import (
    KINDS,
    DeductionSpec,
    ParameterSpecInvalid,
    SharingSpec,
    parse_spec,
    related_accounts,
)
from gridcare.tariffs.selectors import schedule_set, tariff_codes


class UnableToDecide(Conflict):
    code = "unable_to_decide"


def _require(actor: User | None, capability: str) -> User:
    if actor is None or not actor.pk:
        raise PermissionDenied("a signed-in user is required", field="actor")
    if not can(actor.role, capability):
        raise PermissionDenied(f"your role may not do this ({capability})", field="actor")
    return actor


def _account(actor: User, account_id: int) -> Account:
    account = account_get(user=actor, account_id=account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found", field="account_id")
    return account


def _capacity_va(account_id: int) -> int:
    total = sum((p.contracted_capacity_kva for p in ServicePoint.objects.filter(account_id=account_id)), Decimal(0))
    return int(total * 1000)


def _check_relations(account: Account, spec: Any, actor: User, *, pending_id: int | None = None) -> None:
    """Cross-record rules a spec alone cannot check."""
    if isinstance(spec, DeductionSpec):
        parent_id = spec.parent_account_id
        if parent_id == account.pk:
            raise ParameterSpecInvalid("an account cannot be its own parent", field="spec.parent_account_id")
        parent = account_get(user=actor, account_id=parent_id)
        if parent is None:
            raise ParameterSpecInvalid(f"parent account {parent_id} not found", field="spec.parent_account_id")
        child_va, parent_va = _capacity_va(account.pk), _capacity_va(parent_id)
        if child_va and parent_va and child_va > parent_va:
            raise ParameterSpecInvalid(
                f"the child meter's capacity {child_va / 1000:g} kVA is larger than its parent's "
                f"{parent_va / 1000:g} kVA: a child meter sits behind its parent", field="spec.parent_account_id")
        edges = [(p.account_id, p.spec.get("parent_account_id")) for p in BillingParameter.objects.filter(
            kind="deduction", status=BillingParameter.Status.APPROVED, cleared=False).exclude(account_id=account.pk)
            .exclude(pk=pending_id)]
        cycle = find_cycle([(account.pk, parent_id), *edges])
        if cycle:
            raise ParameterSpecInvalid(f"this parent would make a cycle: {' → '.join(map(str, cycle))}",
                                       field="spec.parent_account_id")
    if isinstance(spec, SharingSpec):
        for i, m in enumerate(spec.members):
            if m.account_id == account.pk and spec.source == "meter":
                raise ParameterSpecInvalid("the shared meter's own account cannot be a member of its pool",
                                           field=f"spec.members[{i}].account_id")
            if account_get(user=actor, account_id=m.account_id) is None:
                raise ParameterSpecInvalid(f"member account {m.account_id} not found",
                                           field=f"spec.members[{i}].account_id")


@transaction.atomic
def parameter_propose(*, account_id: int, kind: str, spec: dict | None, effective_from: date,
                      effective_to: date | None = None, cleared: bool = False, reason: str, actor: User | None,
                      as_of: datetime, config: ParametersConfig | None = None) -> BillingParameter:
    """A new version of the account's `kind` parameter, waiting for a second person's approval.
    `cleared` proposes that no such parameter applies on the dates (spec must be empty)."""
    cfg = config or default_config()
    actor = _require(actor, cfg.prepare_capability)
    account = _account(actor, account_id)
    if not (reason or "").strip():
        raise ValidationFailed("say why the parameter changes", field="reason")
    if effective_to is not None and effective_to <= effective_from:
        raise ValidationFailed("effective_to must be after effective_from", field="effective_to")
    parsed = None
    if cleared:
        if spec:
            raise ValidationFailed("a cleared version carries no specification", field="spec")
        if kind not in KINDS:
            raise ParameterSpecInvalid(f"kind must be one of {list(KINDS)}, got {kind!r}", field="kind")
        spec = {}
    else:
        parsed = parse_spec(kind, spec if spec is not None else {}, config=cfg, tariffs=tariff_codes())
        _check_relations(account, parsed, actor)
    # Lock the account row so two proposals for one account number their versions in turn
    # (FOR UPDATE cannot go with an aggregate on PostgreSQL).
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk", flat=True).first()
    version = (BillingParameter.objects.filter(account=account, kind=kind).aggregate(v=Max("version"))["v"] or 0) + 1
    try:
        with transaction.atomic():
            param = BillingParameter.objects.create(
                account=account, kind=kind, version=version, effective_from=effective_from, effective_to=effective_to,
                cleared=cleared, spec=spec or {}, reason=reason.strip()[:255], proposed_by=actor, proposed_at=as_of)
    except IntegrityError:
        raise UnableToDecide("another version was proposed at the same time; try again", field="version") from None
    if parsed is not None:
        role = {"deduction": ParameterLink.Role.PARENT, "sharing": ParameterLink.Role.MEMBER}.get(kind)
        ParameterLink.objects.bulk_create([ParameterLink(parameter=param, account_id=a, role=role)
                                           for a in sorted(set(related_accounts(kind, parsed)))])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="billing_parameter", object_id=param.pk,
                 summary=f"account {account.number}: {kind} v{version} proposed from {effective_from}"
                         f"{' to ' + str(effective_to) if effective_to else ''}: {reason}"[:255],
                 after={"spec": spec, "cleared": cleared}, at=as_of)
    return param


def _pending(parameter_id: int, actor: User) -> BillingParameter:
    param = BillingParameter.objects.select_for_update().filter(pk=parameter_id).first()
    if param is None or account_get(user=actor, account_id=param.account_id) is None:
        raise NotFound(f"parameter {parameter_id} not found", field="parameter_id")
    if param.status != BillingParameter.Status.PENDING:
        raise UnableToDecide(f"parameter {parameter_id} is {param.status}, not waiting for approval",
                             field="parameter_id")
    return param


@transaction.atomic
def parameter_approve(*, parameter_id: int, actor: User | None, as_of: datetime, note: str = "",
                      config: ParametersConfig | None = None) -> BillingParameter:
    """Second person approves: the version is in force on its dates from now on (and wins over
    earlier approvals on those dates)."""
    cfg = config or default_config()
    actor = _require(actor, cfg.approve_capability)
    param = _pending(parameter_id, actor)
    account = _account(actor, param.account_id)
    if param.proposed_by_id == actor.pk:
        raise UnableToDecide("two-person rule: whoever proposed a parameter cannot approve it", field="actor")
    if not param.cleared:  # re-check: tariffs and other parameters may have changed since
        parsed = parse_spec(param.kind, param.spec, config=cfg, tariffs=tariff_codes())
        _check_relations(account, parsed, actor, pending_id=param.pk)
    param.status = BillingParameter.Status.APPROVED
    param.decided_by, param.decided_at, param.decision_note = actor, as_of, note.strip()[:255]
    param.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="billing_parameter", object_id=param.pk,
                 summary=f"account {account.number}: {param.kind} v{param.version} approved", at=as_of)
    return param


@transaction.atomic
def parameter_reject(*, parameter_id: int, actor: User | None, as_of: datetime, note: str,
                     config: ParametersConfig | None = None) -> BillingParameter:
    cfg = config or default_config()
    actor = _require(actor, cfg.approve_capability)
    if not (note or "").strip():
        raise ValidationFailed("say why the parameter is rejected", field="note")
    param = _pending(parameter_id, actor)
    param.status = BillingParameter.Status.REJECTED
    param.decided_by, param.decided_at, param.decision_note = actor, as_of, note.strip()[:255]
    param.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="billing_parameter", object_id=param.pk,
                 summary=f"{param.kind} v{param.version} rejected: {note}"[:255], at=as_of)
    return param


@transaction.atomic
def parameter_withdraw(*, parameter_id: int, actor: User | None, as_of: datetime) -> BillingParameter:
    """The proposer takes back a version nobody has decided on yet."""
    actor = _require(actor, default_config().prepare_capability)
    param = _pending(parameter_id, actor)
    if param.proposed_by_id != actor.pk:
        raise UnableToDecide("only the proposer can withdraw a proposal", field="actor")
    param.status = BillingParameter.Status.WITHDRAWN
    param.decided_at = as_of
    param.save(update_fields=["status", "decided_at"])
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="billing_parameter", object_id=param.pk,
                 summary=f"{param.kind} v{param.version} withdrawn", at=as_of)
    return param


# --------------------------------------------------------------------------------------------------
# Back-billing (退补)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseInput:
    account_id: int
    kind: str
    correction: dict
    period_codes: list[str]
    reason: str


def _case_number(account: Account, as_of: datetime) -> str:
    prefix = f"TB{as_of:%Y%m}-{account.number}-"
    n = BackBillingCase.objects.filter(number__startswith=prefix).count() + 1
    return f"{prefix}{n}"


@transaction.atomic
def backbilling_case_prepare(*, data: CaseInput, actor: User | None, as_of: datetime,
                             config: ParametersConfig | None = None) -> BackBillingCase:
    """Compute a back-billing case from the issued bills of the periods and keep it as a draft
    waiting for a second person's approval. Nothing is billed here."""
    cfg = config or default_config()
    actor = _require(actor, cfg.prepare_capability)
    account = _account(actor, data.account_id)
    if not (data.reason or "").strip():
        raise ValidationFailed("say what was wrong and how it was found", field="reason")
    codes = sorted(set(data.period_codes or []))
    for code in codes:
        month_period(code, field="period_codes")
    if data.kind != "unauthorised_capacity":
        if not codes:
            raise ValidationFailed("give the periods to correct", field="period_codes")
        if len(codes) > cfg.backbilling_max_periods:
            raise ValidationFailed(f"at most {cfg.backbilling_max_periods} periods in one case", field="period_codes")
    correction = backbilling.parse_correction(data.kind, data.correction, periods=codes, config=cfg,
                                              tariffs=tariff_codes())
    schedules = schedule_set()
    if data.kind == "unauthorised_capacity":
        code = codes[-1] if codes else f"{as_of:%Y-%m}"
        result = backbilling.unauthorised_capacity_result(
            correction=correction, period_code=code, tariff=account.tariff_code, as_of_day=as_of.date(),
            schedules=schedules, config=cfg)
    else:
        originals = original_bills(account_id=account.pk, period_codes=codes)
        missing = [c for c in codes if c not in originals]
        if missing:
            raise ValidationFailed(f"no issued bill for period(s) {', '.join(missing)}", field="period_codes")
        params = {c: billing_parameters(account_ids=[account.pk], start=b.start_date, end=b.end_date)
                  for c, b in originals.items()}
        result = backbilling.recompute(originals=[originals[c] for c in codes], facts=account_facts(account=account),
                                       correction=correction, schedules=schedules, config=cfg, params_by_period=params)
    if not result.lines:
        raise ValidationFailed("the correction changes nothing on these bills", field="correction")
    case = BackBillingCase.objects.create(
        number=_case_number(account, as_of), account=account, kind=data.kind, correction=data.correction,
        period_codes=codes, reason=data.reason.strip()[:255], total_fen=result.total_fen, energy_wh=result.energy_wh,
        summary=[p.as_dict() for p in result.periods], prepared_by=actor, prepared_at=as_of)
    BackBillingLine.objects.bulk_create([BackBillingLine(case=case, line_no=i, **line)
                                         for i, line in enumerate(result.lines, start=1)])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="backbilling_case", object_id=case.pk,
                 summary=f"{case.number} ({data.kind}) {', '.join(codes)}: {fen_to_yuan(case.total_fen)} yuan: "
                         f"{data.reason}"[:255], after={"total_fen": case.total_fen, "periods": codes}, at=as_of)
    return case


def _draft_case(case_id: int, actor: User) -> BackBillingCase:
    case = BackBillingCase.objects.select_for_update().filter(pk=case_id).first()
    if case is None or account_get(user=actor, account_id=case.account_id) is None:
        raise NotFound(f"back-billing case {case_id} not found", field="case_id")
    if case.status != BackBillingCase.Status.DRAFT:
        raise UnableToDecide(f"case {case.number} is {case.status}, not waiting for approval", field="case_id")
    return case


@transaction.atomic
def backbilling_case_approve(*, case_id: int, actor: User | None, as_of: datetime, note: str = "",
                             config: ParametersConfig | None = None) -> BackBillingCase:
    """Second person approves; the case is then ready to be billed as a separate bill."""
    cfg = config or default_config()
    actor = _require(actor, cfg.approve_capability)
    case = _draft_case(case_id, actor)
    if case.prepared_by_id == actor.pk:
        raise UnableToDecide("two-person rule: whoever prepared a case cannot approve it", field="actor")
    case.status = BackBillingCase.Status.APPROVED
    case.decided_by, case.decided_at, case.decision_note = actor, as_of, note.strip()[:255]
    case.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="backbilling_case", object_id=case.pk,
                 summary=f"{case.number} approved: {fen_to_yuan(case.total_fen)} yuan", at=as_of)
    return case


@transaction.atomic
def backbilling_case_reject(*, case_id: int, actor: User | None, as_of: datetime, note: str,
                            config: ParametersConfig | None = None) -> BackBillingCase:
    cfg = config or default_config()
    actor = _require(actor, cfg.approve_capability)
    if not (note or "").strip():
        raise ValidationFailed("say why the case is rejected", field="note")
    case = _draft_case(case_id, actor)
    case.status = BackBillingCase.Status.REJECTED
    case.decided_by, case.decided_at, case.decision_note = actor, as_of, note.strip()[:255]
    case.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="backbilling_case", object_id=case.pk,
                 summary=f"{case.number} rejected: {note}"[:255], at=as_of)
    return case


@transaction.atomic
def backbilling_case_mark_billed(*, case_id: int, bill_number: str, as_of: datetime) -> BackBillingCase:
    """Called by billing inside the transaction that writes the adjustment bill: an approved case
    is billed once; a second call for the same case is refused."""
    case = BackBillingCase.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound(f"back-billing case {case_id} not found", field="case_id")
    if case.status != BackBillingCase.Status.APPROVED:
        raise UnableToDecide(f"case {case.number} is {case.status}; only an approved case can be billed",
                             field="case_id")
    if not bill_number:
        raise ValidationFailed("bill_number is required", field="bill_number")
    case.status = BackBillingCase.Status.BILLED
    case.bill_number, case.billed_at = bill_number[:40], as_of
    case.save(update_fields=["status", "bill_number", "billed_at"])
    audit_record(actor=None, action=AuditEvent.Action.ACTION, object_type="backbilling_case", object_id=case.pk,
                 summary=f"{case.number} billed on {bill_number}", at=as_of)
    return case
