"""HTTP 403 end to end (`ledger work` as a real subprocess against the sandbox's ``forbidden`` fault).

Policy under test (ledger.work.rows / ledger.actions.base ``translate``): a 403 is a ``systemic``
failure that feeds the breaker. A row's 403 that other rows do not share (a resource the admin may not
touch) fails that row once Webex has answered other rows; 403s until the breaker opens (every write,
or every read of a read-only precheck, refused: the token lacks a scope or its user a role) stop the
run at once, ``failed_systemic`` exit 3, every unexecuted row ``pending``: no recovery wait or probing,
since no waiting grants a scope.
"""

from __future__ import annotations

import csv
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from ledger.actions import get_spec
from ledger.store.engine import open_ledger
from ledger.importing.importer import import_file

from ledger.work.profiles import PROFILES
from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, import_users, query, run_work, start_work, statuses

CONCURRENCY = 4  # `ledger work`'s default


def _import(db: Path, path: Path, action: str) -> int:
    engine = open_ledger(db)
    try:
        return import_file(engine, get_spec(action), path).import_id
    finally:
        engine.dispose()


def _work_must_stop(db: Path, base_url: str, within_s: float = 120) -> tuple[int, str]:
    """``ledger work`` with the default profile (an outage is probed for its 300 s budget); killed, and
    the test failed, if it is still running after ``within_s``."""
    proc = start_work(db, base_url)
    try:
        out, _ = proc.communicate(timeout=within_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"`ledger work` was still running after {within_s:g}s: {out.decode()[-1500:]}")
    return proc.returncode, out.decode("utf-8", "replace")


def _answers(sb) -> Counter[tuple[str, int | None]]:
    return Counter((r.method, r.status) for r in sb.requests())


def _assert_stopped_for_403(db: Path, out: str, rows: int) -> None:
    assert "HTTP 403" in out and "lacks a scope" in out and "pending" in out, out[-2000:]
    assert TOKEN not in out
    assert statuses(db) == {"pending": rows}  # nothing failed, nothing left running
    run = query(db, "SELECT status, exit_code, message FROM runs")[-1]
    assert (run.status, run.exit_code) == ("failed_systemic", 3)
    assert "HTTP 403" in run.message and TOKEN not in run.message


@pytest.mark.slow
def test_every_write_403_stops_at_once_rows_pending_then_a_good_token_run_completes(
    ledger_path: Path, tmp_path: Path, sandbox_factory  # noqa: F811
) -> None:
    _, emails = import_users(ledger_path, tmp_path, 300)
    sb = sandbox_factory(token=TOKEN, seed=4, faults=FaultConfig.parse("forbidden=WRITE:*"))
    code, out = _work_must_stop(ledger_path, sb.base_url)
    assert code == 3, out[-2000:]
    _assert_stopped_for_403(ledger_path, out, 300)
    refused = _answers(sb)[("POST", 403)]
    assert 1 <= refused <= PROFILES["default"].breaker_consecutive + CONCURRENCY  # not 300 rows of 403s
    assert not any(sb.state.create_count(e) for e in emails)
    sb.faults.forbidden.clear()  # the token now has the scope: the same rows complete, once each
    code, out = run_work(ledger_path, sb.base_url, "--retry-profile", "fast")
    assert code == 0, out[-2000:]
    assert statuses(ledger_path) == {"succeeded": 300}
    assert all(sb.state.create_count(e) == 1 for e in emails)


@pytest.mark.slow
def test_read_only_precheck_whose_reads_all_403_stops_at_once(
    ledger_path: Path, tmp_path: Path, sandbox_factory  # noqa: F811
) -> None:
    sb = sandbox_factory(token=TOKEN, seed=4, faults=FaultConfig.parse("forbidden=GET:workspaces/*/features/*"))
    loc = sb.state.add_location("HQ", calling_enabled=True)
    path = tmp_path / "ws.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out_csv = csv.writer(fh)
        out_csv.writerow(["workspace_id"])
        for i in range(60):
            out_csv.writerow([sb.state.add_workspace(f"Sala {i}", loc, calling="webexCalling", extension=f"{8000 + i}")])
    _import(ledger_path, path, "workspace.check_permissions")
    code, out = _work_must_stop(ledger_path, sb.base_url)
    assert code == 3, out[-2000:]
    _assert_stopped_for_403(ledger_path, out, 60)
    assert _answers(sb)[("GET", 403)] <= PROFILES["default"].breaker_consecutive + CONCURRENCY
    assert not any(r.method != "GET" for r in sb.requests())  # a read-only action never wrote


@pytest.mark.slow
def test_a_few_rows_403_fail_those_rows_and_the_run_completes(
    ledger_path: Path, tmp_path: Path, sandbox_factory  # noqa: F811
) -> None:
    sb = sandbox_factory(token=TOKEN, seed=4)
    loc = sb.state.add_location("HQ", calling_enabled=True)
    ids = [sb.state.add_workspace(f"Sala {i}", loc, calling="webexCalling", extension=f"{8000 + i}") for i in range(40)]
    denied = ids[5:40:10]  # 4 workspaces in another admin's scope: only their reads are refused
    sb.faults = FaultConfig(forbidden={f"GET:workspaces/{w}/*" for w in denied})
    path = tmp_path / "ws.csv"
    path.write_text("workspace_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
    _import(ledger_path, path, "workspace.check_permissions")
    code, out = run_work(ledger_path, sb.base_url, timeout=120)
    assert code == 0, out[-2000:]  # partial success: the run went on
    assert statuses(ledger_path) == {"succeeded": 36, "failed": 4}
    failed = query(ledger_path, "SELECT payload, error_kind, http_status, error_message FROM ledger WHERE status='failed'")
    assert {(r.error_kind, r.http_status) for r in failed} == {("systemic", 403)}
    assert sorted(w for w in denied if any(w in r.payload for r in failed)) == sorted(denied)
    assert all("lacks a scope" in r.error_message for r in failed)
    run = query(ledger_path, "SELECT status, exit_code FROM runs")[-1]
    assert (run.status, run.exit_code) == ("completed", 0)


@pytest.mark.slow
def test_scim_bulk_writes_403_stop_at_once_rows_pending(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=4, faults=FaultConfig.parse("forbidden=POST:identity/*"))
    path = tmp_path / "scim.csv"
    rows = 3000  # 30 bulk requests of 100 users
    path.write_text(
        "email,first_name,last_name,org_id\n"
        + "".join(f"scim{i:05d}@lab.example.com,Ana,Puig,{sb.state.org_id}\n" for i in range(rows)),
        encoding="utf-8",
    )
    _import(ledger_path, path, "user.scim_create")
    code, out = _work_must_stop(ledger_path, sb.base_url)
    assert code == 3, out[-2000:]
    _assert_stopped_for_403(ledger_path, out, rows)
    bulk_posts = [r for r in sb.requests() if r.method == "POST"]
    assert {r.status for r in bulk_posts} == {403}
    assert len(bulk_posts) <= PROFILES["default"].breaker_consecutive + CONCURRENCY < rows // 100


@pytest.mark.slow
def test_outage_then_403_on_the_probe_stops_with_the_scope_message(
    ledger_path: Path, tmp_path: Path, sandbox_factory  # noqa: F811
) -> None:
    import_users(ledger_path, tmp_path, 300)
    sb = sandbox_factory(token=TOKEN, seed=4, faults=FaultConfig(outage=True))
    proc = start_work(ledger_path, sb.base_url, "--retry-profile", "fast")
    consecutive = PROFILES["fast"].breaker_consecutive
    deadline = time.monotonic() + 60
    while sum(r.status == 503 for r in sb.requests()) < consecutive and time.monotonic() < deadline:
        time.sleep(0.05)
    sb.faults.forbidden.add("WRITE:*")  # Webex is back, but the token cannot write
    sb.faults.outage = False
    out, _ = proc.communicate(timeout=60)
    text = out.decode()
    assert proc.returncode == 3, text[-2000:]
    _assert_stopped_for_403(ledger_path, text, 300)
    assert "did not recover" not in text  # not a Webex outage: no probing until the budget
    assert sum(r.status == 403 for r in sb.requests()) <= consecutive + CONCURRENCY
