"""`ledger release` applies the one liveness rule: a live run's rows are never taken (issues 13, 15)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from ledger.reporting import report
from ledger.store.engine import open_ledger
from worker_support import import_users, query

# a real process that registers a run, claims 5 rows and then holds them (its heartbeat goes stale)
HOLDER = """
import os, socket, sys, time
from ledger.store import claims, runs
from ledger.store.engine import open_ledger
engine = open_ledger(sys.argv[1])
run = runs.create_run(engine, pid=os.getpid(), host=socket.gethostname(), import_id=None, batch_size=5,
                      concurrency=1, retry_profile="default", dry_run=False)
claims.claim_batch(engine, run, 5)
engine.dispose()
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(ledger_path: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    import_users(ledger_path, tmp_path, 8)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(ledger_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(1.2)  # its heartbeat is now older than 1s
    yield proc
    proc.kill()
    proc.wait()


def _running(db: Path) -> int:
    return int(query(db, "SELECT count(*) AS n FROM ledger WHERE status = 'running'")[0].n)


def test_release_never_steals_from_a_live_run(
    holder: subprocess.Popen[str], ledger_path: Path, run_cli: Callable[..., Result]
) -> None:
    result = run_cli("release", "--older-than", "1s")
    assert result.exit_code == 0
    assert result.stdout == "released 0 rows held by dead runs (now pending)\n"
    assert _running(ledger_path) == 5
    engine = open_ledger(ledger_path, readonly=True)
    assert report.summary(engine).status == "running"  # `ledger status` applies the same rule: alive
    engine.dispose()
    holder.kill()
    holder.wait()
    result = run_cli("release", "--older-than", "1h")  # its process is gone: dead whatever the heartbeat
    assert result.stdout == "released 5 rows held by dead runs (now pending)\n"
    assert _running(ledger_path) == 0
    assert query(ledger_path, "SELECT status FROM runs")[0].status == "interrupted"


def test_release_force_takes_a_live_runs_rows_with_a_warning(
    holder: subprocess.Popen[str], ledger_path: Path, run_cli: Callable[..., Result]
) -> None:
    result = run_cli("release", "--older-than", "1s", "--force")
    assert result.exit_code == 0
    assert "warning: --force releases rows of runs that may still be working them" in result.stderr
    assert result.stdout == "released 5 rows held by runs silent for more than 1s, alive or not (now pending)\n"
    assert _running(ledger_path) == 0
    rows = query(ledger_path, "SELECT error_code, error_message FROM ledger WHERE run_id IS NOT NULL")
    assert {r.error_code for r in rows} == {"reclaimed"}
    assert all("--force" in r.error_message for r in rows)
