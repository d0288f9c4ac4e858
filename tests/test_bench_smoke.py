"""`make bench` stays runnable: a tiny `bench/run.py --quick` run prints its table and writes its JSON.

No timing is asserted: the figures of a quick run mean nothing. What is checked is that every benchmark
ran to completion against the local sandbox, that each produced its rows with numbers in them, and that
the request counts the benches rely on still hold (user.create ≈ 1 request a row with batched reads, SCIM bulk
≤ 100 users a request, the floor bench's two sides send the same requests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_bench_run_prints_the_table_and_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    header = proc.stdout.splitlines()[0].split()
    assert header[:3] == ["bench", "case", "measured"]
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["quick"] is True
    assert results["machine"]["nproc"] >= 1
    benches = {r["bench"] for r in results["table"]}
    assert benches == {"import", "worker", "latency", "rate", "bulk", "requests", "migration", "scale"}
    for r in results["table"]:
        assert r["case"] in proc.stdout  # every row is printed
        assert any(ch.isdigit() for ch in r["measured"]), r
    raw = results["raw"]
    assert [r["concurrency"] for r in raw["latency"]] == [1, 4, 8]
    create, scim = raw["bulk"]
    # batched reads: a create per row, plus the preflight, ten lookups and the list of the org's people
    assert create["rows"] <= create["requests"] <= create["rows"] + 15
    assert scim["requests"] <= -(-scim["rows"] // 100) + 3  # one /Bulk request per 100 users (+ preflight, list)
    assert raw["worker"]["requests"]["bare"] == raw["worker"]["requests"]["ledger"]
    batched = {"workspace.create", "workspace.secondary_number", "location.numbers", "location.main_number"}
    rerun = [r for r in raw["requests"] if r["action"] in batched and r["case"].startswith("10 %")]
    assert len(rerun) == len(batched) and all(r["requests"] < r["rows"] / 2 for r in rerun)  # no read per row
    moves = [r for r in raw["requests"] if r["action"] == "user.move_location"]
    assert moves and all(r["requests"] < r["rows"] for r in moves)  # jobs of many users, not one per row
    assert raw["migration"]["after"]["complete_users"] == raw["migration"]["after"]["users"]
    maxrate = next(r for r in raw["rate"] if r["case"] == "maxrate")
    assert maxrate["accepted"] >= maxrate["rows"]


def test_run_rejects_an_unknown_bench(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--only", "nope", "--out", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown bench(es): nope" in proc.stderr
    assert not (tmp_path / "r.json").exists()
