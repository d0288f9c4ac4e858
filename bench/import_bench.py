"""Benchmark: `ledger import` of a generated Usuarios.csv-layout file, as a whole process, against a floor.

The floor is a subprocess doing the least a CSV → SQLite load can do with the standard library: read
the file with ``csv``, JSON-encode each row, ``executemany`` it into a table shaped like ``ledger``
(same columns and indexes) in WAL mode with ``synchronous=FULL``, one transaction. Both run in the
same session, best of N, each on a fresh database file. Peak RSS is per child process
(``resource.getrusage(RUSAGE_CHILDREN)`` is the max over children, so each measurement runs in its
own fresh helper process).

    .venv/bin/python bench/import_bench.py            # 21,000 rows
    .venv/bin/python bench/import_bench.py --rows 21000 --rows 210000 --repeat 3

Two `ledger` cases: a new ledger file (created and migrated by the import itself, the operator's
first command) and an existing ledger already at the head revision. Target: ledger ≤ 3× the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    from bench.common import compile_bytecode, LEDGER, PYTHON
except ImportError:  # run as a script
    from common import compile_bytecode, LEDGER, PYTHON  # type: ignore[no-redef]

LICENSE = "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvZTVmN2Q5NzMtYjI2OS00Njg2LTk5N2UtNDUxMTkxNjhjZWQyOkJDU1REX2UwZjY1MTNmLTFhYWEtNDU4Yi05OGE2LTllNWZkMDcyNzU2OA"

FLOOR = r'''
import csv, json, sqlite3, sys
db, path = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=FULL")
con.execute("""CREATE TABLE ledger (id INTEGER PRIMARY KEY, import_id INTEGER NOT NULL, line_no INTEGER NOT NULL,
  action TEXT NOT NULL, status TEXT NOT NULL, error_kind TEXT, error_message TEXT, business_key TEXT,
  location_key TEXT, payload TEXT NOT NULL, run_id INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  UNIQUE (import_id, line_no))""")
con.execute("CREATE INDEX ix1 ON ledger (status, import_id, id)")
con.execute("CREATE INDEX ix2 ON ledger (run_id, status)")
now = "2026-01-01T00:00:00.000000Z"
with open(path, newline="", encoding="utf-8-sig") as f:
    reader = csv.reader(f)
    header = next(reader)
    rows = [(1, reader.line_num, "user.create", "pending", None, None, row[4], None,
             json.dumps(dict(zip(header, row)), ensure_ascii=False), now, now) for row in reader]
con.execute("BEGIN IMMEDIATE")
con.executemany("INSERT INTO ledger (import_id, line_no, action, status, error_kind, error_message, business_key,"
                " location_key, payload, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
con.execute("COMMIT")
'''

# Runs one command as a child and reports its wall time and the child's peak RSS.
MEASURE = r'''
import json, resource, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - t
rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "rss_mb": rss_kb / 1024, "rc": proc.returncode, "err": proc.stderr[-500:]}))
'''


def measure(cmd: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"command failed ({result['rc']}): {' '.join(cmd)}\n{result['err']}")
    return result


def best_of(n: int, prepare: object, cmd_for: object) -> dict[str, float]:
    runs = []
    for _ in range(n):
        db = prepare()  # type: ignore[operator]
        runs.append(measure(cmd_for(db)))  # type: ignore[operator]
    return min(runs, key=lambda r: r["wall"])


def bench(rows: int, repeat: int, work: Path) -> list[tuple[str, dict[str, float]]]:
    from ledger.demo.samplegen import write_users_csv

    csv_path = work / f"users_{rows}.csv"
    write_users_csv(csv_path, rows, license_id=LICENSE)
    floor_py = work / "floor.py"
    floor_py.write_text(FLOOR)
    counter = iter(range(10**6))

    def fresh() -> Path:
        return work / f"db{next(counter)}.db"

    def migrated() -> Path:
        db = fresh()
        subprocess.run([str(PYTHON), "-c", "import sys; from ledger.store.engine import open_ledger; open_ledger(sys.argv[1])", str(db)], check=True)
        return db

    def ledger_cmd(db: Path) -> list[str]:
        return [str(LEDGER), "--db", str(db), "import", str(csv_path), "--action", "user.create"]

    results = [
        ("floor: csv + sqlite3", best_of(repeat, fresh, lambda db: [str(PYTHON), str(floor_py), str(db), str(csv_path)])),
        ("ledger import (new ledger)", best_of(repeat, fresh, ledger_cmd)),
        ("ledger import (existing ledger)", best_of(repeat, migrated, ledger_cmd)),
    ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="rows to generate (repeatable; default 21000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args()
    compile_bytecode()
    if not LEDGER.exists():
        raise SystemExit(f"{LEDGER} missing: run `make test` (or `make bench`) once to create .venv")
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    try:
        print(f"{'rows':>8}  {'case':<32} {'best s':>8} {'× floor':>8} {'peak RSS MB':>12}")
        for rows in args.rows or [21_000]:
            results = bench(rows, args.repeat, work)
            floor = results[0][1]["wall"]
            for name, r in results:
                print(f"{rows:>8}  {name:<32} {r['wall']:>8.3f} {r['wall'] / floor:>7.2f}× {r['rss_mb']:>12.1f}")
            for old in work.glob("db*"):
                old.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"(best of {args.repeat}; target: ledger ≤ 3× floor; machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
