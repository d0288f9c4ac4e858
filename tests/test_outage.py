"""Systemic failures end the run early with exit 3 and every unexecuted row still pending."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, import_users, query, run_work, start_work, statuses

OUTAGE_S = 40


def _done(db: Path) -> int:
    counts = statuses(db)
    return counts.get("succeeded", 0) + counts.get("skipped", 0) + counts.get("failed", 0)


@pytest.mark.slow(minutes=1)
@pytest.mark.timeout(300)
def test_total_outage_exits_3_promptly_rows_pending_then_a_later_run_completes(
    ledger_path: Path, tmp_path: Path, sandbox_factory  # noqa: F811
) -> None:
    _, emails = import_users(ledger_path, tmp_path, 1500)
    sb = sandbox_factory(token=TOKEN, seed=4, faults=FaultConfig(latency_ms=5))
    proc = start_work(ledger_path, sb.base_url, "--retry-profile", "fast", "--batch-size", "50")
    while _done(ledger_path) < 100 and proc.poll() is None:
        time.sleep(0.05)
    sb.faults.outage = True  # every request now answers 503, for 40 s
    outage_start = time.monotonic()
    out, _ = proc.communicate(timeout=120)
    exited_after = time.monotonic() - outage_start
    text = out.decode()
    assert proc.returncode == 3, text[-2000:]
    assert exited_after < OUTAGE_S  # it gave up within the fast profile's budget, during the outage
    assert "did not recover" in text and "pending" in text
    counts = statuses(ledger_path)
    assert counts.get("failed", 0) == 0 and counts.get("running", 0) == 0  # nothing failed by the outage
    assert counts["pending"] >= 1500 - _done(ledger_path) and counts["pending"] > 1000
    run = query(ledger_path, "SELECT status, exit_code FROM runs")[-1]
    assert (run.status, run.exit_code) == ("failed_systemic", 3)
    time.sleep(max(OUTAGE_S - (time.monotonic() - outage_start), 0))
    sb.faults.outage = False
    code, out2 = run_work(ledger_path, sb.base_url, "--retry-profile", "fast")
    assert code == 0, out2[-2000:]
    final = statuses(ledger_path)
    assert set(final) <= {"succeeded", "skipped"} and sum(final.values()) == 1500
    assert all(sb.state.create_count(e) == 1 for e in emails)


@pytest.mark.slow
def test_wrong_token_exits_3_within_seconds_with_rows_pending(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    import_users(ledger_path, tmp_path, 500)
    sb = sandbox_factory(token=TOKEN, seed=4)
    started = time.monotonic()
    code, out = run_work(ledger_path, sb.base_url, token="tok-this-one-is-wrong-77", timeout=60)
    assert code == 3, out
    assert time.monotonic() - started < 15
    assert "WEBEX_ACCESS_TOKEN" in out and "401" in out
    assert statuses(ledger_path) == {"pending": 500}
    assert len(sb.requests()) == 1  # the preflight check (GET /people/me), not 500 rows of 401s
    assert sb.base_url in out  # the message names the URL
    assert query(ledger_path, "SELECT count(*) AS n FROM runs")[0].n == 0  # stopped before a run claimed anything
