"""`gridcare import customers FILE.csv`: master data from a CSV file (columns in docs/customers.md).

Exit status: 0 when every row was accepted, 1 when any row was rejected (the valid rows are still
imported), 2 when the file itself cannot be read (nothing is imported).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gridcare.cli.app import import_app, setup_django

MAX_ERRORS_SHOWN = 200


@import_app.command("customers")
def import_customers(
    file: Path = typer.Argument(..., help="CSV file, UTF-8 (with or without BOM) or GBK", show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate and report, write nothing"),
) -> None:
    """Import customers (with accounts, service points and meters); keyed by external id, re-runnable."""
    setup_django()
    from django.utils import timezone

    from gridcare.customers.imports import ImportFileError, customer_import_path

    console = Console()
    err = Console(stderr=True)
    try:
        report = customer_import_path(path=file, actor=None, as_of=timezone.now(), dry_run=dry_run)
    except ImportFileError as exc:
        err.print(f"[bold red]error:[/] {file}: {exc.message}")
        raise typer.Exit(2) from None
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    if report.errors:
        table = Table(title=f"rejected rows in {file.name}", title_justify="left")
        table.add_column("line", justify="right")
        table.add_column("field")
        table.add_column("reason")
        for e in report.errors[:MAX_ERRORS_SHOWN]:
            table.add_row(str(e.line), e.field or "-", e.message)
        err.print(table)
        if len(report.errors) > MAX_ERRORS_SHOWN:
            err.print(f"… and {len(report.errors) - MAX_ERRORS_SHOWN} more")
    verb = "would import" if dry_run else "imported"
    console.print(f"{file.name}: {report.rows} rows; {verb}: {report.created} created, {report.updated} updated, "
                  f"{report.unchanged} unchanged; {report.rejected_rows} rejected")
    if not report.ok:
        raise typer.Exit(1)
