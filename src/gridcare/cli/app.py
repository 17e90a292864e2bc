"""The `gridcare` Typer application and its sub-groups.

Command modules in this package import `app` (or a sub-group) and register their commands.
Commands that need the database call `setup_django()` first, so `gridcare rate` runs from files
alone, with no database and no settings.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time

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


def parse_as_of(text: str | None, *, bare_date_at: time | None = None, example: str = "2026-11-10T10:00") -> datetime:
    """`--as-of` of every command: empty is now (the clock is read here, at the edge, never in domain
    code); an ISO date-time without an offset is business time (Asia/Shanghai). Commands that take a
    bare date (YYYY-MM-DD) say at what time of that day it counts (`bare_date_at`)."""
    from django.utils import timezone

    from gridcare.core.calendars import BUSINESS_TZ

    if not text:
        return timezone.now()
    try:
        if bare_date_at is not None and len(text) == 10:
            return datetime.combine(date.fromisoformat(text), bare_date_at, tzinfo=BUSINESS_TZ)
        value = datetime.fromisoformat(text)
    except ValueError:
        wanted = "a date (YYYY-MM-DD) or ISO datetime" if bare_date_at is not None else (
            f"an ISO date-time such as {example}")
        raise typer.BadParameter(f"{text!r} is not {wanted}", param_hint="--as-of") from None
    return value if value.tzinfo else value.replace(tzinfo=BUSINESS_TZ)


@app.command("manage", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context) -> None:
    """Run a Django management command (migrate, runserver, createsuperuser, ...)."""
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["gridcare manage", *ctx.args])
