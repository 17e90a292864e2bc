"""`gridcare demo-data`: deterministic demo master data and one login per role.

Other domains add their own demo data (reads, bills, tickets) by listing a `module:function` in
DEMO_STEPS, in dependency order; each step is called after master data as
`function(seed=..., as_of=...)` (plus `console=` when it accepts one), must itself be idempotent and
may return a one-line summary.
"""

from __future__ import annotations

import importlib
import inspect
import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gridcare.cli.app import app, setup_django

DEMO_STEPS: list[str] = [
    "gridcare.parameters.demo:load_demo",
    "gridcare.billing.demo:load_demo",
    "gridcare.billing.backbilling_demo:load_demo",  # needs issued bills; its bills' receivables go to payments
    "gridcare.payments.demo:load_demo",
    "gridcare.collections.demo:load_demo",
    "gridcare.reconciliation.demo:load_demo",
    "gridcare.service.demo:load_demo",
    "gridcare.visits.demo:load_demo",
    "gridcare.assistant.demo:load_demo",
    "gridcare.experience.demo:load_demo",
    "gridcare.kpi.demo:load_demo",
]


def _run_steps(*, seed: int, as_of, console: Console) -> None:
    for step in DEMO_STEPS:
        module_name, _, func_name = step.partition(":")
        func = getattr(importlib.import_module(module_name), func_name)
        kwargs = {"seed": seed, "as_of": as_of}
        if "console" in inspect.signature(func).parameters:
            kwargs["console"] = console
        started = time.perf_counter()
        with console.status(f"demo data: {module_name.split('.')[1]}"):
            summary = func(**kwargs)
        console.print(f"[green]✓[/green] {module_name.split('.')[1]}: {summary or 'done'} "
                      f"({time.perf_counter() - started:.1f} s)")


@app.command("demo-data")
def demo_data(
    customers: int = typer.Option(10000, "--customers", "-n", min=1, max=2_000_000, help="how many demo customers"),
    seed: int = typer.Option(20261101, "--seed", help="random seed; the same seed gives the same data"),
) -> None:
    """Load deterministic demo data (org tree, customers, accounts, meters) and print the demo logins.

    Running it again reuses what is there and only adds what is missing.
    """
    setup_django()
    from django.utils import timezone

    from gridcare.customers.demo import DEMO_PASSWORD, demo_load

    console = Console()
    started = time.perf_counter()
    as_of = timezone.now()
    with Progress(TextColumn("[bold]demo customers"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("customers", total=customers)
        result = demo_load(customers=customers, seed=seed, as_of=as_of,
                           progress=lambda n: bar.advance(task, n))
    _run_steps(seed=seed, as_of=as_of, console=console)
    elapsed = time.perf_counter() - started
    if result.created_customers:
        console.print(f"created {result.created_customers} customers, {result.created_accounts} accounts, "
                      f"{result.created_meters} meters in {elapsed:.1f} s")
    else:
        console.print(f"all {customers} demo customers already present; nothing to add ({elapsed:.1f} s)")

    table = Table(title="gridcare demo logins", show_lines=False)
    table.add_column("username", style="bold")
    table.add_column("password")
    table.add_column("role")
    table.add_column("name")
    table.add_column("sees")
    for login in result.logins:
        table.add_row(login.username, DEMO_PASSWORD, login.role, login.display_name, login.scope)
    console.print(table)
