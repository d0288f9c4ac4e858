"""kill -9 the worker at random moments of a 3,000-row run, then resume: nothing lost, nothing twice."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, import_users, query, run_work, start_work, statuses

ROWS = 3000


def _done(db: Path) -> int:
    counts = statuses(db)
    return counts.get("succeeded", 0) + counts.get("skipped", 0) + counts.get("failed", 0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_at_five_random_moments_then_resume(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, ROWS)
    # a little latency so that a kill lands while requests (creates included) are in flight
    sb = sandbox_factory(token=TOKEN, seed=9, faults=FaultConfig(latency_ms=2, latency_jitter_ms=3))
    rnd = random.Random(42)
    log = tmp_path / "work.out"
    kills = 0
    for _ in range(5):
        before = _done(ledger_path)
        proc = start_work(ledger_path, sb.base_url, "--batch-size", "50", out=log)
        deadline = time.monotonic() + 60
        target = rnd.randint(40, 400)  # rows finished by this process before the kill
        while _done(ledger_path) < before + target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rnd.uniform(0, 0.05))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()  # reaped: its pid is gone, as after a real crash
    assert kills == 5
    mid = statuses(ledger_path)
    assert mid.get("running", 0) > 0  # the last kill left claimed rows behind
    code, out = run_work(ledger_path, sb.base_url, "--batch-size", "200", timeout=300)
    assert code == 0, out[-2000:]
    final = statuses(ledger_path)
    assert set(final) <= {"succeeded", "skipped"} and sum(final.values()) == ROWS  # none lost, none failed
    assert all(sb.state.create_count(e) == 1 for e in emails)  # no duplicate create, none missing
    runs = query(ledger_path, "SELECT status, message FROM runs ORDER BY id")
    assert [r.status for r in runs] == ["interrupted"] * 5 + ["completed"]
    assert all("not running any more" in (r.message or "") for r in runs[:5])
