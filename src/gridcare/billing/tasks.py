"""Starting a billing run in the background from the console or the API.

The run itself is `gridcare billing run`, which is resumable and idempotent, so the launcher only
has to start that command detached from the web request: the console then polls the run's row
(HTMX) for progress. A worker that dies is harmless; starting the command again resumes the run.

Launchers (setting GRIDCARE_BILLING_RUN_LAUNCHER or the environment variable of the same name):
`subprocess` (default: works with `make demo`, which runs no queue worker) or `inline` (run in
the calling thread; tests and single-user tools).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta

from django.conf import settings

from gridcare.billing.models import BillingRun

logger = logging.getLogger("gridcare.billing")
STALE_AFTER = timedelta(minutes=2)


def launcher() -> str:
    return getattr(settings, "GRIDCARE_BILLING_RUN_LAUNCHER", None) or os.environ.get(
        "GRIDCARE_BILLING_RUN_LAUNCHER", "subprocess")


def run_is_stale(run: BillingRun, *, as_of: datetime) -> bool:
    """An active run whose worker has not reported for a while (killed, server restarted)."""
    if run.status not in BillingRun.ACTIVE:
        return False
    last = run.heartbeat_at or run.started_at or run.created_at
    return last is None or as_of - last > STALE_AFTER


def billing_run_launch(*, run: BillingRun, as_of: datetime) -> str:
    """Start (or resume) the run's work outside the request; returns how it was started."""
    mode = launcher()
    if mode == "inline":
        from gridcare.billing.services import billing_run_execute

        billing_run_execute(run_id=run.pk, as_of=as_of)
        return "inline"
    args = [sys.executable, "-c", "from gridcare.cli import main; main()", "billing", "run", "--period",
            run.period_code, "--chunk-size", str(run.chunk_size)]
    if run.org_unit_id is not None:
        args += ["--org", run.org_unit.code]
    log_dir = settings.VAR_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"billing-run-{run.pk}.log", "ab")  # noqa: SIM115 - handed to the child process
    try:
        subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: S603
                         start_new_session=True, env={**os.environ, "COLUMNS": "120"})
    finally:
        log.close()
    logger.info("billing run %s started in the background", run.pk)
    return "subprocess"
