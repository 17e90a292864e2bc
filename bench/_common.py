"""What the database benchmarks share: CPU time of this process and a throw-away database.

Not a benchmark itself (`make bench` runs bench_*.py); the scripts import it as `_common`, since
running `python bench/bench_x.py` puts bench/ first on the import path.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path


def cpu_seconds() -> float:
    """CPU seconds (user + system, all threads) of this process: unlike wall time, not inflated when
    other work shares the machine's cores."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def fresh_database(url: str | None, workdir: Path, *, prefix: str) -> tuple[str, Callable[[], None]]:
    """A fresh database URL for this run (SQLite in `workdir` without a PostgreSQL URL; else a new
    database next to the one named) and a function that removes it."""
    if not url:
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    base, _, _ = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    return f"{base}/{name}", drop
