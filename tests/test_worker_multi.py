"""Several `ledger work` processes on one ledger: every row executed by exactly one of them, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, import_users, query, start_work, statuses


@pytest.mark.slow
def test_two_worker_processes_never_execute_a_row_twice(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, 1000)
    sb = sandbox_factory(token=TOKEN, seed=12, faults=FaultConfig(latency_ms=1, p503=0.02))
    procs = [start_work(ledger_path, sb.base_url, "--batch-size", "20", "--retry-profile", "fast") for _ in range(2)]
    outs = [p.communicate(timeout=240)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert statuses(ledger_path) == {"succeeded": 1000}
    assert all(sb.state.create_count(e) == 1 for e in emails)
    runs = query(ledger_path, "SELECT id, claimed, status FROM runs")
    assert len(runs) == 2 and all(r.claimed > 0 for r in runs)  # both really worked
    assert sum(r.claimed for r in runs) == 1000  # no row claimed by both
    per_row = query(ledger_path, "SELECT row_id, count(DISTINCT run_id) AS n FROM attempts GROUP BY row_id")
    assert len(per_row) == 1000 and {r.n for r in per_row} == {1}


@pytest.mark.slow
def test_a_429_pauses_every_worker_process_sharing_the_ledger(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, 120)
    sb = sandbox_factory(token=TOKEN, seed=5, faults=FaultConfig(p429=0.1, retry_after=1))
    procs = [start_work(ledger_path, sb.base_url, "--batch-size", "10", "--retry-profile", "fast") for _ in range(2)]
    outs = [p.communicate(timeout=240)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert statuses(ledger_path) == {"succeeded": 120}
    assert sum(1 for r in sb.requests() if r.status == 429) > 5
    # The pause reaches the other process through the ledger's cooldowns row: the writer stores it at
    # once and every worker re-reads it before sending (<= 20 ms old). A request the other process had
    # already let through just before that can still arrive; none may arrive once the pause is known.
    assert sb.retry_after_violations(grace_s=0.25) == []
    assert all(sb.state.create_count(e) == 1 for e in emails)
