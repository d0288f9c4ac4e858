"""Helpers shared by the worker tests: seed ledger rows through the real importer, run the CLI as a subprocess."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa

from ledger.actions import get_spec
from ledger.store.engine import open_ledger
from ledger.importing.importer import import_file

ROOT = Path(__file__).resolve().parents[1]
LEDGER_BIN = ROOT / ".venv" / "bin" / "ledger"
TOKEN = "tok-worker-tests-4f9c2b7a1e"


def email(i: int, prefix: str = "user") -> str:
    return f"{prefix}{i:05d}@lab.example.com"


def write_users(path: Path, n: int, *, prefix: str = "user", start: int = 0) -> list[str]:
    """A user.create CSV with ``n`` rows; returns the emails in order."""
    emails = [email(i, prefix) for i in range(start, start + n)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "last_name"])
        for e in emails:
            out.writerow([e, "Ana", "Puig"])
    return emails


def import_users(db: Path, tmp: Path, n: int, *, prefix: str = "user", after: Sequence[int] = ()) -> tuple[int, list[str]]:
    """Import ``n`` user.create rows into the ledger at ``db``; returns (import id, emails)."""
    csv_path = tmp / f"{prefix}-{n}.csv"
    emails = write_users(csv_path, n, prefix=prefix)
    engine = open_ledger(db)
    try:
        result = import_file(engine, get_spec("user.create"), csv_path, after=after)
    finally:
        engine.dispose()
    return result.import_id, emails


def statuses(db: Path) -> dict[str, int]:
    engine = open_ledger(db)
    try:
        with engine.connect() as conn:
            return {s: n for s, n in conn.execute(sa.text("SELECT status, count(*) FROM ledger GROUP BY status"))}
    finally:
        engine.dispose()


def query(db: Path, sql: str, **params: object) -> list[sa.Row]:
    engine = open_ledger(db)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


def ledger_tuples(db: Path, sql: str) -> list[tuple[object, ...]]:
    """The rows of ``sql`` on a read-only engine, as plain tuples."""
    engine = open_ledger(db, readonly=True)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """A UTF-8 CSV file with ``header`` and ``rows`` (quoted as csv.writer quotes)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)
    return path


def work_env(base_url: str, token: str = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "LEDGER_"))}
    env.update(WEBEX_ACCESS_TOKEN=token, WEBEX_BASE_URL=base_url, PYTHONUNBUFFERED="1")
    return env


def start_work(db: Path, base_url: str, *args: str, token: str = TOKEN, out: Path | None = None) -> subprocess.Popen[bytes]:
    """``ledger --db DB work ARGS`` as a real subprocess (stdout+stderr to ``out`` or a pipe)."""
    cmd = [str(LEDGER_BIN) if LEDGER_BIN.exists() else sys.executable, *([] if LEDGER_BIN.exists() else ["-m", "ledger"])]
    cmd += ["--db", str(db), "work", *args]
    stream = open(out, "ab") if out is not None else subprocess.PIPE  # noqa: SIM115 - closed by the caller's wait
    return subprocess.Popen(cmd, env=work_env(base_url, token), stdout=stream, stderr=subprocess.STDOUT)


def run_work(db: Path, base_url: str, *args: str, token: str = TOKEN, timeout: float = 240) -> tuple[int, str]:
    proc = start_work(db, base_url, *args, token=token)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode("utf-8", "replace")


def import_csv(db: Path, action: str, path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write ``rows`` as a CSV and import it into the ledger ``db`` as ``action`` (in process)."""
    from ledger.actions import get_spec
    from ledger.importing.importer import import_file
    from ledger.store.engine import open_ledger

    write_csv(path, header, rows)
    engine = open_ledger(db)
    try:
        import_file(engine, get_spec(action), path)
    finally:
        engine.dispose()


def finished(db: Path) -> int:
    """Rows in a final outcome (succeeded, skipped, failed)."""
    c = statuses(db)
    return c.get("succeeded", 0) + c.get("skipped", 0) + c.get("failed", 0)


def kill_9_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], *, within_s: float = 120) -> None:
    """SIGKILL ``proc`` as soon as ``ready()``; fails when the run ended first (nothing was tested)."""
    import signal
    import time

    deadline = time.monotonic() + within_s
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

