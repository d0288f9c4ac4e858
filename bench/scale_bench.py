"""Scale (issue 14): claim latency (p50/p95 of a 200-row claim) and `ledger report` time on ledgers of
21,000 and 210,000 rows with chains; both should stay flat (within 2×) from 21k to 210k.

    .venv/bin/python bench/scale_bench.py [--sizes 21000,210000]

Each ledger holds two imports of N/2 rows each: user.create and user.licenses ``--after`` it (the licence
row of a person waits for that person's create row: a chain per entity). Claims are measured in process
(``ledger.store.claims.claim_batch``, a registered run): 20 claims while the licence rows wait behind
pending creates, then, after every create was marked succeeded, 20 claims of licence rows (the chain's
dependants). ``ledger report`` is a real subprocess on the same file (best of 2).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from bench.common import compile_bytecode, LEDGER, run
except ImportError:  # run as a script
    from common import compile_bytecode, LEDGER, run  # type: ignore[no-redef]

CLAIM = 200
CLAIMS = 20


def build(db: Path, tmp: Path, n: int) -> None:
    from ledger.actions import get_spec
    from ledger.importing.importer import import_file
    from ledger.store.engine import open_ledger

    half = n // 2
    create, lic = tmp / f"create-{n}.csv", tmp / f"licenses-{n}.csv"
    emails = [f"scale{i:07d}@bench.example.com" for i in range(half)]
    create.write_text("email,first_name,last_name\n" + "".join(f"{e},Ana,Puig\n" for e in emails), encoding="utf-8")
    lic.write_text("email,add_license_ids\n" + "".join(f"{e},Call on Webex\n" for e in emails), encoding="utf-8")
    engine = open_ledger(db)
    try:
        first = import_file(engine, get_spec("user.create"), create)
        import_file(engine, get_spec("user.licenses"), lic, after=[first.import_id])
    finally:
        engine.dispose()


def _claims(engine: Any, run_id: int) -> list[float]:
    from ledger.store import claims

    out = []
    for _ in range(CLAIMS):
        t0 = time.perf_counter()
        got = claims.claim_batch(engine, run_id, CLAIM)
        out.append(time.perf_counter() - t0)
        if not got.rows:
            break
    return out


def claim_latency(db: Path) -> dict[str, Any]:
    import sqlalchemy as sa

    from ledger.store import runs
    from ledger.store.engine import open_ledger

    engine = open_ledger(db)
    try:
        run_id = runs.create_run(engine, pid=0, host="bench", import_id=None, batch_size=CLAIM, concurrency=1,
                                 retry_profile="default", dry_run=False)
        waiting = _claims(engine, run_id)  # creates claimed; licence rows wait behind pending creates
        with engine.begin() as conn:  # every create done: the dependants become claimable
            conn.execute(sa.text("UPDATE ledger SET status = 'succeeded', run_id = NULL WHERE action = 'user.create'"))
        dependants = _claims(engine, run_id)
    finally:
        engine.dispose()
    both = sorted(waiting + dependants)
    return {"claims": len(both), "p50_ms": statistics.median(both) * 1e3,
            "p95_ms": both[int(0.95 * (len(both) - 1))] * 1e3,
            "p50_waiting_ms": statistics.median(waiting) * 1e3, "p50_dependants_ms": statistics.median(dependants) * 1e3}


def report_time(db: Path, out: Path) -> float:
    return min(run([str(LEDGER), "--db", str(db), "report", "--out", str(out)]).wall for _ in range(2))


def measure(quick: bool = False, sizes: tuple[int, ...] = (21_000, 210_000)) -> list[dict[str, Any]]:
    sizes = (2_000, 20_000) if quick else sizes
    results = []
    with tempfile.TemporaryDirectory(prefix="ledger-bench-scale-") as d:
        tmp = Path(d)
        for n in sizes:
            db = tmp / f"scale-{n}.db"
            t0 = time.perf_counter()
            build(db, tmp, n)
            built = time.perf_counter() - t0
            rep = report_time(db, tmp / f"report-{n}")
            results.append({"rows": n, "build_s": built, "report_s": rep, **claim_latency(db)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="21000,210000")
    args = parser.parse_args()
    compile_bytecode()
    print(json.dumps(measure(sizes=tuple(int(x) for x in args.sizes.split(","))), indent=1))


if __name__ == "__main__":
    main()
