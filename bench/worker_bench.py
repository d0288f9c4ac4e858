"""Worker overhead: `ledger work` vs a bare loop of the same wxc_sdk calls, against a floor HTTP stub.

    .venv/bin/python bench/worker_bench.py [--rows 5000]

The server is ``bench/floor_stub.py`` in its own process: fixed answers in tens of µs, so what `ledger work`
costs on top of the bare loop is the ledger's own work (claims, outcomes, attempts, logs), not the server's
(the sandbox's cost per request would hide it). Measured in one run, on this machine:

- bare loop: one process, ``WebexSimpleApi(retry_429=False)``, exactly the calls `ledger work` makes for
  user.create rows (the preflight, a lookup per row until batched reads start, the org's people listed
  once, a create per row), serially; the stub counts the requests of both sides, which must be equal;
- ``ledger work --concurrency 1`` on the same number of rows (other emails), interleaved with the bare
  loop, best of 3 each (the machine is shared); ``--concurrency 4`` once, for information;
- ledger bookkeeping per row: the worker on the same rows with an executor that returns at once
  (claim + outcome + attempts rows + run counters + log line), in µs per row.

Both sides are timed from process start (``ledger work`` includes opening the ledger, reclaiming,
the summary).
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
    from bench.common import compile_bytecode, PYTHON, TOKEN, SandboxProc, ledger_import
    from bench.common import ledger_work as work_process
except ImportError:  # run as a script
    from common import compile_bytecode, PYTHON, TOKEN, SandboxProc, ledger_import  # type: ignore[no-redef]
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
# the calls `ledger work` makes for user.create: the preflight, a lookup per row until the run has made
# SNAPSHOT_AFTER person reads, then the org's people listed once, and a create per row
api.people.me()
for i in range(n):
    email = f"user{i:05d}@{domain}"
    if i < SNAPSHOT_AFTER:
        found = [p for p in api.people.list(email=email) if email in (p.emails or [])]
    elif i == SNAPSHOT_AFTER:
        listed = list(api.people.list(calling_data=True, max=100))
    api.people.create(Person(emails=[email], first_name="Ana", last_name="Puig", display_name="Ana Puig"),
                      calling_data=False)
t2 = time.perf_counter()
print(f"{t2 - t0:.3f} {t2 - t1:.3f}")
""".replace("SNAPSHOT_AFTER", "10")


def write_csv(path: Path, n: int, domain: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "last_name"])
        for i in range(n):
            out.writerow([f"user{i:05d}@{domain}", "Ana", "Puig"])


def ledger_work(tmp: Path, sb: Any, n: int, domain: str, concurrency: int) -> float:
    """Seconds of a whole `ledger work --concurrency C` process on ``n`` new users."""
    db = tmp / f"{domain}.db"
    src = tmp / f"{domain}.csv"
    write_csv(src, n, domain)
    ledger_import(db, src, "user.create", env=sb.env)
    return work_process(db, sb.env, "--concurrency", str(concurrency), rows=n).wall


def bare_loop(sb: Any, n: int, domain: str) -> tuple[float, float]:
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


class FloorStub:
    """bench/floor_stub.py in its own process: a server as fast as a bare stub (see its docstring)."""

    def __enter__(self) -> "FloorStub":
        import os
        import re
        import sys

        here = Path(__file__).resolve().parent
        self.proc = subprocess.Popen([sys.executable, str(here / "floor_stub.py")], stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        m = re.search(r"(http://\S+/v1)", self.proc.stdout.readline())
        assert m, "floor stub did not start"
        self.base_url = m.group(1)
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "LEDGER_"))},
                    "WEBEX_ACCESS_TOKEN": TOKEN, "WEBEX_BASE_URL": self.base_url}
        return self

    def requests(self) -> int:
        import json
        import urllib.request

        with urllib.request.urlopen(self.base_url.rsplit("/v1", 1)[0] + "/_count", timeout=10) as resp:
            return int(json.loads(resp.read())["requests"])

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def floor_run(measure: Callable[[Any], T]) -> tuple[T, int]:
    """``measure`` against a fresh floor stub; also the number of requests it answered."""
    with FloorStub() as stub:
        out = measure(stub)
        return out, stub.requests()


def fresh(measure: Callable[[SandboxProc], T]) -> T:
    """``measure`` on a new sandbox process (its cost per call grows with the people it holds)."""
    with SandboxProc() as sb:
        return measure(sb)


def measure(n: int, quick: bool = False, repeat: int = 3) -> dict[str, Any]:
    """The raw figures, all against the floor stub (a fresh one each): the bare loop of the same calls and
    `ledger work --concurrency 1`, interleaved ``repeat`` times (the best of each is compared: the machine
    is shared), `ledger work --concurrency 4` once, then the bookkeeping per row. Each side's request
    count is checked equal (same calls)."""
    repeat = 1 if quick else repeat
    bare: list[tuple[float, float]] = []
    work1: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ledger-bench-worker-") as d:
        tmp = Path(d)
        for k in range(repeat):
            b, bare_req = floor_run(lambda stub: bare_loop(stub, n, f"bare{k}.example.com"))
            w, work_req = floor_run(lambda stub: ledger_work(tmp, stub, n, f"work{k}.example.com", 1))
            bare.append(b)
            work1.append(w)
            if bare_req != work_req:
                raise RuntimeError(f"not the same calls: bare loop {bare_req} requests, ledger work {work_req}")
        work4, _ = floor_run(lambda stub: ledger_work(tmp, stub, n, "work4.example.com", 4))
        book = bookkeeping_us(tmp, n)
    return {"rows": n, "server": "floor stub (bench/floor_stub.py)", "bare_s": bare, "work_c1_s": work1,
            "work_c4_s": work4, "bookkeeping_us": book, "requests": {"bare": bare_req, "ledger": work_req},
            "best_bare_s": min(b[0] for b in bare), "best_work_c1_s": min(work1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    compile_bytecode()
    raw = measure(args.rows)
    bare, work1 = raw["best_bare_s"], raw["best_work_c1_s"]
    print(f"rows: {args.rows}, floor stub in its own process; best of {len(raw['work_c1_s'])}")
    print(f"bare wxc_sdk loop (same calls):  {bare:7.2f} s  (runs {[round(b[0], 2) for b in raw['bare_s']]})")
    print(f"ledger work --concurrency 1:     {work1:7.2f} s  (runs {[round(w, 2) for w in raw['work_c1_s']]})  "
          f"ratio {work1 / bare:.2f}x  (goal <= 1.10x)")
    print(f"ledger work --concurrency 4:     {raw['work_c4_s']:7.2f} s  ratio {raw['work_c4_s'] / bare:.2f}x")
    print(f"ledger bookkeeping (instant executor): {raw['bookkeeping_us']:7.1f} us/row")


if __name__ == "__main__":
    main()
