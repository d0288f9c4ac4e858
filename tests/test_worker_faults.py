"""`ledger work` as a real subprocess under the issue's fault mix (429 + Retry-After, 503, hangs, resets, row errors).

The run time of the 2,000-row test is bounded below by physics: every 429 pauses the whole run for
its 1 s Retry-After (no request may be sent inside it), and user.create sends ~2 requests per row
plus retries, so ~10 % of ~5,000 requests give ~500 pauses: measured 499-508 s here, for ~514
throttled answers, i.e. the run is at that floor. ``LEDGER_FAULT_MIX_ROWS`` lowers the row count for
quick local runs (400 rows: ~105 s); the default is the issue's 2,000.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from ledger.work.profiles import get_profile
from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, import_users, query, run_work, statuses

ROWS = int(os.environ.get("LEDGER_FAULT_MIX_ROWS", "2000"))


@pytest.mark.slow(minutes=9)
@pytest.mark.timeout(1500)
def test_fault_mix_every_row_final_each_user_created_once(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, ROWS)
    bad = set(random.Random(5).sample(emails, max(ROWS // 50, 1)))  # 2 % row errors
    faults = FaultConfig(p429=0.10, retry_after=1, p503=0.05, phang=0.02, preset=0.02, row_errors=bad, hang_seconds=60)
    sb = sandbox_factory(token=TOKEN, seed=2024, faults=faults)
    code, out = run_work(ledger_path, sb.base_url, "--concurrency", "4", "--retry-profile", "fast", timeout=1400)
    assert code == 0, out[-3000:]
    assert statuses(ledger_path) == {"succeeded": ROWS - len(bad), "failed": len(bad)}
    failed = query(ledger_path, "SELECT id, payload, error_kind FROM ledger WHERE status = 'failed'")
    assert {json.loads(r.payload)["email"] for r in failed} == bad  # exactly the injected row errors
    # A rejected row fails as a row error, unless faults kept it from ever reaching its write: then it
    # must have spent every try the profile allows (throttled tries do not count), and nothing less.
    for r in failed:
        if r.error_kind != "row":
            tries = query(ledger_path, "SELECT count(*) AS n FROM attempts WHERE row_id = :id AND outcome != 'throttled'", id=r.id)
            assert (r.error_kind, tries[0].n) == ("transient", get_profile("fast").attempts)
    assert sum(r.error_kind == "row" for r in failed) >= len(bad) - 2
    assert all(sb.state.create_count(e) == 1 for e in emails if e not in bad)
    assert all(sb.state.create_count(e) == 0 for e in bad)
    # no request inside a Retry-After window; a request that passed the gate before the 429 reached the
    # client can still arrive a little later on a loaded 2-core machine (seen at > 50 ms): 0.25 s grace,
    # while a request sent during the 1 s pause would land anywhere in it
    assert sb.retry_after_violations(grace_s=0.25) == []
    faults_seen = {r.fault for r in sb.requests() if r.fault}
    assert {"429", "503", "hang", "reset"} <= faults_seen  # the mix really happened
    run = query(ledger_path, "SELECT status, exit_code, throttled, retries FROM runs")[-1]
    assert (run.status, run.exit_code) == ("completed", 0) and run.throttled > 0 and run.retries > 0
    assert "to retry the failed rows: ledger --db" in out
