"""Bulk: `user.scim_create` (SCIM /Bulk, up to 100 users a request) vs `user.create` (People API, lookup +
create per row) on the same 2,000 people, each on a fresh zero-latency sandbox, whole `ledger work` process.

    .venv/bin/python bench/bulk_bench.py [--quick] [--rows 2000]

Both files hold the same emails with first/last name only (no licence: SCIM create assigns none, and the
sandbox holds 1,000 Calling units). Requests sent are counted from the sandbox's request log.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

try:
    from bench.common import SandboxProc, ledger_import, ledger_work, sandbox_ids
except ImportError:  # run as a script
    from common import SandboxProc, ledger_import, ledger_work, sandbox_ids  # type: ignore[no-redef]


def write_people(path: Path, rows: int, org_id: str | None) -> None:
    from ledger.demo.samplegen import user_email

    head = "email,first_name,last_name" + (",org_id" if org_id else "")
    tail = f",{org_id}" if org_id else ""
    lines = [head, *(f"{user_email(i, 'bulk.example.com')},Ana,Puig{tail}" for i in range(rows))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def one(tmp: Path, action: str, rows: int) -> dict[str, Any]:
    with SandboxProc() as sb:
        src, db = tmp / f"{action}.csv", tmp / f"{action}.db"
        write_people(src, rows, sandbox_ids(sb)["org_id"] if action == "user.scim_create" else None)
        ledger_import(db, src, action)
        run = ledger_work(db, sb.env, rows=rows)
        log = sb.requests()
    return {"action": action, "rows": rows, "requests": len(log), "requests_per_row": len(log) / rows,
            "process_s": run.wall, "rows_per_s": rows / run.wall}


def measure(quick: bool = False, rows: int = 2000) -> list[dict[str, Any]]:
    if quick:
        rows = 150
    with tempfile.TemporaryDirectory(prefix="ledger-bench-bulk-") as d:
        return [one(Path(d), "user.create", rows), one(Path(d), "user.scim_create", rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    for r in measure(args.quick, args.rows):
        print(json.dumps(r))


if __name__ == "__main__":
    main()
