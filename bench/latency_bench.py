"""Latency hiding: `ledger work` against a sandbox answering every request after 100 ms, at concurrency 1/4/8.

    .venv/bin/python bench/latency_bench.py [--quick]

A user.create row costs the requests the sandbox log shows per row, R (≈ 1 since batched reads: the create,
after ten lookups and one list of the org's people; 2 before), all serial within the row. With L = 100 ms per
request the ideal is ``concurrency / (R × L)`` rows/s. Achieved rows/s is measured from the sandbox's
request log, first request arrival to last answer (the part latency hiding is about; the preflight
``GET /people/me``, sent once before anything is claimed, is left out); the whole
process (start-up, ledger open, summary) is reported alongside. Goal: ≥ 90 % of the ideal.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

try:
    from bench.common import compile_bytecode, SandboxProc, calling_users_csv, ledger_import, ledger_work
except ImportError:  # run as a script
    from common import compile_bytecode, SandboxProc, calling_users_csv, ledger_import, ledger_work  # type: ignore[no-redef]

LATENCY_MS = 100.0


def one(tmp: Path, concurrency: int, rows: int) -> dict[str, Any]:
    with SandboxProc(latency_ms=LATENCY_MS) as sb:
        src, db = tmp / f"lat{concurrency}.csv", tmp / f"lat{concurrency}.db"
        calling_users_csv(sb, src, rows, f"lat{concurrency}.example.com")
        ledger_import(db, src, "user.create")
        run = ledger_work(db, sb.env, "--concurrency", str(concurrency), rows=rows)
        log = [r for r in sb.requests() if r["path"] != "/v1/people/me"]  # not the preflight (before any claim)
    span = max(r["t_end"] or r["t"] for r in log) - min(r["t"] for r in log)
    ideal = concurrency / (len(log) / rows * LATENCY_MS / 1000)  # R measured: the requests the rows needed
    achieved = rows / span
    return {
        "concurrency": concurrency, "rows": rows, "requests": len(log),
        "requests_per_row": len(log) / rows, "span_s": span, "process_s": run.wall,
        "rows_per_s": achieved, "rows_per_s_process": rows / run.wall, "ideal_rows_per_s": ideal,
        "share_of_ideal": achieved / ideal,
    }


def measure(quick: bool = False) -> list[dict[str, Any]]:
    per_c = 8 if quick else 50  # rows per unit of concurrency: ~10 s per case in full mode
    with tempfile.TemporaryDirectory(prefix="ledger-bench-lat-") as d:
        return [one(Path(d), c, per_c * c) for c in (1, 4, 8)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    compile_bytecode()
    for r in measure(args.quick):
        print(json.dumps(r))


if __name__ == "__main__":
    main()
