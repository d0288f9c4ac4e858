"""Worker overhead: `ledger work` vs a bare loop of the same wxc_sdk calls, on the zero-latency sandbox.

    .venv/bin/python bench/worker_bench.py [--rows 5000]

The sandbox runs in its own process (`ledger sandbox`). Measured in one run, on this machine:

- bare loop: one process, ``WebexSimpleApi(retry_429=False)``, for each row ``people.list(email=…)``
  then ``people.create(…)`` (exactly the calls user.create makes), serially;
- ``ledger work --concurrency 1`` on the same number of rows (other emails): the honest overhead
  ratio (same call pattern, one at a time); ``--concurrency 4`` for information;
- ledger bookkeeping per row: the worker on the same rows with an executor that returns at once
  (claim + outcome + attempts rows + run counters), in µs per row.

Both sides are timed from process start (``ledger work`` includes opening the ledger, reclaiming,
the summary), and also from the first request for the bare loop ("loop only").

Figures measured here (2 cores, 5,000 rows, 2026-11-24, four runs): bare loop 39.8-42.6 s
(~8 ms/row: the sandbox's cost per call grows with the people it holds, ~4.6 ms/row at 2,000 rows);
``ledger work --concurrency 1`` 1.04-1.10x (typically 1.05x); ``--concurrency 4`` 0.89-0.95x;
bookkeeping 795-860 µs/row with an instant executor (mostly the fsync of each ``synchronous=FULL``
commit, ~0.3 ms, GIL released), overlapped with the calls: freed threads get their next row before
the outcome is written.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

try:
    from bench.common import PYTHON, TOKEN, SandboxProc, ledger_import
    from bench.common import ledger_work as work_process
except ImportError:  # run as a script
    from common import PYTHON, TOKEN, SandboxProc, ledger_import  # type: ignore[no-redef]
    from common import ledger_work as work_process  # type: ignore[no-redef]

T = TypeVar("T")

BARE_LOOP = r"""
import sys, time
t0 = time.perf_counter()
from wxc_sdk import WebexSimpleApi
from wxc_sdk.people import Person
from wxc_sdk.tokens import Tokens
base, token, n, domain = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
tokens = Tokens(access_token=token)
api = WebexSimpleApi(tokens=tokens, retry_429=False)
api.session.BASE = base
t1 = time.perf_counter()
for i in range(n):
    email = f"user{i:05d}@{domain}"
    found = [p for p in api.people.list(email=email) if email in (p.emails or [])]
    if not found:
        api.people.create(Person(emails=[email], first_name="Ana", last_name="Puig", display_name="Ana Puig"),
                          calling_data=False)
t2 = time.perf_counter()
print(f"{t2 - t0:.3f} {t2 - t1:.3f}")
"""


def write_csv(path: Path, n: int, domain: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "last_name"])
        for i in range(n):
            out.writerow([f"user{i:05d}@{domain}", "Ana", "Puig"])


def ledger_work(tmp: Path, sb: SandboxProc, n: int, domain: str, concurrency: int) -> float:
    """Seconds of a whole `ledger work --concurrency C` process on ``n`` new users."""
    db = tmp / f"{domain}.db"
    src = tmp / f"{domain}.csv"
    write_csv(src, n, domain)
    ledger_import(db, src, "user.create", env=sb.env)
    return work_process(db, sb.env, "--concurrency", str(concurrency), rows=n).wall


def bare_loop(sb: SandboxProc, n: int, domain: str) -> tuple[float, float]:
    res = subprocess.run([str(PYTHON), "-c", BARE_LOOP, sb.base_url, TOKEN, str(n), domain],
                         capture_output=True, text=True, check=True)
    whole, loop = res.stdout.split()
    return float(whole), float(loop)


def bookkeeping_us(tmp: Path, n: int) -> float:
    """µs per row of ledger work with an executor that returns at once (no HTTP)."""
    from ledger.actions import get_spec
    from ledger.store.engine import open_ledger
    from ledger.importing.importer import import_file
    from ledger.work.ports import ActionResult, RowInput
    from ledger.settings import WorkSettings
    from ledger.work.worker import Worker

    db = tmp / "bookkeeping.db"
    src = tmp / "bookkeeping.csv"
    write_csv(src, n, "bookkeeping.example.com")
    from ledger.logsetup import configure_logging

    configure_logging(db)  # as `ledger work` does: one JSON line per row outcome in <db>.log
    engine = open_ledger(db)
    import_file(engine, get_spec("user.create"), src)
    spec = get_spec("user.create")

    class Instant:
        def __init__(self) -> None:
            self.spec = spec

        def execute(self, row: RowInput) -> ActionResult:
            return ActionResult("succeeded", {"person_id": f"p{row.row_id}"})

    executor = Instant()
    worker = Worker(engine, WorkSettings(db, concurrency=1, progress=False), lambda a, h, t: executor)
    worker.start()
    t0 = time.perf_counter()
    worker.drain()
    elapsed = time.perf_counter() - t0
    worker.finish()
    engine.dispose()
    return elapsed / n * 1e6


def fresh(measure: Callable[[SandboxProc], T]) -> T:
    """``measure`` on a new sandbox process (its cost per call grows with the people it holds)."""
    with SandboxProc() as sb:
        return measure(sb)


def measure(n: int, quick: bool = False) -> dict[str, Any]:
    """The raw figures: the bare loop (twice, around the ledger runs; once when ``quick``), `ledger work`
    at concurrency 1 and 4, each on a fresh sandbox, then the bookkeeping per row."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-worker-") as d:
        tmp = Path(d)
        # a fresh sandbox for every measurement: its cost per call grows with the people it holds
        bare1 = fresh(lambda sb: bare_loop(sb, n, "bare.example.com"))
        work1 = fresh(lambda sb: ledger_work(tmp, sb, n, "work1.example.com", 1))
        work4 = fresh(lambda sb: ledger_work(tmp, sb, n, "work4.example.com", 4))
        bare2 = bare1 if quick else fresh(lambda sb: bare_loop(sb, n, "bare2.example.com"))
        book = bookkeeping_us(tmp, n)
    return {"rows": n, "bare_s": [bare1, bare2], "work_c1_s": work1, "work_c4_s": work4, "bookkeeping_us": book}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    n = args.rows
    raw = measure(n)
    (bare_whole, bare_loop_s), (bare_whole2, bare_loop2) = raw["bare_s"]
    work1, work4, book = raw["work_c1_s"], raw["work_c4_s"], raw["bookkeeping_us"]
    bare = (bare_whole + bare_whole2) / 2
    print(f"rows: {n}, zero-latency sandbox in its own process")
    print(f"bare wxc_sdk loop (list+create, serial):  {bare:7.2f} s  ({bare_whole:.2f} / {bare_whole2:.2f}; "
          f"loop only {bare_loop_s:.2f} / {bare_loop2:.2f} s) = {bare / n * 1e3:.3f} ms/row")
    print(f"ledger work --concurrency 1:              {work1:7.2f} s  = {work1 / n * 1e3:.3f} ms/row  "
          f"ratio {work1 / bare:.2f}x  (goal <= 1.10x)")
    print(f"ledger work --concurrency 4:              {work4:7.2f} s  = {work4 / n * 1e3:.3f} ms/row  "
          f"ratio {work4 / bare:.2f}x")
    print(f"ledger bookkeeping (instant executor):    {book:7.1f} us/row")


if __name__ == "__main__":
    main()
