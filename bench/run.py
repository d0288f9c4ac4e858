"""`make bench`: every benchmark in one run, one table of ratios against floors measured in the same run.

    .venv/bin/python bench/run.py [--quick] [--only import,worker,…,scale] [--out bench/out/results.json]

- import   `ledger import` (whole process) of 21,000 and 210,000 generated Usuarios.csv rows vs a stdlib
           csv + sqlite3 executemany floor (bench/import_bench.py); peak RSS of both sizes.
- worker   `ledger work --concurrency 1` on 5,000 user.create rows vs a bare wxc_sdk loop of the same calls,
           against a floor HTTP stub (bench/worker_bench.py, bench/floor_stub.py); bookkeeping per row in µs.
- latency  sandbox latency 100 ms, concurrency 1/4/8: rows/s vs concurrency / (requests a row × 100 ms)
           (bench/latency_bench.py).
- rate     sandbox limit 300 requests/min: `--max-rate 300` and adaptive only; achieved rate vs 300/min and
           the share of 429s (bench/rate_bench.py).
- bulk     user.scim_create vs user.create on 2,000 rows: requests and wall time (bench/bulk_bench.py).
- requests requests per row per user action on 2,000 rows (all need a change / 10 % do) as a ratio to
           the minimum (bench/requests_bench.py).
- migration a v21 user migration at 2,100 users: requests by step, 21,000 users projected at 300/min,
           before (commit 7813427) and after (bench/migration_bench.py).
- scale    claim latency p50/p95 and `ledger report` time at 21,000 and 210,000 rows with chains
           (bench/scale_bench.py).

``--quick`` runs every measurement on tiny inputs (a smoke run: the figures then mean little). The table
goes to stdout; the raw figures, the machine and the date to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bulk_bench  # noqa: E402
import import_bench  # noqa: E402
import latency_bench  # noqa: E402
import migration_bench  # noqa: E402
import rate_bench  # noqa: E402
import requests_bench  # noqa: E402
import scale_bench  # noqa: E402
import worker_bench  # noqa: E402
from common import LEDGER, compile_bytecode, machine  # noqa: E402

BENCHES = ("import", "worker", "latency", "rate", "bulk", "requests", "migration", "scale")
BEFORE: dict[str, Path | None] = {"ledger": None}  # --before: the `ledger` binary of commit 7813427
Row = dict[str, Any]


def row(bench: str, case: str, measured: str, floor: str, ratio: str, goal: str, met: bool | None) -> Row:
    return {"bench": bench, "case": case, "measured": measured, "floor": floor, "ratio": ratio, "goal": goal,
            "met": met}


def run_import(quick: bool) -> tuple[list[Row], Any]:
    sizes = ((1_000, 1), (3_000, 1)) if quick else ((21_000, 3), (210_000, 2))
    raw: dict[str, Any] = {}
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-import-"))
    try:
        for n, repeat in sizes:
            results = dict(import_bench.bench(n, repeat, work))
            for old in work.glob("db*"):
                old.unlink()
            raw[str(n)] = {**results, "repeat": repeat}
            floor = results["floor: csv + sqlite3"]
            for name in ("ledger import (new ledger)", "ledger import (existing ledger)"):
                r = results[name]
                ratio = r["wall"] / floor["wall"]
                rows.append(row("import", f"{n:,} rows, {name[len('ledger import ('):-1]}", f"{r['wall']:.2f} s",
                                f"{floor['wall']:.2f} s", f"{ratio:.2f}×", "≤ 3×", ratio <= 3))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rss = [raw[str(n)]["ledger import (new ledger)"]["rss_mb"] for n, _ in sizes]
    floor_rss = [raw[str(n)]["floor: csv + sqlite3"]["rss_mb"] for n, _ in sizes]
    label = f"peak RSS {sizes[0][0]:,} / {sizes[1][0]:,} rows"
    both = f"{rss[0]:.0f} / {rss[1]:.0f} MB"
    rows.append(row("import", label, both, f"{floor_rss[0]:.0f} / {floor_rss[1]:.0f} MB", "", "< 150 MB",
                    max(rss) < 150))
    # "flat": ten times the rows may cost at most 15 % more memory (nothing is kept per row)
    rows.append(row("import", f"{label}: growth", both, "", f"{rss[1] / rss[0]:.2f}×", "flat (≤ 1.15×)",
                    rss[1] <= rss[0] * 1.15))
    return rows, raw


def run_worker(quick: bool) -> tuple[list[Row], Any]:
    n = 100 if quick else 5_000
    raw = worker_bench.measure(n, quick)
    bare, work1 = raw["best_bare_s"], raw["best_work_c1_s"]
    work4, book = raw["work_c4_s"], raw["bookkeeping_us"]
    rows = [
        row("worker", f"floor stub: ledger work -c 1 vs bare loop, {n:,} rows", f"{work1:.2f} s", f"{bare:.2f} s",
            f"{work1 / bare:.2f}×", "≤ 1.1×", work1 / bare <= 1.1),
        row("worker", f"floor stub: ledger work -c 4, {n:,} rows", f"{work4:.2f} s", f"{bare:.2f} s", f"{work4 / bare:.2f}×",
            "(info)", None),
        row("worker", "bookkeeping per row (instant executor)", f"{book:.0f} µs", "", "", "(info)", None),
    ]
    return rows, raw


def run_latency(quick: bool) -> tuple[list[Row], Any]:
    raw = latency_bench.measure(quick)
    rows = [
        row("latency", f"100 ms, concurrency {r['concurrency']}, {r['rows']} rows",
            f"{r['rows_per_s']:.1f} rows/s", f"{r['ideal_rows_per_s']:.0f} rows/s",
            f"{r['share_of_ideal']:.0%}", "≥ 90 %", r["share_of_ideal"] >= 0.9)
        for r in raw
    ]
    return rows, raw


def run_rate(quick: bool) -> tuple[list[Row], Any]:
    raw = rate_bench.measure(quick)
    rows: list[Row] = []
    for r in raw:
        label = "--max-rate 300" if r["case"] == "maxrate" else "adaptive only"
        met = r["share_of_allowance"] >= 0.95 and r["share_429"] < 0.01
        if quick and r["case"] == "adaptive":
            met = None  # too few requests to reach the limit: not a measurement
        rows.append(row("rate", f"300/min, {label}, {r['requests']} req in {r['span_s']:.0f} s",
                        f"{r['achieved_per_min']:.0f}/min, {r['share_429']:.1%} 429", "300/min",
                        f"{r['share_of_allowance']:.0%}", "≥ 95 %, < 1 % 429", met))
    return rows, raw


def run_bulk(quick: bool) -> tuple[list[Row], Any]:
    raw = bulk_bench.measure(quick)
    create, scim = raw
    rows = [
        row("bulk", f"user.scim_create vs user.create, {scim['rows']:,} rows: requests",
            f"{scim['requests']}", f"{create['requests']}", f"{scim['requests'] / create['requests']:.3f}×",
            "(info)", None),
        row("bulk", f"user.scim_create vs user.create, {scim['rows']:,} rows: wall",
            f"{scim['process_s']:.2f} s", f"{create['process_s']:.2f} s",
            f"{scim['process_s'] / create['process_s']:.2f}×", "(info)", None),
    ]
    return rows, raw


def run_requests(quick: bool) -> tuple[list[Row], Any]:
    raw = requests_bench.measure(quick)
    rows = []
    for r in raw:
        ok = r["ratio"] <= 1.2  # an action no list serves may still reach it (written first: a request a row)
        goal = "≤ 1.2×" if ok or not r["note"] else "(no list: see note)"
        met = True if ok else (None if r["note"] else False)
        rows.append(row("requests", f"{r['action']}, {r['rows']:,} rows, {r['case']} ({r['changed']:,})",
                        f"{r['requests']:,} ({r['per_row']:.2f}/row)", f"{r['minimum']:,}", f"{r['ratio']:.2f}×",
                        goal, met))
    return rows, raw


def run_migration(quick: bool) -> tuple[list[Row], Any]:
    raw = migration_bench.measure(quick, before=BEFORE["ledger"])
    after, before = raw["after"], raw["before"]
    rows = []
    for a, b in zip(after["steps"], before["steps"]):
        rows.append(row("migration", f"{a['step']}, {a['rows']:,} users: requests", f"{a['requests']:,}",
                        f"before {b['requests']:,}", f"{a['requests'] / b['requests']:.2f}×", "(info)", None))
    ratio = after["projected_hours_21k"] / before["projected_hours_21k"]
    rows.append(row("migration", "21,000 users at 300 req/min: projected wall time",
                    f"{after['projected_hours_21k']:.1f} h", f"before {before['projected_hours_21k']:.1f} h",
                    f"{ratio:.2f}×", "≤ 0.5× (halve)", ratio <= 0.5))
    return rows, raw


def run_scale(quick: bool) -> tuple[list[Row], Any]:
    raw = scale_bench.measure(quick)
    small, big = raw
    growth = lambda k: big[k] / small[k]  # noqa: E731
    label = f"{small['rows']:,} → {big['rows']:,} rows"
    return [
        row("scale", f"claim of 200 rows p50, {label}", f"{big['p50_ms']:.1f} ms", f"{small['p50_ms']:.1f} ms",
            f"{growth('p50_ms'):.2f}×", "flat (≤ 2×)", growth("p50_ms") <= 2),
        row("scale", f"claim of 200 rows p95, {label}", f"{big['p95_ms']:.1f} ms", f"{small['p95_ms']:.1f} ms",
            f"{growth('p95_ms'):.2f}×", "flat (≤ 2×)", growth("p95_ms") <= 2),
        row("scale", f"ledger report, {label}", f"{big['report_s']:.2f} s", f"{small['report_s']:.2f} s",
            f"{growth('report_s'):.2f}×", "flat (≤ 2×)", growth("report_s") <= 2),
    ], raw


RUNNERS: dict[str, Callable[[bool], tuple[list[Row], Any]]] = {
    "import": run_import, "worker": run_worker, "latency": run_latency, "rate": run_rate, "bulk": run_bulk,
    "requests": run_requests, "migration": run_migration, "scale": run_scale,
}


def render_markdown(rows: list[Row]) -> str:
    """The table as the README's Performance section shows it."""
    head = "| bench | case | measured | floor / ideal / minimum | ratio | goal | met |\n|---|---|---|---|---|---|---|"
    met = {True: "yes", False: "**no**", None: "-"}
    return "\n".join([head, *(f"| {r['bench']} | {r['case']} | {r['measured']} | {r['floor']} | {r['ratio']} | "
                               f"{r['goal']} | {met[r['met']]} |" for r in rows)])


def render(rows: list[Row]) -> str:
    cols = ("bench", "case", "measured", "floor", "ratio", "goal", "met")
    heads = ("bench", "case", "measured", "floor / ideal", "ratio", "goal", "met")
    cells = [[str(r[c]) if c != "met" else {True: "yes", False: "NO", None: "-"}[r["met"]] for c in cols]
             for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(heads), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run, not a measurement")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma list of: " + ", ".join(BENCHES))
    parser.add_argument("--out", type=Path, default=HERE / "out" / "results.json")
    parser.add_argument("--markdown", action="store_true", help="print the table as the README shows it")
    parser.add_argument("--before", type=Path, default=None,
                        help="migration bench: the `ledger` binary of commit 7813427 (a worktree's .venv/bin/ledger); "
                             "without it the 'before' figures are reasoned from issue 14's per-row counts")
    args = parser.parse_args(argv)
    BEFORE["ledger"] = args.before
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        parser.error(f"unknown bench(es): {', '.join(unknown)} (choose from {', '.join(BENCHES)})")
    if not LEDGER.exists():
        parser.error(f"{LEDGER} missing: run `make bench` (it creates .venv)")
    compile_bytecode()
    started = dt.datetime.now(dt.timezone.utc)
    table: list[Row] = []
    raw: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name in chosen:
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rows, raw[name] = RUNNERS[name](args.quick)
        timings[name] = time.perf_counter() - t0
        table.extend(rows)
    info = machine()
    print(render_markdown(table) if args.markdown else render(table))
    print(f"\n{started:%Y-%m-%d %H:%M} UTC · {info['nproc']} CPUs · {info['cpu']} · python {info['python']}"
          f"{' · QUICK (smoke run, figures not meaningful)' if args.quick else ''}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "date": started.isoformat(timespec="seconds"), "quick": args.quick, "machine": info,
        "bench_seconds": timings, "table": table, "raw": raw,
    }, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
