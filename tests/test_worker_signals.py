"""Real signals to a real `ledger work` process: stop cleanly (exit 4, resumable); a second Ctrl-C exits at once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, import_users, query, run_work, start_work, statuses

ROWS = 800


def _done(db: Path) -> int:
    counts = statuses(db)
    return counts.get("succeeded", 0) + counts.get("skipped", 0) + counts.get("failed", 0)


def _wait_progress(db: Path, proc, rows: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while _done(db) < rows and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the worker ended before the signal"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_then_resume_completes(ledger_path: Path, tmp_path: Path, sandbox_factory, signum: int) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, ROWS)
    sb = sandbox_factory(token=TOKEN, seed=6, faults=FaultConfig(latency_ms=10))
    proc = start_work(ledger_path, sb.base_url, "--batch-size", "100")
    _wait_progress(ledger_path, proc, 50)
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 4, out.decode()[-2000:]
    counts = statuses(ledger_path)
    assert counts.get("running", 0) == 0 and counts.get("failed", 0) == 0  # unstarted claims released
    assert counts["pending"] > 0
    run = query(ledger_path, "SELECT status, exit_code FROM runs")[-1]
    assert (run.status, run.exit_code) == ("interrupted", 4)
    assert "interrupted" in out.decode()
    code, out2 = run_work(ledger_path, sb.base_url)
    assert code == 0, out2[-2000:]
    assert statuses(ledger_path) == {"succeeded": ROWS}
    assert all(sb.state.create_count(e) == 1 for e in emails)


@pytest.mark.slow
def test_second_ctrl_c_exits_at_once_and_the_next_run_recovers(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, ROWS)
    # slow answers: the first Ctrl-C alone would wait for the rows in flight
    sb = sandbox_factory(token=TOKEN, seed=6, faults=FaultConfig(latency_ms=300))
    proc = start_work(ledger_path, sb.base_url, "--batch-size", "100")
    _wait_progress(ledger_path, proc, 8)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 4, out.decode()
    assert "second interrupt" in out.decode()
    assert statuses(ledger_path).get("running", 0) > 0  # it really left at once: claims still held
    sb.faults.latency_ms = 0
    code, out2 = run_work(ledger_path, sb.base_url)
    assert code == 0, out2[-2000:]
    final = statuses(ledger_path)
    assert set(final) <= {"succeeded", "skipped"} and sum(final.values()) == ROWS
    assert all(sb.state.create_count(e) == 1 for e in emails)
    runs = query(ledger_path, "SELECT status FROM runs ORDER BY id")
    assert [r.status for r in runs] == ["interrupted", "completed"]  # the dead run was reclaimed
