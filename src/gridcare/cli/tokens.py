"""`gridcare token create|list|revoke`: API bearer tokens for scripts, portals and payment callbacks."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from gridcare.cli.app import app, setup_django

token_app = typer.Typer(help="API tokens (Authorization: Bearer <token>).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    username: str = typer.Argument(..., help="the user the token acts as"),
    name: str = typer.Option("cli", "--name", help="a label to recognise the token by"),
) -> None:
    """Create a token and print it once; only its digest is stored."""
    setup_django()
    from django.utils import timezone

    from gridcare.access.models import User
    from gridcare.access.services import api_token_create

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        Console(stderr=True).print(f"[bold red]error:[/] no active user {username!r}")
        raise typer.Exit(2)
    raw = api_token_create(user=user, name=name, as_of=timezone.now())
    Console(stderr=True).print(f"token for {username} ({user.role}); it is shown only once:")
    print(raw)


@token_app.command("list")
def token_list(username: str = typer.Option("", "--user", help="only this user's tokens")) -> None:
    setup_django()
    from gridcare.access.models import User
    from gridcare.access.selectors import api_token_list

    user = User.objects.filter(username=username).first() if username else None
    table = Table()
    for col in ("prefix", "user", "name", "created", "last used", "revoked"):
        table.add_column(col)
    for t in api_token_list(user=user):
        table.add_row(t.prefix, t.user.username, t.name, f"{t.created_at:%Y-%m-%d %H:%M}",
                      f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "-",
                      f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "")
    Console().print(table)


@token_app.command("revoke")
def token_revoke(prefix: str = typer.Argument(..., help="the first 8 characters of the token")) -> None:
    setup_django()
    from django.utils import timezone

    from gridcare.access.services import api_token_revoke
    from gridcare.core.errors import NotFound

    try:
        n = api_token_revoke(prefix=prefix, actor=None, as_of=timezone.now())
    except NotFound as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    Console().print(f"revoked {n} token(s)")
