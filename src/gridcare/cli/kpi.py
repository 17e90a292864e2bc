"""`gridcare kpi ...`: compute the KPI snapshots of a month and list the open alerts.

Exit status of `compute`: 0 done (alerts or not), 2 bad input (nothing written).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

import typer
from rich.console import Console
from rich.table import Table

from gridcare.cli.app import app, parse_as_of, setup_django

kpi_app = typer.Typer(help="KPIs (T/CI 1281 表1): snapshots per org unit and period, alerts.", no_args_is_help=True)
app.add_typer(kpi_app, name="kpi")

CENT = Decimal("0.01")
LEVEL_STYLE = {"critical": "bold red", "warning": "yellow", "": "green"}


def _as_of(text: str | None) -> datetime:
    return parse_as_of(text, bare_date_at=time(23, 59, 59))

def _fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value}%" if unit == "percent" else f"{value} h"


@kpi_app.command("compute")
def compute(period: str = typer.Option(..., "--period", help="YYYY-MM"),
            as_of: str = typer.Option(None, "--as-of", help="figures as of this date/time (default: now)"),
            org: str = typer.Option(None, "--org", help="only this org unit's subtree (code)"),
            kpi: list[str] = typer.Option(None, "--kpi", help="only these KPI codes (repeatable)"),
            level: list[str] = typer.Option(None, "--level", help="only units of these levels (repeatable): "
                                                                  "province, city, county, station")) -> None:
    """Measure every catalogue KPI for every org unit; re-running replaces the month's snapshots."""
    setup_django()
    from gridcare.core.errors import GridcareError
    from gridcare.kpi.catalogue import kpi_catalogue
    from gridcare.kpi.services import kpi_compute

    console = Console()
    try:
        with console.status(f"computing KPIs for {period}"):
            result = kpi_compute(period_code=period, as_of=_as_of(as_of), org_unit_code=org or None,
                                 codes=list(kpi) if kpi else None, levels=list(level) if level else None)
    except GridcareError as exc:
        console.print(f"[red]error[/red] ({exc.field or 'input'}): {exc.message}")
        raise typer.Exit(2) from None
    catalogue = kpi_catalogue()
    table = Table(title=f"KPIs {result.period_code}")
    table.add_column("KPI")
    table.add_column("org unit")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("status")
    for row in result.rows:
        d = catalogue[row.kpi_code]
        table.add_row(f"{d.name_zh} ({d.code})", row.org_unit_code, _fmt(row.value, d.unit), _fmt(d.target, d.unit),
                      f"[{LEVEL_STYLE[row.level]}]{row.level or 'ok'}[/]")
    console.print(table)
    console.print(f"{result.snapshots} snapshots, {result.alerts_open} alerts open, "
                  f"{result.alerts_cleared} cleared")


@kpi_app.command("alerts")
def alerts(status: str = typer.Option("open", "--status", help="open | acknowledged | cleared | all")) -> None:
    """List KPI alerts for the whole company."""
    setup_django()
    from gridcare.kpi.catalogue import kpi_catalogue
    from gridcare.kpi.models import KpiAlert

    qs = KpiAlert.objects.select_related("org_unit").order_by("-raised_at", "-id")
    if status != "all":
        qs = qs.filter(status=status)
    catalogue = kpi_catalogue()
    table = Table(title=f"KPI alerts ({status})")
    for col in ("period", "KPI", "org unit", "level", "value", "threshold", "status"):
        table.add_column(col)
    for a in qs[:500]:
        d = catalogue.get(a.kpi_code)
        unit = d.unit if d else "percent"
        table.add_row(a.period_code, d.name_zh if d else a.kpi_code, a.org_unit.code,
                      f"[{LEVEL_STYLE[a.level]}]{a.level}[/]", _fmt(a.value.quantize(CENT), unit),
                      _fmt(a.threshold.quantize(CENT), unit), a.status)
    Console().print(table)
