"""`ledger demo` end to end, as `make demo` runs it (a real subprocess, a real sandbox)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_main_job_and_writes_the_reports(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "ledger", "demo", "--out", str(out), "--rows", "400", "--seed", "5",
         "--faults", "429=0.01,503=0.03,reset=0.01,lost=0.01,retry_after=1"],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "report" / "run_summary.json").read_text())
    with (out / "report" / "row_errors.csv").open(newline="") as fh:
        errors = list(csv.DictReader(fh))

    assert summary["pending"] == 0
    assert summary["succeeded"] + summary["skipped"] + summary["failed_row"] == 400
    assert summary["failed_row"] == 4 == len(errors)  # 1 % of the users are rejected by the sandbox
    assert {e["http_status"] for e in errors} == {"400"}
    assert summary["retries"] > 0  # the injected 503s, resets and lost answers were retried
    assert "users created twice on the server: 0" in proc.stdout
    assert "demo-token" not in proc.stdout + proc.stderr
    assert (out / "ledger.db").exists()
