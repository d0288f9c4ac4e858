"""The worker in-process against the real sandbox and the real wxc_sdk (steppable engine, outcomes, pauses)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ledger.store import claims as store
from ledger.store import runs
from ledger.actions.runtime import WebexExecutors
from ledger.store.engine import open_ledger
from ledger.errors import ExitCode
from ledger.models import RunStatus
from ledger.sandbox import FaultConfig, Sandbox
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from ledger.settings import WorkSettings
from ledger.work.run import run_work
from ledger.work.worker import Worker
from worker_support import TOKEN, import_users, query, statuses


def _factory(sb: Sandbox, *, dry_run: bool = False, concurrency: int = 4) -> WebexExecutors:
    return WebexExecutors(token=TOKEN, base_url=sb.base_url, concurrency=concurrency, dry_run=dry_run)


def _settings(db: Path, **kw: object) -> WorkSettings:
    kw.setdefault("retry_profile", "fast")
    return WorkSettings(db, progress=False, **kw)  # type: ignore[arg-type]


def test_every_row_applied_once_and_recorded(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=3)
    _, emails = import_users(ledger_path, tmp_path, 60)
    report = run_work(_settings(ledger_path, batch_size=25), _factory(sb))
    assert (report.status, report.exit_code) == (RunStatus.COMPLETED, ExitCode.OK)
    assert statuses(ledger_path) == {"succeeded": 60}
    assert all(sb.state.create_count(e) == 1 for e in emails)
    row = query(ledger_path, "SELECT result, attempts, run_id, finished_at FROM ledger WHERE id = 1")[0]
    assert json.loads(row.result)["person_id"] == sb.state.person_by_email(emails[0])["id"]
    assert (row.attempts, row.run_id) == (1, report.run_id) and row.finished_at
    assert query(ledger_path, "SELECT count(*) AS n FROM attempts WHERE outcome = 'succeeded'")[0].n == 60
    run = query(ledger_path, "SELECT status, exit_code, claimed, succeeded, pid, host FROM runs")[0]
    assert (run.status, run.exit_code, run.claimed, run.succeeded) == ("completed", 0, 60, 60)
    assert "60 succeeded" in report.render()
    again = run_work(_settings(ledger_path), _factory(sb))  # nothing left: a no-op run
    assert (again.exit_code, again.counters.claimed) == (ExitCode.OK, 0)


def test_run_once_processes_exactly_one_batch(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=3)
    import_users(ledger_path, tmp_path, 25)
    engine = open_ledger(ledger_path)
    worker = Worker(engine, _settings(ledger_path, batch_size=10), lambda a, h, t: _factory(sb)(a, h, t))
    worker.start()
    assert worker.run_once() == 10
    assert statuses(ledger_path) == {"succeeded": 10, "pending": 15}
    worker.drain()
    report = worker.finish()
    assert report.status == RunStatus.COMPLETED and statuses(ledger_path) == {"succeeded": 25}


def test_row_errors_fail_their_rows_only(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, 30)
    bad = {emails[3], emails[17]}
    sb = sandbox_factory(token=TOKEN, seed=3, faults=FaultConfig(row_errors=set(bad)))
    report = run_work(_settings(ledger_path), _factory(sb))
    assert report.exit_code == ExitCode.OK  # partial success is success
    failed = query(ledger_path, "SELECT payload, error_kind, http_status, error_message FROM ledger WHERE status = 'failed'")
    assert {json.loads(r.payload)["email"] for r in failed} == bad
    assert {r.error_kind for r in failed} == {"row"}
    assert report.retry_command and "retry --status failed" in report.retry_command
    assert statuses(ledger_path) == {"succeeded": 28, "failed": 2}


def test_throttling_pauses_the_whole_run_and_is_stored(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, 15)
    sb = sandbox_factory(token=TOKEN, seed=11, faults=FaultConfig(p429=0.15, retry_after=1))
    report = run_work(_settings(ledger_path), _factory(sb))
    assert report.exit_code == ExitCode.OK and statuses(ledger_path) == {"succeeded": 15}
    assert report.throttled > 0
    assert sb.retry_after_violations() == []
    assert all(sb.state.create_count(e) == 1 for e in emails)
    engine = open_ledger(ledger_path)
    assert runs.get_cooldown(engine) is not None  # the pause was shared through the ledger
    throttled = query(ledger_path, "SELECT count(*) AS n FROM attempts WHERE outcome = 'throttled'")[0].n
    assert throttled == report.throttled  # one attempts row per 429, none of them counted as a try
    assert query(ledger_path, "SELECT sum(attempts) AS n FROM ledger")[0].n == 15 + throttled


def test_a_pause_stored_by_another_worker_is_honoured(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    import time

    sb = sandbox_factory(token=TOKEN, seed=3)
    import_users(ledger_path, tmp_path, 3)
    engine = open_ledger(ledger_path)
    until = time.time() + 1.5
    runs.set_cooldown(engine, until, "HTTP 429 Retry-After 2s (another worker)")
    run_work(_settings(ledger_path), _factory(sb))
    assert min(r.t for r in sb.requests()) >= until


def test_dry_run_writes_nothing_and_records_the_plan(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=3)
    _, emails = import_users(ledger_path, tmp_path, 8)
    sb.state.add_person(emails[0], first_name="Ana", last_name="Puig")
    report = run_work(_settings(ledger_path, dry_run=True), _factory(sb, dry_run=True))
    assert report.exit_code == ExitCode.OK
    assert statuses(ledger_path) == {"pending": 8}  # a dry run never changes a row's status
    assert {r.method for r in sb.requests()} == {"GET"}
    results = {json.loads(r.payload)["email"]: json.loads(r.result) for r in query(ledger_path, "SELECT payload, result FROM ledger")}
    assert results[emails[0]]["would"] == "skip"
    assert results[emails[1]]["would"] == "change" and results[emails[1]]["planned"]["emails"] == [emails[1]]
    assert query(ledger_path, "SELECT max(attempts) AS a FROM ledger")[0].a == 0
    assert "dry run: 7 would change, 1 would be skipped, 0 would fail" in report.render()
    real = run_work(_settings(ledger_path), _factory(sb))
    assert (real.counters.succeeded, real.counters.skipped) == (7, 1)


def test_reclaimed_row_is_checked_before_it_is_written_again(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    import subprocess
    import sys

    sb = sandbox_factory(token=TOKEN, seed=3)
    _, emails = import_users(ledger_path, tmp_path, 5)
    engine = open_ledger(ledger_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    import socket

    dead = runs.create_run(engine, pid=gone.pid, host=socket.gethostname(), import_id=None, batch_size=5,
                            concurrency=1, retry_profile="fast", dry_run=False)
    store.claim_batch(engine, dead, 2)
    sb.state.add_person(emails[0], first_name="Ana", last_name="Puig")  # the crashed run had created it
    report = run_work(_settings(ledger_path), _factory(sb))
    assert report.reclaimed.rows == 2 and report.reclaimed.run_ids == (dead,)
    assert statuses(ledger_path) == {"succeeded": 4, "skipped": 1}
    assert all(sb.state.create_count(e) <= 1 for e in emails)
    assert query(ledger_path, "SELECT status FROM runs WHERE id = :r", r=dead)[0].status == "interrupted"


def test_two_workers_in_threads_never_run_a_row_twice(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=3)
    _, emails = import_users(ledger_path, tmp_path, 120)
    reports = []

    def work() -> None:
        reports.append(run_work(_settings(ledger_path, batch_size=7, concurrency=2), _factory(sb, concurrency=2)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(reports) == 2 and all(r.exit_code == ExitCode.OK for r in reports)
    assert statuses(ledger_path) == {"succeeded": 120}
    assert all(r.counters.claimed > 0 for r in reports)
    assert sum(r.counters.claimed for r in reports) == 120
    posts = [r for r in sb.requests() if r.method == "POST"]
    assert len(posts) == 120 and all(sb.state.create_count(e) == 1 for e in emails)
    per_row = query(ledger_path, "SELECT row_id, count(DISTINCT run_id) AS runs FROM attempts GROUP BY row_id")
    assert {r.runs for r in per_row} == {1}


def test_missing_token_is_a_config_error() -> None:
    from ledger.errors import ConfigError

    with pytest.raises(ConfigError, match="WEBEX_ACCESS_TOKEN"):
        WebexExecutors(token="", base_url="http://127.0.0.1:1/v1")


def test_bulk_executor_gets_groups_of_bulk_size(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    import csv

    from ledger.actions import get_spec
    from ledger.importing.importer import import_file

    sb = sandbox_factory(token=TOKEN, seed=4, faults=FaultConfig(p503=0.5))
    src = tmp_path / "scim.csv"
    with src.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "last_name", "org_id"])
        for i in range(230):
            out.writerow([f"scim{i}@lab.example.com", "Ana", "Puig", sb.state.org_id])
    engine = open_ledger(ledger_path)
    import_file(engine, get_spec("user.scim_create"), src)
    report = run_work(_settings(ledger_path, batch_size=500), _factory(sb))
    assert report.exit_code == ExitCode.OK and statuses(ledger_path) == {"succeeded": 230}
    bulk = [r for r in sb.requests() if r.path.endswith("/Bulk")]
    ops = {id(r): r.body.get("Operations", r.body.get("operations")) for r in bulk}
    assert all(len(ops[id(r)]) <= 100 for r in bulk)
    ok = [r for r in bulk if r.status == 200]
    assert sorted(len(ops[id(r)]) for r in ok) == [30, 100, 100]  # one call per group of <= 100
    assert len(bulk) > len(ok)  # the injected 503s were retried as whole calls


def test_bulk_rows_number_their_tries_across_runs(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    """A bulk row's attempt_no counts the tries of earlier runs, as a single row's does."""
    import csv

    from ledger.actions import get_spec
    from ledger.importing.importer import import_file

    sb = sandbox_factory(token=TOKEN, seed=3, faults=FaultConfig(outage=True))
    src = tmp_path / "scim.csv"
    with src.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "first_name", "last_name", "org_id"])
        for i in range(5):
            out.writerow([f"again{i}@lab.example.com", "Ana", "Puig", sb.state.org_id])
    import_file(open_ledger(ledger_path), get_spec("user.scim_create"), src)
    first = run_work(_settings(ledger_path), _factory(sb))
    assert first.exit_code == ExitCode.FAILED_SYSTEMIC and statuses(ledger_path) == {"pending": 5}
    prior = {r.id: r.attempts for r in query(ledger_path, "SELECT id, attempts FROM ledger")}
    assert all(n > 0 for n in prior.values())
    sb.faults.outage = False
    second = run_work(_settings(ledger_path), _factory(sb))
    assert second.exit_code == ExitCode.OK and statuses(ledger_path) == {"succeeded": 5}
    for row_id, before in prior.items():
        nos = [t.attempt_no for t in query(
            ledger_path, "SELECT attempt_no FROM attempts WHERE row_id = :r AND run_id = :run ORDER BY id",
            r=row_id, run=second.run_id,
        )]
        assert nos == [before + 1]


def test_max_rate_spaces_requests(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=3)
    import_users(ledger_path, tmp_path, 12)
    report = run_work(_settings(ledger_path, max_rate=1200.0), _factory(sb))  # 20 requests/s
    assert report.exit_code == ExitCode.OK
    times = sorted(r.t for r in sb.requests() if r.path != "/v1/people/me")  # not the preflight check
    n = len(times)  # 12 creates and their reads (batched after 10 single reads: 23 today)
    assert 20 <= n <= 24
    # never faster than the cap: n - 1 gaps of >= 50 ms (10 % slack for scheduling jitter on arrival)
    assert times[-1] - times[0] >= 0.9 * (n - 1) / 20
    # and no burst: any 5 consecutive requests span >= 4 gaps at 75 % (one request delayed on its way by
    # a loaded machine may arrive close to the next; the gate's spacing shows over a few requests)
    assert all(times[i + 4] - times[i] >= 0.75 * 4 / 20 for i in range(n - 4))


def test_systemic_failures_open_the_breaker_and_release_rows(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    """A run of 503s on every request: the breaker opens, nothing is failed, the run ends exit 3."""
    sb = sandbox_factory(token=TOKEN, seed=3, faults=FaultConfig(outage=True))
    import_users(ledger_path, tmp_path, 40)
    report = run_work(_settings(ledger_path, concurrency=2), _factory(sb, concurrency=2))
    assert (report.status, report.exit_code) == (RunStatus.FAILED_SYSTEMIC, ExitCode.FAILED_SYSTEMIC)
    assert statuses(ledger_path) == {"pending": 40}
    assert "did not recover within 12s" in report.message
    probes = [r for r in sb.requests() if r.t > min(x.t for x in sb.requests()) + 1.5]
    assert 1 <= len(probes) <= 12  # while open: only single probes, no traffic


def test_an_action_without_executor_stops_the_run_with_rows_pending(ledger_path: Path, tmp_path: Path) -> None:
    from ledger.errors import ConfigError

    import_users(ledger_path, tmp_path, 5)

    def factory(action: str, hooks: object, timeout: object) -> object:
        raise ConfigError(f"action {action} has no executor yet; it cannot be run by `ledger work`")

    with pytest.raises(ConfigError, match="no executor"):
        run_work(_settings(ledger_path), factory)  # type: ignore[arg-type]
    assert statuses(ledger_path) == {"pending": 5}
    run = query(ledger_path, "SELECT status, exit_code, message FROM runs")[0]
    assert (run.status, run.exit_code) == ("interrupted", 1) and "ConfigError" in run.message


def test_attempts_log_every_try_and_the_final_outcome(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, 1)
    sb = sandbox_factory(token=TOKEN, seed=3, faults=FaultConfig(row_errors={emails[0]}))
    run_work(_settings(ledger_path), _factory(sb))
    tries = query(ledger_path, "SELECT attempt_no, outcome, http_status, error_kind FROM attempts ORDER BY id")
    assert [(t.outcome, t.http_status, t.error_kind) for t in tries] == [("failed", 400, "row")]
