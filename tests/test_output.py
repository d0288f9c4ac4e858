"""What `ledger work` and `ledger status` print (issue 13, "Counts and output"): summaries that add
up, % done without invalid rows, the final progress line, the dry run's last line, library noise kept
off the terminal. Real ledgers, the real CLI, the real wxc_sdk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_wxc_sdk_enum_warnings_go_to_the_log_file_not_the_terminal(tmp_path: Path) -> None:
    """wxc_sdk logs ``auto enhancing Enum …`` (stdlib logging, WARNING) for every value it does not
    know; without a handler Python prints it on stderr, in the middle of the progress line."""
    code = (
        "import sys; from pathlib import Path\n"
        "from ledger.logsetup import configure_logging\n"
        "configure_logging(Path(sys.argv[1]))\n"
        "from wxc_sdk.people import PhoneNumberType\n"
        "PhoneNumberType('pager_h13')\n"
    )
    db = tmp_path / "ledger.db"
    proc = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "auto enhancing Enum" not in proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "ledger.log").read_text().splitlines()]
    assert any("auto enhancing Enum PhoneNumberType" in e["event"] and e["logger"] == "wxc_sdk.base" for e in lines)


# --- summaries add up ----------------------------------------------------------------------------------

import os  # noqa: E402
import socket  # noqa: E402

from worker_support import TOKEN, import_users, query, statuses  # noqa: E402

from ledger.actions.runtime import WebexExecutors  # noqa: E402
from ledger.errors import ExitCode  # noqa: E402
from ledger.reporting import report as reports  # noqa: E402
from ledger.sandbox import FaultConfig  # noqa: E402
from ledger.sandbox.testing import sandbox_factory  # noqa: E402,F401 - fixture
from ledger.settings import WorkSettings  # noqa: E402
from ledger.store import runs as store_runs  # noqa: E402
from ledger.store.engine import open_ledger  # noqa: E402
from ledger.work.run import run_work  # noqa: E402


def _settings(db: Path, **kw: object) -> WorkSettings:
    kw.setdefault("retry_profile", "fast")
    return WorkSettings(db, progress=False, **kw)  # type: ignore[arg-type]


def test_error_kinds_count_only_failed_and_invalid_rows(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    """After an outage every row is pending again, some still carrying their last error: the summary
    must not call them transient/systemic failures (it said `failed 0` and `transient 10`)."""
    sb = sandbox_factory(token=TOKEN, seed=3, faults=FaultConfig(outage=True))
    import_users(ledger_path, tmp_path, 10)
    report = run_work(_settings(ledger_path, concurrency=2), WebexExecutors(token=TOKEN, base_url=sb.base_url, concurrency=2))
    assert report.exit_code == ExitCode.FAILED_SYSTEMIC
    assert statuses(ledger_path) == {"pending": 10}
    assert query(ledger_path, "SELECT count(*) AS n FROM ledger WHERE error_kind IS NOT NULL")[0].n > 0
    engine = open_ledger(ledger_path, readonly=True)
    s = reports.summary(engine)
    engine.dispose()
    assert s.error_kinds == {}
    assert sum(s.error_kinds.values()) == s.failed_row + s.failed_systemic + s.invalid
    assert "error kinds" not in reports.render_summary(s)


def test_percent_done_leaves_invalid_rows_out(tmp_path: Path, run_cli, ledger_path: Path) -> None:
    f = tmp_path / "u.csv"
    f.write_text("email,first_name,last_name\nfoo@,A,B\nbar@,C,D\n")
    assert run_cli("import", str(f), "--action", "user.create").exit_code == 0
    out = run_cli("status").stdout
    line = out.splitlines()[1].split()
    assert line[:3] == ["1", "user.create", "n/a"], out  # not "100.0%": nothing was done
    g = tmp_path / "g.csv"
    g.write_text("email,first_name,last_name\nfoo@,A,B\nok@x.com,C,D\n")
    assert run_cli("import", str(g), "--action", "user.create").exit_code == 0
    assert run_cli("status").stdout.splitlines()[2].split()[:3] == ["2", "user.create", "0.0%"]


def _run_row(engine, pid: int) -> int:  # noqa: ANN001
    return store_runs.create_run(
        engine, pid=pid, host=socket.gethostname(), import_id=None, batch_size=10, concurrency=1,
        retry_profile="fast", dry_run=False,
    )


def test_status_says_a_dead_run_is_dead_and_shows_every_live_run(ledger_path: Path, run_cli) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    engine = open_ledger(ledger_path)
    live_a = _run_row(engine, os.getpid())
    dead = _run_row(engine, gone.pid)
    live_b = _run_row(engine, os.getppid())
    engine.dispose()
    f = ledger_path.parent / "u.csv"
    f.write_text("email,first_name,last_name\nana@x.com,A,B\n")
    assert run_cli("import", str(f), "--action", "user.create").exit_code == 0
    out = run_cli("status").stdout
    assert f"run {live_a}: running (pid {os.getpid()}" in out
    assert f"run {live_b}: running (pid {os.getppid()}" in out
    assert f"run {dead}: dead (pid {gone.pid} on {socket.gethostname()} is not running any more" in out
    assert f"last run {dead}: running" not in out
    report = run_cli("report", "--out", str(ledger_path.parent / "rep")).stdout
    assert f"last run {live_b}: running" in report


# --- progress and the last lines of `ledger work` ----------------------------------------------------------


def test_progress_ends_with_a_100_percent_line_and_a_dry_run_offers_no_retry(tmp_path: Path, run_cli, ledger_path: Path, sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=3)
    import_users(ledger_path, tmp_path, 30)
    ghosts = tmp_path / "ghosts.csv"  # users that do not exist: their rows would fail
    ghosts.write_text("email,legacy_phone_number\nghost1@x.com,+34935550001\nghost2@x.com,+34935550002\n")
    assert run_cli("import", str(ghosts), "--action", "user.secondary_number").exit_code == 0
    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": TOKEN}
    dry = run_cli("work", "--dry-run", "--batch-size", "7", env=env)
    assert dry.exit_code == 0, dry.stderr
    assert "dry run: 30 would change, 0 would be skipped, 2 would fail" in dry.stdout
    assert "to retry the failed rows" not in dry.stdout  # nothing failed: every row is still pending
    assert dry.stderr.strip().splitlines()[-1].startswith("100.0% 32/32 rows"), dry.stderr
    real = run_cli("work", "--batch-size", "7", env=env)
    assert real.exit_code == 0, real.stderr
    lines = [line for line in real.stderr.splitlines() if "rows/min" in line]
    assert lines[-1].startswith("100.0% 32/32 rows  2 failed"), real.stderr
    assert "to retry the failed rows" in real.stdout  # two rows did fail
    # they failed for their data (unknown users): the retry line says to fix it first, as `next:` does
    assert real.stdout.rstrip().endswith("work  (row errors: fix their data first, see row_errors.csv)")


def test_the_run_line_counts_the_rows_blocked_at_import_as_the_summary_does(tmp_path: Path, run_cli, ledger_path: Path, sandbox_factory) -> None:  # noqa: F811
    """Rows blocked before the run (an invalid create line at import) are left blocked: the run's last
    line says so, as the summary above it does, instead of '0 blocked'."""
    sb = sandbox_factory(token=TOKEN, seed=3)
    users, forwarding = tmp_path / "u.csv", tmp_path / "f.csv"
    users.write_text("email,first_name,last_name\na@x.com,A,A\nb@x.com,B,\nc@x.com,C,C\n")
    forwarding.write_text("email,destination\na@x.com,+34935550001\nb@x.com,+34935550002\nc@x.com,+34935550003\n")
    assert run_cli("import", str(users), "--action", "user.create").exit_code == 0
    out = run_cli("import", str(forwarding), "--action", "user.forwarding", "--after", "1").stdout
    assert "1 row is blocked" in out
    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": TOKEN}
    work = run_cli("work", env=env)
    assert work.exit_code == 0, work.stderr
    assert "blocked 1, pending 0" in work.stdout  # the summary
    assert "failed; left: 1 blocked, 0 pending;" in work.stdout  # the run line (was '0 blocked')


def test_after_a_token_is_revoked_mid_run_pending_rows_are_not_systemic_failures(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    """The preflight passes, then Webex starts answering 401 (the token expired): the run stops with
    exit 3 and the rows it did not finish are pending, and every count of the summary says so."""
    import threading
    import time

    sb = sandbox_factory(token=TOKEN, seed=3, faults=FaultConfig(latency_ms=20))
    import_users(ledger_path, tmp_path, 60)

    def revoke() -> None:
        deadline = time.monotonic() + 60
        while len(sb.requests()) < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
        sb.token = "revoked"

    t = threading.Thread(target=revoke)
    t.start()
    report = run_work(_settings(ledger_path, concurrency=2), WebexExecutors(token=TOKEN, base_url=sb.base_url, concurrency=2))
    t.join()
    assert report.exit_code == ExitCode.FAILED_SYSTEMIC
    counts = statuses(ledger_path)
    assert set(counts) <= {"succeeded", "pending"} and counts["pending"] > 0
    engine = open_ledger(ledger_path, readonly=True)
    s = reports.summary(engine)
    engine.dispose()
    assert (s.failed_row, s.failed_systemic, s.error_kinds) == (0, 0, {})
    assert s.succeeded + s.pending == s.total == 60
    text = report.render()
    assert "failed 0 (row 0, transient/systemic 0)" in text and "systemic " not in text.split("next:")[0].replace("transient/systemic", "")
    assert f"{s.succeeded} succeeded, 0 skipped, 0 failed; left: 0 blocked, " in text and f"{s.pending} pending;" in text


def test_after_ctrl_c_the_error_kinds_add_up_to_the_failed_rows(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    """Ctrl-C in the middle of 503s and row errors: rows put back to pending keep their last error,
    but `failed N (row r, transient/systemic t)` and `error kinds` count the same rows."""
    import signal
    import time

    from worker_support import start_work

    _, emails = import_users(ledger_path, tmp_path, 300)
    bad = {emails[i] for i in range(0, 300, 10)}
    sb = sandbox_factory(token=TOKEN, seed=6, faults=FaultConfig(latency_ms=10, p503=0.3, row_errors=bad))
    proc = start_work(ledger_path, sb.base_url, "--batch-size", "50", "--retry-profile", "fast")
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        done = statuses(ledger_path)
        if done.get("succeeded", 0) + done.get("failed", 0) >= 60:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the signal"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 4, out.decode()[-2000:]
    assert query(ledger_path, "SELECT count(*) AS n FROM ledger WHERE status = 'pending' AND error_kind IS NOT NULL")[0].n > 0
    engine = open_ledger(ledger_path, readonly=True)
    s = reports.summary(engine)
    engine.dispose()
    assert s.failed_row > 0
    assert s.error_kinds.get("row", 0) == s.failed_row
    assert s.error_kinds.get("transient", 0) + s.error_kinds.get("systemic", 0) == s.failed_systemic
    assert s.succeeded + s.skipped + s.failed_row + s.failed_systemic + s.pending + s.running + s.blocked == s.total
