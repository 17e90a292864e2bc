"""The `gridcare` Typer application and its sub-groups.

Command modules in this package import `app` (or a sub-group) and register their commands.
Commands that need the database call `setup_django()` first, so `gridcare rate` runs from files
alone, with no database and no settings.
"""

from __future__ import annotations

import os

import typer

app = typer.Typer(
    name="gridcare",
    help="gridcare: electricity billing and customer service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Import files (customers, reads, bank statements).", no_args_is_help=True)
app.add_typer(import_app, name="import")


def setup_django() -> None:
    """Configure Django on first use; commands that need no database never pay for it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


@app.command("manage", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context) -> None:
    """Run a Django management command (migrate, runserver, createsuperuser, ...)."""
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["gridcare manage", *ctx.args])
