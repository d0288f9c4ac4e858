"""The claim statement and every guarded transition, on real SQLite files (threads and processes)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from ledger.store import claims as store
from ledger.store import recovery, runs
from ledger.actions import get_spec
from ledger.store.engine import open_ledger
from ledger.importing.importer import import_file
from ledger.models import RowStatus, RunStatus
from ledger.store.claims import AttemptRecord, RowOutcome
from worker_support import import_users, query


def _run(engine: sa.Engine, pid: int = 1, host: str = "here") -> int:
    return runs.create_run(
        engine, pid=pid, host=host, import_id=None, batch_size=10, concurrency=1, retry_profile="default", dry_run=False
    )


def _attempt(outcome: str = "succeeded") -> AttemptRecord:
    return AttemptRecord(1, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:01.000000Z", outcome)


def test_claim_marks_oldest_pending_rows_running_for_the_run(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 25)
    engine = open_ledger(ledger_path)
    run = _run(engine)
    first = store.claim_batch(engine, run, 10)
    second = store.claim_batch(engine, run, 10)
    assert [r.row_id for r in first.rows] == list(range(1, 11))
    assert [r.row_id for r in second.rows] == list(range(11, 21))
    assert first.rows[0].payload["email"] == "user00000@lab.example.com"
    assert not first.rows[0].recovered
    rows = query(ledger_path, "SELECT status, run_id, count(*) AS n FROM ledger GROUP BY status, run_id")
    assert {(r.status, r.run_id, r.n) for r in rows} == {("running", run, 20), ("pending", None, 5)}


def test_claims_from_many_threads_never_overlap(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 1500)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []

    def consumer() -> None:
        engine = open_ledger(ledger_path)  # one engine (connection pool) per thread, like separate workers
        run = _run(engine)
        mine: list[int] = []
        try:
            while True:
                got = store.claim_batch(engine, run, 7).rows
                if not got:
                    break
                mine.extend(r.row_id for r in got)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            claimed.append(mine)
            engine.dispose()

    threads = [threading.Thread(target=consumer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    every = [i for mine in claimed for i in mine]
    assert len(every) == len(set(every)) == 1500
    assert sum(1 for mine in claimed if mine) > 1  # the claims really were concurrent


CLAIM_SCRIPT = """
import json, sys
from ledger.store import claims as store, runs
from ledger.store.engine import open_ledger
engine = open_ledger(sys.argv[1])
run = runs.create_run(engine, pid=0, host='x', import_id=None, batch_size=5, concurrency=1,
                       retry_profile='default', dry_run=False)
ids = []
while True:
    rows = store.claim_batch(engine, run, 5).rows
    if not rows:
        break
    ids.extend(r.row_id for r in rows)
print(json.dumps(ids))
"""


def test_claims_from_many_processes_never_overlap(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 1200)
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIM_SCRIPT, str(ledger_path)], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    every = [i for ids in results for i in ids]
    assert sorted(every) == list(range(1, 1201))  # each row claimed exactly once


def test_outcome_is_written_only_while_the_claim_is_ours(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 3)
    engine = open_ledger(ledger_path)
    mine, other = _run(engine), _run(engine)
    rows = store.claim_batch(engine, mine, 2).rows
    ok = RowOutcome(rows[0].row_id, RowStatus.SUCCEEDED, (_attempt(),), result={"person_id": "p1"})
    wrong_run = store.record_outcomes(engine, other, [ok])
    assert wrong_run.lost == (rows[0].row_id,)
    assert query(ledger_path, "SELECT status FROM ledger WHERE id = :i", i=rows[0].row_id)[0].status == "running"
    assert store.record_outcomes(engine, mine, [ok]).written == 1
    again = store.record_outcomes(engine, mine, [RowOutcome(rows[0].row_id, RowStatus.FAILED, (_attempt("failed"),))])
    assert again.lost == (rows[0].row_id,)  # a final row is never overwritten
    row = query(ledger_path, "SELECT status, attempts, result FROM ledger WHERE id = :i", i=rows[0].row_id)[0]
    assert (row.status, row.attempts, json.loads(row.result)) == ("succeeded", 1, {"person_id": "p1"})
    n_attempts = query(ledger_path, "SELECT count(*) AS n FROM attempts WHERE row_id = :i", i=rows[0].row_id)[0].n
    assert n_attempts == 1  # the lost outcomes wrote no attempts row either
    pending_row = query(ledger_path, "SELECT status FROM ledger WHERE id = 3")[0]
    assert pending_row.status == "pending"
    assert store.record_outcomes(engine, mine, [RowOutcome(3, RowStatus.SUCCEEDED)]).lost == (3,)


def test_release_returns_rows_to_pending_keeping_them_resumable(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 4)
    engine = open_ledger(ledger_path)
    run = _run(engine)
    rows = store.claim_batch(engine, run, 4).rows
    store.release_claims(engine, run, [rows[0].row_id])
    tried = RowOutcome(
        rows[1].row_id, RowStatus.PENDING, (_attempt("released"),), error_kind="transient", error_message="HTTP 503"
    )
    store.record_outcomes(engine, run, [tried])
    assert store.release_all_running(engine, run) == 2
    again = {r.row_id: r for r in store.claim_batch(engine, _run(engine), 10).rows}
    assert len(again) == 4
    assert not again[rows[0].row_id].recovered  # never started: nothing can have reached Webex
    assert again[rows[1].row_id].recovered  # tried once: re-check before writing


def test_dead_runs_are_reclaimed_live_ones_never(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 30)
    engine = open_ledger(ledger_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead_run = _run(engine, pid=gone.pid, host="me")
    live_run = _run(engine, pid=1, host="me")  # pid 1 is alive
    stale_remote = _run(engine, pid=123, host="elsewhere")
    fresh_remote = _run(engine, pid=123, host="elsewhere2")
    for run in (dead_run, live_run, stale_remote, fresh_remote):
        store.claim_batch(engine, run, 5)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE runs SET heartbeat_at = '2020-01-01T00:00:00.000000Z' WHERE id = :r"), {"r": stale_remote})

    from ledger.work.liveness import dead_reason

    got = recovery.reclaim_dead_runs(engine, lambda r: dead_reason(r, host="me", dead_after_s=600))
    assert set(got.run_ids) == {dead_run, stale_remote}
    assert got.rows == 10
    runs = {r.id: r.status for r in query(ledger_path, "SELECT id, status FROM runs")}
    assert runs[dead_run] == runs[stale_remote] == RunStatus.INTERRUPTED
    assert runs[live_run] == runs[fresh_remote] == RunStatus.RUNNING
    held = query(ledger_path, "SELECT run_id, count(*) AS n FROM ledger WHERE status = 'running' GROUP BY run_id")
    assert {(r.run_id, r.n) for r in held} == {(live_run, 5), (fresh_remote, 5)}
    reclaimed = store.claim_batch(engine, _run(engine, pid=1, host="me"), 100).rows
    flags = {r.row_id: r.recovered for r in reclaimed}
    assert sum(flags.values()) == 10  # exactly the reclaimed rows are flagged for a re-check
    assert recovery.reclaim_dead_runs(engine, lambda r: dead_reason(r, host="me", dead_after_s=600)).rows == 0


def _write_located(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "last_name", "location_name"])
        for mail, loc in rows:
            out.writerow([mail, "A", "B", loc])


def _write_sites(path: Path, names: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "route_identity"])
        out.writerows([name, "RG"] for name in names)


def test_dependent_import_waits_per_site_and_is_blocked_after_a_failed_prerequisite(
    ledger_path: Path, tmp_path: Path
) -> None:
    engine = open_ledger(ledger_path)
    sites, users = tmp_path / "sites.csv", tmp_path / "users.csv"
    _write_sites(sites, ["Madrid", "Lleida"])
    _write_located(users, [("b1@x.com", "madrid"), ("b2@x.com", "Lleida"), ("b3@x.com", "Girona")])
    pre = import_file(engine, get_spec("location.pstn"), sites).import_id
    dep = import_file(engine, get_spec("user.create"), users, after=[pre])
    assert dep.links == (f"after import {pre} (location.pstn): each row waits for its site's row",)
    run = _run(engine)
    claimed = store.claim_batch(engine, run, 10).rows
    # Girona has no prerequisite row; Madrid (named in another case) and Lleida wait for their site
    assert {(r.import_id, r.payload.get("email") or r.payload["name"]) for r in claimed} == {
        (pre, "Madrid"), (pre, "Lleida"), (dep.import_id, "b3@x.com")
    }
    by_name = {r.payload.get("name"): r.row_id for r in claimed}
    store.record_outcomes(engine, run, [
        RowOutcome(by_name["Madrid"], RowStatus.FAILED, (_attempt("failed"),), error_kind="row", error_message="bad"),
    ])
    result = store.claim_batch(engine, run, 10)
    assert result.rows == () and result.blocked == 1  # Lleida's prerequisite is still running
    blocked = query(ledger_path, "SELECT status, error_kind, error_code, error_message FROM ledger WHERE import_id = :d AND line_no = 2", d=dep.import_id)[0]
    assert (blocked.status, blocked.error_kind, blocked.error_code) == ("blocked", None, "prerequisite_failed")
    assert blocked.error_message == f"blocked by import {pre} line 2 (location.pstn, row {by_name['Madrid']}, failed): bad"
    assert store.claim_batch(engine, run, 10).blocked == 0  # blocked once
    store.record_outcomes(engine, run, [RowOutcome(by_name["Lleida"], RowStatus.SUCCEEDED, (_attempt(),))])
    now_free = store.claim_batch(engine, run, 10).rows
    assert [r.payload["email"] for r in now_free] == ["b2@x.com"]


def test_a_dry_run_previews_dependent_rows_without_waiting(ledger_path: Path, tmp_path: Path) -> None:
    engine = open_ledger(ledger_path)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    _write_sites(first, ["Madrid"])
    _write_located(second, [("b1@x.com", "Madrid")])
    pre = import_file(engine, get_spec("location.pstn"), first).import_id
    import_file(engine, get_spec("user.create"), second, after=[pre])
    assert [r.payload["name"] for r in store.claim_batch(engine, _run(engine), 10).rows] == ["Madrid"]
    previewed = store.claim_batch(engine, _run(engine), 10, dry_run=True).rows
    assert [r.payload["email"] for r in previewed] == ["b1@x.com"]  # Madrid is running, b1 is not held back


def test_import_filter_claims_one_import_only(ledger_path: Path, tmp_path: Path) -> None:
    a, _ = import_users(ledger_path, tmp_path, 3, prefix="a")
    b, _ = import_users(ledger_path, tmp_path, 3, prefix="b")
    engine = open_ledger(ledger_path)
    rows = store.claim_batch(engine, _run(engine), 10, import_id=b).rows
    assert {r.import_id for r in rows} == {b} and len(rows) == 3
    assert store.pending_count(engine, import_id=a) == 3


def test_dry_run_claims_never_hand_out_a_row_twice(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 3)
    engine = open_ledger(ledger_path)
    run = _run(engine)
    rows = store.claim_batch(engine, run, 10, dry_run=True).rows
    store.record_outcomes(engine, run, [
        RowOutcome(r.row_id, RowStatus.PENDING, (_attempt("dry_run"),), result={"dry_run": True}, counts_attempts=False)
        for r in rows
    ])
    assert store.claim_batch(engine, run, 10, dry_run=True).rows == ()
    assert len(store.claim_batch(engine, _run(engine), 10, dry_run=True).rows) == 3
    assert query(ledger_path, "SELECT max(attempts) AS a FROM ledger")[0].a == 0


def test_cooldown_keeps_the_latest_pause(engine: sa.Engine) -> None:
    assert runs.get_cooldown(engine) is None
    now = time.time()
    runs.set_cooldown(engine, now + 30, "HTTP 429 Retry-After 30s")
    runs.set_cooldown(engine, now + 5, "HTTP 429 Retry-After 5s")
    assert runs.get_cooldown(engine) == now + 30


def test_run_row_lifecycle(engine: sa.Engine) -> None:
    run = _run(engine, pid=42, host="h")
    runs.heartbeat(engine, run, runs.RunCounters(claimed=3, succeeded=2))
    runs.finish_run(engine, run, RunStatus.COMPLETED, 0, None, runs.RunCounters(claimed=3, succeeded=3))
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, exit_code, succeeded, pid FROM runs WHERE id = :r"), {"r": run}).one()
    assert tuple(row) == ("completed", 0, 3, 42)


def test_a_run_whose_pid_now_belongs_to_a_newer_process_is_dead() -> None:
    import os

    from ledger.store.runs import RunInfo
    from ledger.work.liveness import dead_reason

    me = os.getpid()  # alive, but started long after this (old) run: the pid was reused
    old = RunInfo(1, "running", me, "h", "2020-01-01T00:00:00.000000Z", "2020-01-01T00:00:00.000000Z")
    assert "newer process" in (dead_reason(old, host="h", dead_after_s=600) or "")
    current = RunInfo(2, "running", me, "h", "2999-01-01T00:00:00.000000Z", None)
    assert dead_reason(current, host="h", dead_after_s=600) is None
