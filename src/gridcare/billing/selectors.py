"""Reads of the billing app, always through the caller's scope.

Public selectors other apps call (payments, service desk, assistant):
`bill_list_for_account`, `bill_get`, `latest_bill`, `bill_history`, `bill_change_explanation`,
`bills_for_period`, plus the console's `run_list`, `run_get`, `exception_queue`, `period_progress`.
A portal customer only ever sees issued bills of accounts they hold or are authorised on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import Role
from gridcare.billing.models import Bill, BillException, BillingRun, BillingRunSkip, BillLine, BillRead
from gridcare.core.money import allocate_fen
from gridcare.core.periods import month_period
from gridcare.customers.models import Account, OrgUnit
from gridcare.customers.selectors import account_scope_q
from gridcare.metering.models import BillingPeriod, MeterRead


def _bills(user: User, *, as_of: date | None = None) -> QuerySet[Bill]:
    qs = Bill.objects.filter(account_scope_q(user=user, prefix="account__", as_of=as_of))
    if user.role == Role.CUSTOMER:
        qs = qs.filter(status=Bill.Status.ISSUED)
    return qs


def bill_list_for_account(*, user: User, account_id: int, as_of: date | None = None) -> QuerySet[Bill]:
    """Every bill of the account the user may see, newest period first, versions descending."""
    return _bills(user, as_of=as_of).filter(account_id=account_id).select_related("account").order_by(
        "-period_code", "-version", "kind").distinct()


def bill_list_for_user(*, user: User, as_of: date | None = None) -> QuerySet[Bill]:
    return _bills(user, as_of=as_of).select_related("account").order_by("-period_code", "account__number",
                                                                        "-version", "kind").distinct()


def bill_get(*, user: User, bill_id: int | None = None, number: str | None = None,
             as_of: date | None = None) -> Bill | None:
    qs = _bills(user, as_of=as_of).select_related("account", "account__customer", "org_unit", "run", "corrects")
    if bill_id is not None:
        return qs.filter(pk=bill_id).first()
    return qs.filter(number=number).first()


def latest_bill(*, user: User, account_id: int, as_of: date | None = None) -> Bill | None:
    """The account's current issued invoice: latest period, latest version."""
    return (_bills(user, as_of=as_of).filter(account_id=account_id, kind=Bill.Kind.INVOICE, status=Bill.Status.ISSUED)
            .order_by("-period_code", "-version").first())


def effective_bill(*, user: User, account_id: int, period_code: str) -> Bill | None:
    return (_bills(user).filter(account_id=account_id, period_code=period_code, kind=Bill.Kind.INVOICE,
                                status=Bill.Status.ISSUED).order_by("-version").first())


def bill_lines(*, bill: Bill) -> QuerySet[BillLine]:
    return bill.lines.order_by("line_no")


def bill_reads(*, bill: Bill) -> QuerySet[BillRead]:
    return bill.reads.order_by("segment", "asset_number", "register")


def bill_versions(*, user: User, bill: Bill) -> QuerySet[Bill]:
    """All versions (invoices and credit notes) of the same account and period: the correction trail."""
    return _bills(user).filter(account_id=bill.account_id, period_code=bill.period_code).order_by("version", "kind")


def bill_issued_by(*, bill: Bill) -> User | None:
    """Who issued the bill. The bill row keeps who prepared and who approved it; issuing is the
    audited act of whoever did it, so it is read from the audit trail rather than stored twice: the
    run's issue (at the bill's issued_at), the approval that issues a correction, or the creation
    of a back-billing adjustment bill."""
    if bill.status != Bill.Status.ISSUED or bill.issued_at is None:
        return None
    events = AuditEvent.objects.filter(actor__isnull=False).select_related("actor")
    if bill.kind == Bill.Kind.ADJUSTMENT:
        events = events.filter(object_type="bill", object_id=str(bill.pk), action=AuditEvent.Action.CREATE)
    elif bill.run_id is not None:
        events = events.filter(object_type="billing_run", object_id=str(bill.run_id), action=AuditEvent.Action.ACTION,
                               at=bill.issued_at, summary__endswith="bills issued")
    elif bill.corrects_id is not None:  # a correction: the credit note and its rebill are issued together
        rebill = bill.pk if bill.kind == Bill.Kind.INVOICE else (
            Bill.objects.filter(account_id=bill.account_id, period_code=bill.period_code, version=bill.version,
                                kind=Bill.Kind.INVOICE).values_list("pk", flat=True).first())
        events = events.filter(object_type="bill", object_id=str(rebill), action=AuditEvent.Action.ACTION,
                               summary__endswith="approved and issued")
    else:
        return None
    event = events.order_by("at", "id").first()
    return event.actor if event else None


@dataclass(frozen=True)
class HistoryPoint:
    period_code: str
    total_fen: int
    energy_wh: int
    bill_id: int


def bill_history(*, user: User, account_id: int, months: int = 12, until: str | None = None) -> list[HistoryPoint]:
    """The effective (latest issued version) invoice per period, oldest first, at most `months`."""
    qs = _bills(user).filter(account_id=account_id, kind=Bill.Kind.INVOICE, status=Bill.Status.ISSUED)
    if until:
        qs = qs.filter(period_code__lte=until)
    latest: dict[str, Bill] = {}
    for b in qs.order_by("period_code", "version"):
        latest[b.period_code] = b
    codes = sorted(latest)[-months:]
    return [HistoryPoint(c, latest[c].total_fen, latest[c].energy_wh, latest[c].pk) for c in codes]


def tou_breakdown(*, bill: Bill) -> list[tuple[str, Decimal]]:
    """kWh per time-of-use bucket from the energy lines (for the chart), in display order."""
    order = ["sharp", "peak", "flat", "valley", "deep_valley"]
    sums: dict[str, Decimal] = {}
    for line in bill.lines.filter(component="energy", unit="kWh"):
        suffix = line.line_code.split(".", 1)[-1]
        if suffix in order:
            sums[suffix] = sums.get(suffix, Decimal(0)) + line.quantity
    return [(b, sums[b]) for b in order if b in sums]


# --------------------------------------------------------------------------------------------------
# Why did my bill change
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangePart:
    key: str  # usage | price | days | tier | other
    amount_fen: int


@dataclass(frozen=True)
class ChangeExplanation:
    """Change of a bill against the previous period's effective bill, split into parts that add up
    exactly to the difference:

    * days: the previous bill's energy amount scaled by the change in days (same daily usage);
    * usage: the change in daily usage, priced at the previous average energy price;
    * tier: the change in tier surcharges beyond what the usage change explains;
    * price: what is left of the energy and fund lines (tariff price changes);
    * other: fixed and non-energy charges (basic charge, power-factor adjustment, ...).
    """

    bill_id: int
    previous_bill_id: int | None
    total_fen: int
    previous_total_fen: int
    change_fen: int
    kwh: Decimal
    previous_kwh: Decimal
    days: int
    previous_days: int
    parts: list[ChangePart] = field(default_factory=list)


def _energy_parts(bill: Bill) -> tuple[int, int, int]:
    """(energy+fund amount, of which tier surcharge above tier-1 price, other amount)."""
    energy = tier = other = 0
    lines = list(bill.lines.all())
    tier1 = next((ln.unit_price for ln in lines if ln.line_code.endswith("tier1")), None)
    for ln in lines:
        if ln.component in ("energy", "funds") and ln.unit == "kWh":
            energy += ln.amount_fen
            code = ln.line_code.rsplit(".", 1)[-1]
            if code.startswith("tier") and code != "tier1" and "adder" not in code and tier1 is not None:
                tier += int(((ln.unit_price - tier1) * ln.quantity * 100).to_integral_value())
            elif "adder" in code:
                tier += ln.amount_fen
        else:
            other += ln.amount_fen
    return energy, tier, other


def bill_change_explanation(*, user: User, bill_id: int) -> ChangeExplanation | None:
    """Attribute the change against last period to usage, price, days in period and tier."""
    bill = bill_get(user=user, bill_id=bill_id)
    if bill is None:
        return None
    prev_code = month_period(bill.period_code).previous().code
    prev = effective_bill(user=user, account_id=bill.account_id, period_code=prev_code)
    days = (bill.end_date - bill.start_date).days
    kwh = Decimal(bill.energy_wh) / 1000
    if prev is None:
        return ChangeExplanation(bill.pk, None, bill.total_fen, 0, bill.total_fen, kwh, Decimal(0), days, 0,
                                 [ChangePart("usage", bill.total_fen)])
    pdays = (prev.end_date - prev.start_date).days
    pkwh = Decimal(prev.energy_wh) / 1000
    e1, t1, o1 = _energy_parts(bill)
    e0, t0, o0 = _energy_parts(prev)
    change = bill.total_fen - prev.total_fen
    days_fen = int((Decimal(e0) * (Decimal(days) / Decimal(pdays) - 1)).to_integral_value()) if pdays else 0
    avg0 = Decimal(e0 - t0) / pkwh if pkwh else Decimal(0)
    expected_kwh = pkwh * Decimal(days) / Decimal(pdays) if pdays else pkwh
    usage_fen = int(((kwh - expected_kwh) * avg0).to_integral_value())
    scaled_t0 = Decimal(t0) * (kwh / pkwh) if pkwh else Decimal(0)
    tier_fen = int((Decimal(t1) - scaled_t0).to_integral_value()) if t1 or t0 else 0
    other_fen = o1 - o0
    price_fen = change - days_fen - usage_fen - tier_fen - other_fen
    parts = [ChangePart("usage", usage_fen), ChangePart("price", price_fen), ChangePart("days", days_fen),
             ChangePart("tier", tier_fen), ChangePart("other", other_fen)]
    return ChangeExplanation(bill.pk, prev.pk, bill.total_fen, prev.total_fen, change, kwh, pkwh, days, pdays, parts)


# --------------------------------------------------------------------------------------------------
# Console: runs, exceptions, period progress
# --------------------------------------------------------------------------------------------------


def run_list(*, user: User, period_code: str = "") -> QuerySet[BillingRun]:
    qs = BillingRun.objects.select_related("org_unit", "prepared_by", "approved_by")
    if user.role == Role.CUSTOMER:
        return qs.none()
    if user.org_unit_id is not None:
        qs = qs.filter(org_unit__path__startswith=user.org_unit.path)
    elif user.role != Role.ADMINISTRATOR:
        return qs.none()
    if period_code:
        qs = qs.filter(period_code=period_code)
    return qs.order_by("-created_at", "-id")


def run_get(*, user: User, run_id: int) -> BillingRun | None:
    return run_list(user=user).filter(pk=run_id).first()


def run_bill_counts(*, run: BillingRun) -> dict[str, int]:
    rows = Bill.objects.filter(run=run).values("status").annotate(n=Count("id")).order_by("status")
    counts = {r["status"]: r["n"] for r in rows}
    counts["open_exceptions"] = BillException.objects.filter(run=run, status=BillException.Status.OPEN).count()
    counts["amount_fen"] = Bill.objects.filter(run=run).aggregate(s=Sum("total_fen"))["s"] or 0
    return counts


def run_skips(*, run: BillingRun) -> QuerySet[BillingRunSkip]:
    return run.skips.select_related("account").order_by("account__number")


def exception_queue(*, user: User, status: str = BillException.Status.OPEN, rule: str = "",
                    run_id: int | None = None) -> QuerySet[BillException]:
    qs = BillException.objects.filter(account_scope_q(user=user, prefix="bill__account__")).select_related(
        "bill", "bill__account", "resolved_by")
    if status:
        qs = qs.filter(status=status)
    if rule:
        qs = qs.filter(rule=rule)
    if run_id:
        qs = qs.filter(run_id=run_id)
    return qs.order_by("bill__account__number", "id")


def exception_get(*, user: User, exception_id: int) -> BillException | None:
    return exception_queue(user=user, status="").filter(pk=exception_id).first()


def exception_counts(*, user: User, run_id: int | None = None) -> dict[str, int]:
    qs = exception_queue(user=user, run_id=run_id)
    return {r["rule"]: r["n"] for r in qs.values("rule").annotate(n=Count("id")).order_by("rule")}


@dataclass(frozen=True)
class PeriodProgress:
    period: BillingPeriod
    accounts: int
    reads_valid: int
    reads_estimated: int
    reads_quarantined: int
    bills: dict[str, int]
    open_exceptions: int
    runs: list[BillingRun]

    @property
    def billed(self) -> int:
        return sum(self.bills.values())

    @property
    def percent_billed(self) -> int:
        return int(self.billed * 100 / self.accounts) if self.accounts else 0

    @property
    def percent_issued(self) -> int:
        return int(self.bills.get("issued", 0) * 100 / self.accounts) if self.accounts else 0


def _visible_periods(user: User) -> QuerySet[BillingPeriod]:
    qs = BillingPeriod.objects.select_related("org_unit")
    if user.role == Role.CUSTOMER:
        return qs.none()
    if user.org_unit_id is None:
        return qs if user.role == Role.ADMINISTRATOR else qs.none()
    ancestors = [int(p) for p in user.org_unit.path.strip("/").split("/") if p]
    return qs.filter(Q(org_unit__path__startswith=user.org_unit.path) | Q(org_unit_id__in=ancestors))


def period_progress(*, user: User, period_code: str | None = None, limit: int = 12) -> list[PeriodProgress]:
    """Progress of each calendar period the user can see, counted over the deeper of the period's
    and the user's org-unit subtree: closing reads (valid / estimated), quarantined reads, version-1
    bills by status, open exceptions and runs."""
    periods = _visible_periods(user)
    if period_code:
        periods = periods.filter(code=period_code)
    out = []
    for period in periods.order_by("-code", "org_unit__path")[:limit]:
        path = period.org_unit.path
        if user.org_unit_id is not None and len(user.org_unit.path) > len(path):
            path = user.org_unit.path
        in_scope = Account.objects.filter(org_unit__path__startswith=path)
        accounts = in_scope.exclude(status=Account.Status.CLOSED).count()
        reads = (MeterRead.objects.filter(read_date=period.end_date, register="total",
                                          meter__service_point__account__in=in_scope)
                 .values("status").annotate(n=Count("id")))
        rc = {r["status"]: r["n"] for r in reads}
        quarantined = MeterRead.objects.filter(
            status=MeterRead.Status.QUARANTINED, read_date__gte=period.start_date, read_date__lte=period.end_date,
            meter__service_point__account__in=in_scope).count()
        bills = Bill.objects.filter(period_code=period.code, kind=Bill.Kind.INVOICE, version=1,
                                    org_unit__path__startswith=path)
        bc = {r["status"]: r["n"] for r in bills.values("status").annotate(n=Count("id")).order_by("status")}
        exc = BillException.objects.filter(bill__period_code=period.code, status=BillException.Status.OPEN,
                                           bill__org_unit__path__startswith=path).count()
        runs = list(BillingRun.objects.filter(period_code=period.code).order_by("-created_at")[:5])
        out.append(PeriodProgress(period, accounts, rc.get("valid", 0), rc.get("estimated", 0), quarantined, bc, exc,
                                  runs))
    return out


def bills_for_period(*, user: User, period_code: str, status: str = "") -> QuerySet[Bill]:
    qs = _bills(user).filter(period_code=period_code)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("account").order_by("account__number", "version", "kind")


def org_units_for(*, user: User) -> QuerySet[OrgUnit]:
    if user.role == Role.ADMINISTRATOR and user.org_unit_id is None:
        return OrgUnit.objects.all()
    if user.org_unit_id is None:
        return OrgUnit.objects.none()
    return OrgUnit.objects.filter(path__startswith=user.org_unit.path)


def split_total(total_fen: int, weights: list[int]) -> list[int]:
    """Exact split used for charts (never loses a fen)."""
    return allocate_fen(total_fen, weights)


def last_period_code() -> str | None:
    return Bill.objects.aggregate(m=Max("period_code"))["m"]


# --------------------------------------------------------------------------------------------------
# The bill document (portal page, console page and PDF share it)
# --------------------------------------------------------------------------------------------------

TOU_ORDER = ("sharp", "peak", "flat", "valley", "deep_valley")


@dataclass(frozen=True)
class TouShare:
    bucket: str
    kwh: Decimal
    percent: int  # whole percent; the shares add up to 100 exactly


@dataclass(frozen=True)
class AdjustedBill:
    """A bill a back-billing adjustment corrects (bill_id is None when the viewer may not open it)."""

    period_code: str
    number: str
    bill_id: int | None


@dataclass(frozen=True)
class BillDocument:
    """Everything printed on a bill: header, amount due, lines with explanations, the reads used,
    the time-of-use breakdown, the last 12 months, the correction trail and the change against last
    month. Personal fields are already masked for the viewer."""

    bill: Bill
    company: str
    customer_name: str
    address: str
    lines: list[BillLine]
    reads: list[BillRead]
    tou: list[TouShare]
    history: list[HistoryPoint]
    versions: list[Bill]
    replaced_by: Bill | None
    change: ChangeExplanation | None
    adjusted: list[AdjustedBill] = field(default_factory=list)  # an adjustment bill: the bills it corrects

    @property
    def last_day(self) -> date:
        """The period's last day (the end date is exclusive)."""
        from datetime import timedelta

        return self.bill.end_date - timedelta(days=1)

    @property
    def kwh(self) -> Decimal:
        return Decimal(self.bill.energy_wh) / 1000


def _tou_shares(lines: list[BillLine]) -> list[TouShare]:
    sums: dict[str, Decimal] = {}
    for line in lines:
        if line.component != "energy" or line.unit != "kWh":
            continue
        bucket = line.line_code.split(".", 1)[-1]
        if bucket in TOU_ORDER:
            sums[bucket] = sums.get(bucket, Decimal(0)) + abs(line.quantity)
    buckets = [b for b in TOU_ORDER if b in sums]
    if not buckets:
        return []
    weights = [int(sums[b] * 1000) for b in buckets]
    percents = allocate_fen(100, weights) if sum(weights) else [0] * len(buckets)
    return [TouShare(b, sums[b], p) for b, p in zip(buckets, percents, strict=True)]


REGISTER_ORDER = ("total", "sharp", "peak", "flat", "valley", "reactive", "demand")


def _read_order(r: BillRead) -> tuple:
    reg = REGISTER_ORDER.index(r.register) if r.register in REGISTER_ORDER else len(REGISTER_ORDER)
    return (r.segment, r.asset_number, reg)


def _company_of(bill: Bill) -> str:
    root_id = next((int(p) for p in bill.org_unit.path.strip("/").split("/") if p), bill.org_unit_id)
    root = OrgUnit.objects.filter(pk=root_id).values_list("name", flat=True).first()
    return root or bill.org_unit.name


def bill_document(*, user: User, bill_id: int) -> BillDocument | None:
    """The document of a bill the user may see (a portal customer: issued bills of their accounts)."""
    from gridcare.customers.selectors import masked_customer, shown

    bill = bill_get(user=user, bill_id=bill_id)
    if bill is None:
        return None
    customer = bill.account.customer
    point = bill.account.service_points.order_by("id").first()
    address = shown(user=user, record=point, field="address").text if point is not None else ""
    lines = list(bill.lines.order_by("line_no"))
    versions = list(bill_versions(user=user, bill=bill))
    later = [b for b in versions if b.kind == Bill.Kind.INVOICE and b.version > bill.version]
    replaced_by = later[-1] if later and bill.kind == Bill.Kind.INVOICE else None
    change = bill_change_explanation(user=user, bill_id=bill.pk) if bill.kind == Bill.Kind.INVOICE else None
    adjusted = []
    if bill.kind == Bill.Kind.ADJUSTMENT:
        traced = sorted({(ln.corrects_period, ln.corrects_number) for ln in lines if ln.corrects_number})
        ids = dict(_bills(user).filter(account_id=bill.account_id, number__in=[n for _p, n in traced])
                   .values_list("number", "pk"))
        adjusted = [AdjustedBill(period, number, ids.get(number)) for period, number in traced]
    return BillDocument(
        bill=bill, company=_company_of(bill), customer_name=masked_customer(user=user, customer=customer)["name"],
        address=address, lines=lines, reads=sorted(bill.reads.all(), key=_read_order),
        tou=_tou_shares(lines), history=bill_history(user=user, account_id=bill.account_id, until=bill.period_code),
        versions=versions, replaced_by=replaced_by, change=change, adjusted=adjusted,
    )
