"""Reconciliation reads: statements, lines, discrepancies, daily reports and the 自动对账率 KPI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from gridcare.reconciliation.models import DailyReport, Discrepancy, LineStatus, Statement, StatementLine


def statement_list(*, source: str = "") -> QuerySet[Statement]:
    qs = Statement.objects.select_related("imported_by")
    return qs.filter(source=source) if source else qs


def statement_get(*, statement_id: int) -> Statement | None:
    return Statement.objects.filter(pk=statement_id).first()


def statement_lines(*, statement_id: int, status: str = "") -> QuerySet[StatementLine]:
    qs = StatementLine.objects.select_related("payment", "account").filter(statement_id=statement_id)
    return qs.filter(status=status) if status else qs


def discrepancy_list(*, status: str = "", kind: str = "", source: str = "") -> QuerySet[Discrepancy]:
    qs = Discrepancy.objects.select_related("line", "payment", "account", "work_order", "resolved_by")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if source:
        qs = qs.filter(source=source)
    return qs


def discrepancy_get(*, discrepancy_id: int) -> Discrepancy | None:
    return discrepancy_list().filter(pk=discrepancy_id).first()


def daily_report_get(*, business_date: date) -> DailyReport | None:
    return DailyReport.objects.filter(business_date=business_date).first()


def daily_reports(*, limit: int = 31) -> QuerySet[DailyReport]:
    return DailyReport.objects.all()[:limit]


@dataclass(frozen=True)
class AutoRate:
    """自动对账率 = 自动对账笔数 / 当月总笔数 × 100% (T/CI 1281—2025 表1).

    Counted over [start, end) by value date: `total` is every statement line (matched, mismatched,
    duplicate, unmatched) plus every payment the statements never showed (资金未到账); `auto` is
    the lines matched by the system without a person. Lines matched by hand count in `total` only.
    """

    start: date
    end: date
    auto: int
    total: int
    manual: int
    open_discrepancies: int

    @property
    def rate(self) -> Decimal | None:
        return Decimal(self.auto) / Decimal(self.total) if self.total else None


def auto_reconciliation_rate(*, start: date, end: date, source: str = "") -> AutoRate:
    lines = StatementLine.objects.filter(value_date__gte=start, value_date__lt=end)
    missing = Discrepancy.objects.filter(kind=Discrepancy.Kind.MISSING, business_date__gte=start,
                                         business_date__lt=end)
    open_items = Discrepancy.objects.filter(status=Discrepancy.Status.OPEN, business_date__gte=start,
                                            business_date__lt=end)
    if source:
        lines, missing, open_items = (lines.filter(source=source), missing.filter(source=source),
                                      open_items.filter(source=source))
    auto = lines.filter(status=LineStatus.MATCHED, auto=True).count()
    manual = lines.filter(status=LineStatus.MATCHED, auto=False).count()
    return AutoRate(start=start, end=end, auto=auto, total=lines.count() + missing.count(), manual=manual,
                    open_discrepancies=open_items.count())
