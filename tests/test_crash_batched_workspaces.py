"""kill -9 in the middle of a workspace.create run that trusts the org's list of workspaces (batched reads,
issue 14), then resume: the rows the dead run left claimed are re-checked by name, so nothing is created
twice and nothing is lost; the workspaces that existed before end skipped."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, finished, import_csv, kill_9_when, run_work, start_work, statuses

ROWS = 600


@pytest.mark.timeout(300)
def test_kill_9_mid_workspace_creates_with_a_listed_org_creates_nothing_twice_and_loses_nothing(
    ledger_path: Path, tmp_path: Path, sandbox_factory  # noqa: F811
) -> None:
    names = [f"Sala {i:04d}" for i in range(ROWS)]
    random.Random(9).shuffle(names)
    existing = set(names[::2])  # half exist already: the list skips them without a request
    sb = sandbox_factory(token=TOKEN, seed=4, faults=FaultConfig(latency_ms=2, latency_jitter_ms=3))
    for name in sorted(existing):
        sb.state.add_workspace(name)
    import_csv(ledger_path, "workspace.create", tmp_path / "workspaces.csv", ["display_name"], [[n] for n in names])

    proc = start_work(ledger_path, sb.base_url, "--batch-size", "50", out=tmp_path / "work.out")
    kill_9_when(proc, lambda: finished(ledger_path) >= 200)
    assert statuses(ledger_path).get("running", 0) > 0  # the kill left claimed rows behind
    listed = [r for r in sb.requests()
              if r.method == "GET" and r.path == "/v1/workspaces" and "displayName" not in r.query]
    assert listed, "the killed run did not list the org's workspaces"

    code, out = run_work(ledger_path, sb.base_url, "--batch-size", "200", timeout=240)
    assert code == 0, out[-2000:]
    final = statuses(ledger_path)
    assert set(final) <= {"succeeded", "skipped"} and sum(final.values()) == ROWS
    assert all(len(sb.state.workspaces_by_name(n)) == 1 for n in names)
    assert all(sb.state.workspace_create_counts[n] == (0 if n in existing else 1) for n in names)
    assert final.get("skipped", 0) >= len(existing)
