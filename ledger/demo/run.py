"""`ledger demo`: the main job, end to end, against the built-in local Webex sandbox.

It generates a realistic user file, starts the sandbox with a mild mix of faults (throttling,
server errors, dropped connections, answers lost after the write was applied, and a few users
Webex rejects), imports the file, runs the worker and writes the report — then checks on the
"server" that no user was created twice. Like the CLI, this module wires the engine to the
actions; it holds no logic of its own beyond choosing the scenario.
"""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import ExitCode

DEMO_LOCATION = "DEMO-BCN-01"
DEMO_TOKEN = "demo-token-not-a-secret"
DEFAULT_FAULTS = "429=0.002,503=0.01,500=0.003,reset=0.003,lost=0.002,retry_after=1"


@dataclass(frozen=True)
class DemoResult:
    exit_code: ExitCode
    ledger_path: Path
    report_dir: Path
    duplicates: int


def run_demo(
    out_dir: Path,
    *,
    rows: int = 3000,
    seed: int = 21,
    faults: str = DEFAULT_FAULTS,
    rejected_share: float = 0.01,
    concurrency: int = 4,
    echo: Callable[[str], object] = print,
) -> DemoResult:
    from ledger.actions import get_spec
    from ledger.actions.runtime import WebexExecutors
    from ledger.store.engine import open_ledger
    from ledger.importing.importer import import_file
    from ledger.reporting.report import render_import, write_report
    from ledger.demo.samplegen import write_users_csv
    from ledger.sandbox import FaultConfig, Sandbox
    from ledger.settings import WorkSettings
    from ledger.work.run import run_work

    out_dir.mkdir(parents=True, exist_ok=True)
    ledger_path = out_dir / "ledger.db"
    for old in out_dir.glob("ledger.db*"):  # the demo always starts from an empty ledger of its own
        old.unlink()
    shutil.rmtree(out_dir / "report", ignore_errors=True)

    with Sandbox(token=DEMO_TOKEN, seed=seed, seed_defaults=True) as sb:
        sb.state.add_location(DEMO_LOCATION, calling_enabled=True)
        licence = sb.state.license_by_sku("BCSTD")["id"]
        csv_path = out_dir / "usuarios_demo.csv"
        emails = write_users_csv(csv_path, rows, seed=seed, license_id=licence, location_name=DEMO_LOCATION)
        rejected = set(random.Random(seed).sample(emails, max(1, int(rows * rejected_share))))
        sb.faults = FaultConfig.parse(faults + ",row_error=" + "|".join(sorted(rejected)))
        echo(f"sandbox on {sb.base_url} with faults: {faults} and {len(rejected)} users Webex will reject")

        engine = open_ledger(ledger_path)
        try:
            echo(render_import(import_file(engine, get_spec("user.create"), csv_path)))
            started = time.monotonic()
            factory = WebexExecutors(token=DEMO_TOKEN, base_url=sb.base_url, concurrency=concurrency)
            settings = WorkSettings(ledger_path, batch_size=200, concurrency=concurrency, retry_profile="default")
            report = run_work(settings, factory, engine=engine)
            echo(report.render())
            files = write_report(engine, out_dir / "report")
        finally:
            engine.dispose()

        faults_seen = Counter(r.fault for r in sb.requests() if r.fault)
        duplicates = sum(1 for e in emails if sb.state.create_count(e) > 1)
    echo("")
    echo(f"demo finished in {time.monotonic() - started:.1f}s; the sandbox answered "
         f"{sum(faults_seen.values())} injected faults: "
         + ", ".join(f"{n} {name}" for name, n in faults_seen.most_common()))
    echo(f"users created twice on the server: {duplicates}")
    echo(f"ledger:  {ledger_path}   (try: sqlite3 {ledger_path} 'SELECT * FROM failed_rows LIMIT 5')")
    echo(f"reports: {files.summary_json}  {files.row_errors_csv}")
    code = report.exit_code if duplicates == 0 else ExitCode.FATAL
    return DemoResult(code, ledger_path, files.summary_json.parent, duplicates)
