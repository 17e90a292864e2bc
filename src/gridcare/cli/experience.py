"""`gridcare experience refresh`: recompute customer tags, risk scores and recommendations."""

from __future__ import annotations

import typer
from rich.console import Console

from gridcare.cli.app import app, setup_django

experience_app = typer.Typer(help="Customer experience: tags, portraits, negative-experience risk.",
                             no_args_is_help=True)
app.add_typer(experience_app, name="experience")


@experience_app.command("refresh")
def refresh(org: str = typer.Option(None, "--org", help="only this org unit's subtree (code)")) -> None:
    """Recompute tags, risk and recommendations as of now (idempotent; run nightly)."""
    setup_django()
    from django.utils import timezone

    from gridcare.core.errors import GridcareError
    from gridcare.experience.services import experience_refresh

    console = Console()
    try:
        with console.status("refreshing customer experience data"):
            r = experience_refresh(as_of=timezone.now(), org_unit_code=org or None)
    except GridcareError as exc:
        console.print(f"[red]error[/red] ({exc.field or 'input'}): {exc.message}")
        raise typer.Exit(2) from None
    console.print(f"{r.accounts} accounts: [bold]{r.tags}[/bold] tags, [red]{r.high_risk}[/red] high risk, "
                  f"{r.recommendations} recommendations")
