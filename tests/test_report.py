"""`ledger report` / `status` / `retry` / `release` on a real ledger with a simulated run."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result

from ledger.reporting import report
from ledger.reporting.causes import error_template
from ledger.reporting.status import render_status
from ledger.actions import get_spec
from ledger.store.engine import open_ledger
from ledger.importing.importer import import_file
from ledger.models import ErrorKind, RowStatus
from ledger.store.recovery import retry_rows
from ledger.work.liveness import release

CSV = (
    "email,first_name,last_name\n"
    "a@x.com,A,A\n"  # 2 → succeeded
    "b@x.com,B,B\n"  # 3 → failed row 400
    "c@x.com,C,C\n"  # 4 → failed transient 503
    "bad@,D,D\n"  # 5 → invalid
    "e@x.com,E,E\n"  # 6 → pending
    "f@x.com,F,F\n"  # 7 → failed row 400 (same message as line 3, other value)
)


@pytest.fixture
def worked(tmp_path: Path, engine: sa.Engine) -> sa.Engine:
    """An import of CSV plus a finished run that left the rows as commented above."""
    f = tmp_path / "users.csv"
    f.write_text(CSV, encoding="utf-8")
    import_file(engine, get_spec("user.create"), f)
    with engine.begin() as conn:
        x = conn.exec_driver_sql
        x(
            "INSERT INTO runs (id, status, pid, host, started_at, heartbeat_at, finished_at, batch_size, concurrency,"
            " retry_profile) VALUES (1, 'completed', 1, 'h', '2026-01-01T10:00:00.000000Z',"
            " '2026-01-01T10:01:00.000000Z', '2026-01-01T10:01:30.500000Z', 200, 4, 'default')"
        )
        x("UPDATE ledger SET status='succeeded', attempts=1, run_id=1, result='{\"id\": \"P1\"}' WHERE line_no=2")
        for line, who in ((3, "b@x.com"), (7, "f@x.com")):
            x(
                "UPDATE ledger SET status='failed', attempts=1, run_id=1, error_kind='row', error_code='4003',"
                f" http_status=400, error_message='Invalid email domain (''{who}'')', tracking_id='T{line}'"
                f" WHERE line_no={line}"
            )
        x(
            "UPDATE ledger SET status='failed', attempts=5, run_id=1, error_kind='transient', http_status=503,"
            " error_message='Service Unavailable', tracking_id='T4' WHERE line_no=4"
        )
        for outcome in ("retry", "retry", "throttled", "failed", "succeeded"):
            x(
                "INSERT INTO attempts (row_id, run_id, attempt_no, started_at, outcome) VALUES"
                f" (3, 1, 1, '2026-01-01T10:00:01.000000Z', '{outcome}')"
            )
    return engine


def test_summary_counts(worked: sa.Engine) -> None:
    s = report.summary(worked)
    assert (s.total, s.processed, s.succeeded, s.skipped, s.failed_row, s.failed_systemic, s.invalid, s.pending) == (
        6, 4, 1, 0, 2, 1, 1, 1,
    )
    assert (s.retries, s.throttled) == (3, 1)
    assert s.duration_s == 90.5
    assert s.status == "pending"
    assert s.error_kinds == {"invalid": 1, "row": 2, "transient": 1}
    assert [(g.count, g.error_kind, g.message, g.example_line) for g in s.top_errors] == [
        (2, "row", "Invalid email domain (…)", 3),
        (1, "transient", "Service Unavailable", 4),
        (1, "invalid", "column 'email': not a valid email address (…)", 5),
    ]
    assert s.next_steps == (
        "`ledger retry --status failed --kind transient` (and `--kind systemic`) then `ledger work`: "
        "1 row failed for temporary or service-wide reasons",
        "fix the data of the 2 failed rows (row_errors.csv), then `ledger retry --status failed --kind row` and `ledger work`",
        "correct the 1 invalid lines listed in row_errors.csv and import the corrected file",
        "`ledger work` to process the 1 pending row",
    )


def test_report_files_exact(worked: sa.Engine, run_cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("report", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "2 × user.create [row 400/4003] Invalid email domain (…) (e.g. users.csv line 3)" in result.stdout
    assert "`ledger retry --status failed --kind transient`" in result.stdout
    assert "retries 3 (1 after a 429/423)" in result.stdout
    data = json.loads((out / "run_summary.json").read_text())
    assert {k: data[k] for k in ("status", "processed", "succeeded", "skipped", "failed_row", "failed_systemic",
                                 "invalid", "pending", "retries", "throttled", "duration_s", "last_run_status")} == {
        "status": "pending", "processed": 4, "succeeded": 1, "skipped": 0, "failed_row": 2, "failed_systemic": 1,
        "invalid": 1, "pending": 1, "retries": 3, "throttled": 1, "duration_s": 90.5, "last_run_status": "completed",
    }
    assert data["imports"][0]["counts"] == {"pending": 1, "succeeded": 1, "failed": 3, "invalid": 1}
    assert data["imports"][0]["percent_done"] == 80.0  # 4 final of the 5 rows that can be worked (invalid left out)
    assert data["actions"] == {"user.create": {"pending": 1, "succeeded": 1, "failed": 3, "invalid": 1}}
    path = str(tmp_path / "users.csv")
    with (out / "row_errors.csv").open(newline="") as fh:
        got = list(csv.reader(fh))
    assert got == [
        ["row_id", "file", "line_no", "action", "error_kind", "error_code", "http_status", "error_message",
         "tracking_id", "business_key"],
        ["2", path, "3", "user.create", "row", "4003", "400", "Invalid email domain ('b@x.com')", "T3", "b@x.com"],
        ["3", path, "4", "user.create", "transient", "", "503", "Service Unavailable", "T4", "c@x.com"],
        ["4", path, "5", "user.create", "invalid", "", "", "column 'email': not a valid email address ('bad@')", "", ""],
        ["6", path, "7", "user.create", "row", "4003", "400", "Invalid email domain ('f@x.com')", "T7", "f@x.com"],
    ]


def test_report_default_dir_is_next_to_the_ledger(worked: sa.Engine, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    assert run_cli("report").exit_code == 0
    assert (ledger_path.parent / "report" / "run_summary.json").exists()


def test_report_is_read_only_and_works_while_a_writer_holds_the_lock(worked: sa.Engine, ledger_path: Path, tmp_path: Path) -> None:
    with worked.begin() as conn:  # a worker mid-transaction (BEGIN IMMEDIATE held)
        conn.exec_driver_sql("UPDATE ledger SET status='running' WHERE line_no=6")
        files = report.write_report(open_ledger(ledger_path, readonly=True), tmp_path / "r")
    assert files.summary.pending == 1 and files.summary.running == 0  # the snapshot before the commit
    assert files.error_rows == 4
    with worked.connect() as conn:  # the writer's change committed after the report's snapshot
        assert conn.exec_driver_sql("SELECT status FROM ledger WHERE line_no=6").scalar() == "running"


def test_report_on_a_missing_ledger(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    result = run_cli("report", db=tmp_path / "none.db")
    assert result.exit_code == 1
    assert result.stderr == f"ledger: error: {tmp_path / 'none.db'}: no ledger here yet; run `ledger import` first\n"
    assert not (tmp_path / "none.db").exists()


def test_status_one_screen(worked: sa.Engine, run_cli: Callable[..., Result]) -> None:
    result = run_cli("status")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["1", "user.create", "80.0%", "pending", "1", "succeeded", "1", "failed", "3", "invalid", "1", "users.csv"]
    assert lines[2].startswith("last run 1: completed")


def test_retry_by_kind_then_all_failed(worked: sa.Engine, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    result = run_cli("retry", "--kind", "transient")
    assert result.stdout == "1 row back to pending; run `ledger work`\n"
    with worked.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT status, attempts, error_kind, http_status, error_message, tracking_id, result FROM ledger WHERE line_no=4"
        ).one()
    assert tuple(row) == ("pending", 0, None, None, None, None, None)
    with worked.connect() as conn:  # a transient failure may have reached Webex: re-checked first
        assert conn.exec_driver_sql("SELECT error_code FROM ledger WHERE line_no=4").scalar() == "reclaimed"
    assert run_cli("retry", "--status", "failed", "--import", "2").stdout == "0 rows back to pending\n"
    assert run_cli("retry").stdout.startswith("2 rows back to pending")
    s = report.summary(worked)
    assert (s.pending, s.invalid, s.succeeded, s.failed_row) == (4, 1, 1, 0)  # invalid rows are never retried
    with worked.connect() as conn:  # a row failure is retried clean
        assert conn.exec_driver_sql("SELECT error_code FROM ledger WHERE line_no=3").scalar() is None


def test_retry_never_touches_invalid_or_running(worked: sa.Engine) -> None:
    with worked.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger SET status='running' WHERE line_no=6")
    assert retry_rows(worked, statuses=[RowStatus.INVALID, RowStatus.RUNNING]) == 0
    assert retry_rows(worked, statuses=[RowStatus.SUCCEEDED], kinds=[ErrorKind.ROW]) == 0
    assert retry_rows(worked, statuses=[RowStatus.SUCCEEDED]) == 1


def test_release_stale_runs(worked: sa.Engine, run_cli: Callable[..., Result]) -> None:
    with worked.begin() as conn:
        x = conn.exec_driver_sql
        x(
            "INSERT INTO runs (id, status, pid, host, started_at, heartbeat_at, batch_size, concurrency, retry_profile)"
            " VALUES (2, 'running', 2, 'h', '2026-01-01T11:00:00.000000Z', '2026-01-01T11:00:10.000000Z', 200, 4, 'd'),"
            " (3, 'running', 3, 'h', '2999-01-01T11:00:00.000000Z', '2999-01-01T11:00:10.000000Z', 200, 4, 'd')"
        )
        x("UPDATE ledger SET status='running', run_id=2 WHERE line_no=6")
        x("UPDATE ledger SET status='running', run_id=3 WHERE line_no=2")
    assert report.summary(worked).status == "running"
    result = run_cli("release", "--older-than", "15m")
    assert result.stdout == "released 1 row held by dead runs (now pending)\n"
    with worked.connect() as conn:
        assert conn.exec_driver_sql("SELECT status, run_id, error_code FROM ledger WHERE line_no=6").one() == (
            "pending", 2, "reclaimed",
        )
        assert conn.exec_driver_sql("SELECT status FROM ledger WHERE line_no=2").scalar() == "running"  # live run
        assert conn.exec_driver_sql("SELECT status FROM runs WHERE id=2").scalar() == "interrupted"
        assert conn.exec_driver_sql("SELECT status FROM runs WHERE id=3").scalar() == "running"
    assert release(worked, older_than_s=900).rows == 0


def test_release_rows_of_a_finished_run(worked: sa.Engine) -> None:
    with worked.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger SET status='running', run_id=1 WHERE line_no=6")  # run 1 is completed
    assert release(worked, older_than_s=3600).rows == 1
    s = report.summary(worked)
    assert s.running == 0 and s.pending == 1


def test_empty_ledger_summary(engine: sa.Engine) -> None:
    s = report.summary(engine)
    assert (s.status, s.total, s.next_steps) == ("empty", 0, ("`ledger import FILE --action NAME` to load rows",))
    assert "no imports yet" in render_status(s)


def test_silent_running_run_is_not_reported_as_running(worked: sa.Engine) -> None:
    from datetime import UTC, datetime

    with worked.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO runs (id, status, pid, host, started_at, heartbeat_at, batch_size, concurrency, retry_profile)"
            " VALUES (2, 'running', 2, 'h', '2026-01-01T11:00:00.000000Z', '2026-01-01T11:00:10.000000Z', 200, 4, 'd')"
        )
        conn.exec_driver_sql("UPDATE ledger SET status='running', run_id=2 WHERE line_no=6")
    live = report.summary(worked, now=datetime(2026, 1, 1, 11, 0, 30, tzinfo=UTC))
    assert live.status == "running"
    assert live.next_steps[-1] == "run 2 is in progress; `ledger status` shows its progress"
    silent = report.summary(worked, now=datetime(2026, 1, 1, 11, 20, 10, tzinfo=UTC))
    assert silent.status == "pending"
    assert silent.next_steps[0] == (
        "run 2 (pid 2 on h) sent no heartbeat for 1200s (crashed?): `ledger work` reclaims its rows, or `ledger release` now"
    )


@pytest.mark.parametrize(
    ("message", "template"),
    [
        ("create user a.b@x.com: HTTP 400 25008 [Error 25008] Invalid request for a.b@x.com",
         "create user <email>: HTTP 400 25008 [Error 25008] Invalid request for <email>"),
        ("column 'extension': not an extension ('12a'; digits only)", "column 'extension': not an extension (…)"),
        ("+34935678901 (NUM_IN_USE: in use) in Y2lzY29zcGFyazovL3VzL0xPQ0FUSU9OL2FiYw",
         "<number> (NUM_IN_USE: in use) in <id>"),
        ("duplicate of line 12 (same email)", "duplicate of line N (same email)"),
        (None, "(no message)"),
    ],
)
def test_error_template_elides_row_values(message: str | None, template: str) -> None:
    assert error_template(message) == template


def test_unknown_import_is_an_error(worked: sa.Engine, run_cli: Callable[..., Result]) -> None:
    for cmd in (["status", "--import", "9"], ["report", "--import", "9"]):
        result = run_cli(*cmd)
        assert result.exit_code == 1
        assert result.stderr == "ledger: error: --import 9: no such import (see `ledger status`)\n"


def test_the_summary_never_takes_the_write_lock(worked: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: the end-of-run summary read through the write engine (a read taking BEGIN IMMEDIATE),
    so it waited for, and could time out on, any other writer."""
    import sqlite3

    from ledger.store import dialect

    monkeypatch.setattr(dialect, "BUSY_TIMEOUT_MS", 300)
    db = worked.url.database
    writer = sqlite3.connect(str(db), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        engine = open_ledger(str(db))  # a write engine, as `ledger work` holds at the end of its run
        assert report.summary(engine).total == 6
        engine.dispose()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_invalid_rows_are_never_retryable() -> None:
    """Issue 15: RETRYABLE_STATUSES listed `invalid`, which retry_rows then had to filter out again."""
    from ledger.cli import retry_cmd
    from ledger.models import RETRYABLE_STATUSES

    assert RowStatus.INVALID not in RETRYABLE_STATUSES
    choices = next(p for p in retry_cmd.params if p.name == "statuses").type.choices  # type: ignore[attr-defined]
    assert list(choices) == [s.value for s in RETRYABLE_STATUSES]


def test_blocked_rows_are_counted_and_listed_apart(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    """Issue 12: blocked rows (waiting on a failed/invalid step of the same person) appear in their own
    file, count and cause list — in `ledger report`, run_summary.json and `ledger status` — never among
    the failed/invalid rows of row_errors.csv."""
    create = tmp_path / "create.csv"
    create.write_text("email,first_name,last_name\nana@x.com,Ana,A\nbob@x.com,Bob,\n", encoding="utf-8")
    lic = tmp_path / "lic.csv"
    lic.write_text("email,add_license_ids\nana@x.com,L1\nbob@x.com,L1\n", encoding="utf-8")
    fwd = tmp_path / "fwd.csv"
    fwd.write_text("email,destination\nbob@x.com,+34911111111\n", encoding="utf-8")
    for args in (
        (str(create), "--action", "user.create"),
        (str(lic), "--action", "user.licenses", "--after", "1"),
        (str(fwd), "--action", "user.forwarding", "--after", "2"),
    ):
        assert run_cli("import", *args).exit_code == 0
    out = tmp_path / "r"
    res = run_cli("report", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert f"wrote {out / 'blocked_rows.csv'} (2 blocked rows, with the step each waits on)" in res.output
    with (out / "blocked_rows.csv").open(newline="", encoding="utf-8") as fh:
        blocked = list(csv.DictReader(fh))
    assert [(b["file"], b["line_no"], b["action"], b["entity"]) for b in blocked] == [
        (str(lic), "3", "user.licenses", "person:bob@x.com"),
        (str(fwd), "2", "user.forwarding", "person:bob@x.com"),
    ]
    # each names the step it waits on now: both wait on Bob's invalid create line (a user's later
    # steps wait on that user's create; the earliest failing prerequisite is named)
    assert [(b["waits_on_file"], b["waits_on_line"], b["waits_on_action"], b["waits_on_status"]) for b in blocked] == [
        (str(create), "3", "user.create", "invalid")
    ] * 2
    assert {b["waits_on_error"] for b in blocked} == {"column 'last_name': required, but empty"}
    assert blocked[0]["error_message"].startswith("blocked by import 1 line 3 (user.create, row ")
    with (out / "row_errors.csv").open(newline="", encoding="utf-8") as fh:
        assert [(r["line_no"], r["action"]) for r in csv.DictReader(fh)] == [("3", "user.create")]
    data = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    assert (data["blocked"], data["invalid"], data["failed_row"], data["error_kinds"]) == (2, 1, 0, {"invalid": 1})
    assert sorted((g["action"], g["count"]) for g in data["blocked_by"]) == [("user.forwarding", 1), ("user.licenses", 1)]
    assert [g["action"] for g in data["top_errors"]] == ["user.create"]  # blocked rows are not errors
    status = run_cli("status")
    assert status.exit_code == 0
    assert "\nblocked 2 (not failed:" in status.output and "blocked_rows.csv" in status.output
    assert "1 × user.licenses: blocked by import 1 line N (user.create, row N, invalid)" in status.output


def test_invalid_lines_imported_for_several_steps_are_counted_as_lines(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    """A plan imports Usuarios.csv for five steps: one bad line is five invalid rows, one line to correct."""
    f = tmp_path / "u.csv"
    f.write_text("email,first_name,last_name,destination,legacy_phone_number\na@x.com,A,A,5001,+34935550001\nbad@,B,B,5002,+34935550002\nno-at,C,C,5003,+34935550003\n")
    for action in ("user.create", "user.forwarding", "user.secondary_number"):
        assert run_cli("import", str(f), "--action", action).exit_code == 0
    out = run_cli("report", "--out", str(tmp_path / "r")).stdout
    assert "correct the 2 invalid lines of the files (6 invalid rows: one per step reading the line)" in out
    data = json.loads((tmp_path / "r" / "run_summary.json").read_text())
    assert (data["invalid"], data["invalid_lines"]) == (6, 2)


def test_an_invalid_line_of_several_steps_is_one_top_error(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    """The same bad line imported for three steps: one 'top error' naming the steps, not three."""
    f = tmp_path / "u.csv"
    f.write_text("email,first_name,last_name,destination,legacy_phone_number\nbad@,B,B,5002,+34935550002\n")
    for action in ("user.create", "user.forwarding", "user.secondary_number"):
        assert run_cli("import", str(f), "--action", action).exit_code == 0
    out = run_cli("report", "--out", str(tmp_path / "r")).stdout
    tops = [line for line in out.splitlines() if " × " in line]
    assert tops == ["       3 × user.create (+2 steps) [invalid] column 'email': not a valid email address (…) (e.g. u.csv line 2)"]
