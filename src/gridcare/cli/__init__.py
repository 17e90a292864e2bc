"""`gridcare` command line (Typer + Rich). One module per command family."""

from __future__ import annotations

import importlib
import sys

from gridcare.cli.app import app

# Command modules register themselves on import. Add a new family here.
COMMAND_MODULES = [
    "gridcare.cli.rate",
    "gridcare.cli.demo",
    "gridcare.cli.imports",
    "gridcare.cli.tokens",
    "gridcare.cli.money",
    "gridcare.cli.service",
    "gridcare.cli.payments",
    "gridcare.cli.billing",
    "gridcare.cli.assistant",
    "gridcare.cli.kpi",
    "gridcare.cli.experience",
    "gridcare.cli.notify",
    "gridcare.cli.jobs",
]


def main() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
