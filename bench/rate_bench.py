"""Rate discipline: `ledger work` against a sandbox that allows 300 requests per sliding minute (429 beyond,
``Retry-After`` = seconds until a slot frees: the sandbox fault ``rate=300/min``).

    .venv/bin/python bench/rate_bench.py [--quick] [--window 150]

Two runs, each on a fresh sandbox and a fresh ledger, default concurrency (4):
- ``ledger work --max-rate 300``: the rate gate spaces requests at the allowance;
- ``ledger work`` without ``--max-rate``: adaptive only (it learns the limit from the 429s).

Rows are sized so that the run lasts about ``--window`` seconds at the allowance (user.create ≈ 1 request
a row since batched reads). From the sandbox's request log: requests sent, the share answered 429, and the
achieved rate = accepted (non-429) requests per minute between the first and the last request. Goal:
≥ 95 % of 300/min with < 1 % of the requests answered 429.

Note on the sliding window: a client that bursts 300 requests at once, waits a minute, bursts again, gets
the whole allowance too; the achieved rate over a window of a few minutes is what counts, not the shape.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

try:
    from bench.common import SandboxProc, calling_users_csv, ledger_import, ledger_work
except ImportError:  # run as a script
    from common import SandboxProc, calling_users_csv, ledger_import, ledger_work  # type: ignore[no-redef]

ALLOWANCE_PER_MIN = 300
REQUESTS_PER_ROW = 1  # user.create since batched reads: the create (ten lookups and one list per run)


def one(tmp: Path, name: str, rows: int, *args: str) -> dict[str, Any]:
    with SandboxProc(faults=f"rate={ALLOWANCE_PER_MIN}/min") as sb:
        src, db = tmp / f"{name}.csv", tmp / f"{name}.db"
        calling_users_csv(sb, src, rows, f"{name}.example.com")
        ledger_import(db, src, "user.create")
        run = ledger_work(db, sb.env, *args, rows=rows)
        log = sb.requests()
    times = sorted(r["t"] for r in log)
    throttled = sum(1 for r in log if r["status"] == 429)
    accepted = len(log) - throttled
    span = times[-1] - times[0]
    # n accepted requests spaced at the allowance span (n - 1) intervals
    per_min = (accepted - 1) / span * 60 if span > 0 else float("inf")
    return {
        "case": name, "args": list(args), "rows": rows, "requests": len(log), "accepted": accepted,
        "throttled_429": throttled, "share_429": throttled / len(log), "span_s": span,
        "process_s": run.wall, "achieved_per_min": per_min, "share_of_allowance": per_min / ALLOWANCE_PER_MIN,
    }


def measure(quick: bool = False, window_s: float = 150.0) -> list[dict[str, Any]]:
    if quick:
        window_s = 8.0
    rows = max(10, int(window_s * ALLOWANCE_PER_MIN / 60 / REQUESTS_PER_ROW))
    with tempfile.TemporaryDirectory(prefix="ledger-bench-rate-") as d:
        tmp = Path(d)
        return [
            one(tmp, "maxrate", rows, "--max-rate", str(ALLOWANCE_PER_MIN)),
            one(tmp, "adaptive", rows),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--window", type=float, default=150.0, help="seconds per run at the allowance")
    args = parser.parse_args()
    for r in measure(args.quick, args.window):
        print(json.dumps(r))


if __name__ == "__main__":
    main()
