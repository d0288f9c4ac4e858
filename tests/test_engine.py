"""The engine in-process with the scripted executor (``ledger.work.testing``): worker, ladder and store on
a real ledger file, no HTTP, no sleeping. Part of the fast tier (`make check`)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import circuitbreaker
import pytest

from ledger.actions import get_spec
from ledger.errors import ExitCode
from ledger.importing.importer import import_file
from ledger.models import RunStatus
from ledger.settings import WorkSettings
from ledger.store import claims, runs
from ledger.store.engine import open_ledger
from ledger.work.outcomes import RunReport
from ledger.work.progress import Progress
from ledger.work.testing import ScriptedBulkExecutor, ScriptedExecutor, ScriptedExecutors, ScriptedListingBulkExecutor
from ledger.work.worker import Worker
from worker_support import import_users, query, statuses

SPEC = get_spec("user.create")


def _work(db: Path, executor: ScriptedExecutor, *, progress: Progress | None = None, **kw: object) -> tuple[Worker, RunReport]:
    kw.setdefault("retry_profile", "fast")
    kw.setdefault("concurrency", 1)
    engine = open_ledger(db)
    worker = Worker(engine, WorkSettings(db, progress=False, **kw), ScriptedExecutors(executor),  # type: ignore[arg-type]
                    sleep=lambda _s: None, progress=progress)
    try:
        worker.start()
        worker.drain()
        return worker, worker.finish()
    finally:
        engine.dispose()


def _outcomes(db: Path, line: int) -> list[str]:
    rows = query(db, "SELECT a.outcome FROM attempts AS a JOIN ledger AS l ON l.id = a.row_id "
                     "WHERE l.line_no = :n ORDER BY a.id", n=line)
    return [r.outcome for r in rows]


def test_each_row_ends_as_its_script_says(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 6)  # lines 2..7
    ex = ScriptedExecutor(SPEC, {3: ["skip"], 4: ["row"], 5: ["transient", "ok"], 6: ["throttle", "ok"], 7: ["bug"]})
    _, report = _work(ledger_path, ex)
    assert report.exit_code == ExitCode.OK
    assert statuses(ledger_path) == {"succeeded": 3, "skipped": 1, "failed": 2}
    assert _outcomes(ledger_path, 5) == ["retry", "succeeded"]
    assert _outcomes(ledger_path, 6) == ["throttled", "succeeded"]
    assert ex.calls[5][1].recovered  # the 503 was ambiguous: the second try re-checks first
    failed = {r.line_no: (r.error_kind, r.error_message) for r in query(
        ledger_path, "SELECT line_no, error_kind, error_message FROM ledger WHERE status = 'failed'")}
    assert failed[4] == ("row", "line 4: HTTP 400 bad data")
    assert failed[7][0] == "row" and "internal error in user.create: ValueError" in failed[7][1]
    assert (report.counters.retries, report.counters.throttled) == (1, 1)
    engine = open_ledger(ledger_path)
    assert runs.get_cooldown(engine) is not None  # the 429's pause was shared through the ledger
    engine.dispose()


def test_exhausted_transient_rows_fail_once_webex_has_answered(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 3)
    ex = ScriptedExecutor(SPEC, {2: ["transient"]})
    _, report = _work(ledger_path, ex, retry_profile="default")  # its breaker needs 10 failures in a row
    assert statuses(ledger_path) == {"failed": 1, "succeeded": 2}
    assert _outcomes(ledger_path, 2) == ["retry"] * 7 + ["failed"]  # the profile's 8 tries
    assert report.status == RunStatus.COMPLETED


def test_401_stops_the_run_and_fails_nothing(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 5)
    _, report = _work(ledger_path, ScriptedExecutor(SPEC, {2: ["auth"]}))
    assert (report.status, report.exit_code) == (RunStatus.FAILED_SYSTEMIC, ExitCode.FAILED_SYSTEMIC)
    assert "HTTP 401" in report.message
    assert statuses(ledger_path) == {"pending": 5}


def test_403_on_every_row_stops_the_run_once_the_breaker_opens(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 20)
    ex = ScriptedExecutor(SPEC, default=["forbidden"])
    _, report = _work(ledger_path, ex)
    assert report.exit_code == ExitCode.FAILED_SYSTEMIC and "HTTP 403 (forbidden)" in report.message
    assert statuses(ledger_path) == {"pending": 20}  # the suspects went back: nothing failed
    assert sum(len(c) for c in ex.calls.values()) == 8  # the fast profile's breaker: 8 in a row


def test_a_bulk_row_is_sent_at_most_attempts_times(ledger_path: Path, tmp_path: Path) -> None:
    """Issue 15: a bulk row got a fresh RowTry each round (attempts² sends, the budget reset each round)."""
    import_users(ledger_path, tmp_path, 3)
    # each round: the whole call fails twice (retried by tenacity), then answers with the row still failing
    ex = ScriptedBulkExecutor(SPEC, {2: ["transient"]}, call_script=["transient", "transient", "ok"] * 30)
    _work(ledger_path, ex)
    sent = sum(line == 2 for call in ex.bulk_calls for line in call)
    assert sent <= 8  # the fast profile's tries per row (was 8 rounds × up to 8 calls = 24 here)
    assert statuses(ledger_path) == {"failed": 1, "succeeded": 2}


@pytest.mark.parametrize("concurrency", [1, 3])
def test_bulks_carry_only_rows_that_need_a_request_filled_across_claims(
    ledger_path: Path, tmp_path: Path, concurrency: int
) -> None:
    """Issue 14: a bulk was cut from each claimed batch before the rows already done were known, so a
    re-run where a quarter of the rows need a request sent bulks of ~3 rows, not of 10."""
    import_users(ledger_path, tmp_path, 100)  # lines 2..101
    need = [line for line in range(2, 102) if line % 4 == 0]  # 25 rows
    ex = ScriptedListingBulkExecutor(SPEC, listed=[line for line in range(2, 102) if line not in need], bulk_size=10)
    _, report = _work(ledger_path, ex, batch_size=20, concurrency=concurrency)
    assert report.exit_code == ExitCode.OK
    assert statuses(ledger_path) == {"skipped": 75, "succeeded": 25}
    assert sorted(len(call) for call in ex.bulk_calls) == [5, 10, 10]
    assert sorted(line for call in ex.bulk_calls for line in call) == need
    assert sum(len(s) for s in ex.sorted) == 100  # every row sorted once (each claim of 20 as one)
    assert _outcomes(ledger_path, 3) == ["skipped"]  # a listed row's try is recorded like any other


def test_rows_waiting_for_a_bulk_go_once_a_claim_brings_none_of_their_action(ledger_path: Path, tmp_path: Path) -> None:
    """Claims take rows in ledger order: once a claimed batch holds no rows of an action, its rows waiting
    for a full bulk go as they are, before the rest of the other imports (not at the very end)."""
    import_users(ledger_path, tmp_path, 15)  # import 1, lines 2..16
    src = tmp_path / "remove.csv"
    src.write_text("email,remove_license_ids\n" + "".join(f"r{i}@lab.example.com,BCSTD\n" for i in range(40)))
    import_file(open_ledger(ledger_path), get_spec("user.remove_licenses"), src)  # import 2, lines 2..41
    ex = ScriptedListingBulkExecutor(SPEC, listed=range(2, 12), bulk_size=10)  # lines 2..11 of both files
    _, report = _work(ledger_path, ex, batch_size=10)
    assert report.exit_code == ExitCode.OK
    assert statuses(ledger_path) == {"skipped": 20, "succeeded": 35}
    # import 1's 5 creates (lines 12..16) go as soon as the third claim brings import 2's rows only
    assert [len(call) for call in ex.bulk_calls] == [5, 10, 10, 10]


class _SlowSecondSort(ScriptedListingBulkExecutor):
    """The batched read of the second claimed batch takes a while (a slow list page)."""

    def already_done(self, rows):  # type: ignore[no-untyped-def]
        import time

        if rows[0].line_no > 2:
            time.sleep(0.5)
        return super().already_done(rows)


def test_running_out_of_claims_waits_for_batches_still_being_sorted(ledger_path: Path, tmp_path: Path) -> None:
    """An empty claim (the claims ran out) while a lane still sorts an earlier batch into the pool must not
    flush the pool: the bulks go once the lanes are done (was: a bulk of the first batch's 20 rows, then
    one of the second's 20 — a full-suite run caught the SCIM bulks split as [12, 38, 100, 100])."""
    import_users(ledger_path, tmp_path, 40)  # lines 2..41, none listed
    ex = _SlowSecondSort(SPEC, bulk_size=30)
    _, report = _work(ledger_path, ex, batch_size=20, concurrency=2)
    assert report.exit_code == ExitCode.OK
    assert statuses(ledger_path) == {"succeeded": 40}
    assert sorted(len(call) for call in ex.bulk_calls) == [10, 30]


def test_rows_waiting_for_a_bulk_go_back_to_pending_unsent_when_the_run_stops(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 25)
    ex = ScriptedListingBulkExecutor(SPEC, bulk_size=10, call_script=["auth"])
    _, report = _work(ledger_path, ex, batch_size=25)
    assert report.exit_code == ExitCode.FAILED_SYSTEMIC
    assert statuses(ledger_path) == {"pending": 25}  # nothing failed, nothing left running
    assert [len(call) for call in ex.bulk_calls] == [10]  # the 401 stopped the run: the rest never sent


def test_progress_total_counts_rows_reclaimed_from_dead_runs(ledger_path: Path, tmp_path: Path) -> None:
    """Issue 15: the total was counted before dead runs were reclaimed, so progress passed 100 %."""
    import_users(ledger_path, tmp_path, 10)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    engine = open_ledger(ledger_path)
    dead = runs.create_run(engine, pid=gone.pid, host=socket.gethostname(), import_id=None, batch_size=4,
                           concurrency=1, retry_profile="fast", dry_run=False)
    assert len(claims.claim_batch(engine, dead, 4).rows) == 4
    engine.dispose()
    progress = Progress(claims.pending_count(open_ledger(ledger_path)), stream=io.StringIO(), live=False)
    worker, report = _work(ledger_path, ScriptedExecutor(SPEC), progress=progress)
    assert report.reclaimed.rows == 4
    assert (progress.done, progress.total) == (10, 10)


def test_batches_are_logged_when_claimed(ledger_path: Path, tmp_path: Path) -> None:
    """Issue 15: ``Progress.batch_done`` said "end of a batch" but runs when a batch is claimed."""
    import_users(ledger_path, tmp_path, 5)
    out = io.StringIO()
    _work(ledger_path, ScriptedExecutor(SPEC), progress=Progress(0, stream=out, live=False), batch_size=2)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("  0.0% 0/5 rows")  # before any row of the batch ran


def _sites_and_users(db: Path, tmp: Path) -> None:
    """A failed location.pstn row for Madrid and two users waiting for it (chains: they get blocked)."""
    sites, users = tmp / "sites.csv", tmp / "users.csv"
    sites.write_text("name,route_identity\nMadrid,RG\n", encoding="utf-8")
    users.write_text("email,first_name,last_name,location_name\na@x.com,A,B,Madrid\nb@x.com,A,B,Madrid\n",
                     encoding="utf-8")
    engine = open_ledger(db)
    pre = import_file(engine, get_spec("location.pstn"), sites).import_id
    import_file(engine, SPEC, users, after=[pre])
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE ledger SET status = 'failed', error_kind = 'row', error_message = 'bad' WHERE import_id = {pre}"
        )
    engine.dispose()


def test_rows_blocked_by_the_breakers_probe_claim_are_counted(
    ledger_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: ``Worker._recover`` claimed its probe row without counting the rows the claim blocked."""
    _sites_and_users(ledger_path, tmp_path)
    engine = open_ledger(ledger_path)
    progress = Progress(0, stream=io.StringIO(), live=False)
    worker = Worker(engine, WorkSettings(ledger_path, progress=False, retry_profile="fast"),
                    ScriptedExecutors(ScriptedExecutor(SPEC)), sleep=lambda _s: None, progress=progress)
    worker.start()
    for _ in range(worker.profile.breaker_consecutive):
        worker.breaker.record_failure("503")
    assert worker.breaker.is_open
    real = circuitbreaker.monotonic
    monkeypatch.setattr(circuitbreaker, "monotonic", lambda: real() + 3600)  # recovery time over: half-open
    worker.drain()  # the probe's claim finds nothing claimable and blocks the two users
    report = worker.finish()
    engine.dispose()
    assert report.counters.blocked == 2 and progress.done == 2
    assert statuses(ledger_path) == {"failed": 1, "blocked": 2}


SECOND_INTERRUPT = """
import os, signal, sys, threading, time
from ledger.actions import get_spec
from ledger.errors import Interrupted
from ledger.settings import WorkSettings
from ledger.work.run import run_work
from ledger.work.testing import ScriptedExecutor, ScriptedExecutors

ex = ScriptedExecutor(get_spec("user.create"), default=["hang"])

def interrupt():
    ex.hanging.acquire()  # a row is in flight
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.3)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt, daemon=True).start()
try:
    run_work(WorkSettings(sys.argv[1], progress=False, retry_profile="fast"), ScriptedExecutors(ex))
except Interrupted as exc:
    print("raised", int(exc.exit_code), flush=True)
ex.release_hung()
"""


def test_a_second_interrupt_raises_instead_of_exiting_the_process(ledger_path: Path, tmp_path: Path) -> None:
    """Issue 15: the library called ``os._exit`` on a second Ctrl-C; only the CLI may exit."""
    import_users(ledger_path, tmp_path, 3)
    res = subprocess.run([sys.executable, "-c", SECOND_INTERRUPT, str(ledger_path)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and "raised 4" in res.stdout.splitlines(), res.stderr
    assert query(ledger_path, "SELECT status FROM runs")[0].status == "running"  # the next run reclaims it


def _scripts(steps: Sequence[str]) -> dict[int, list[str]]:
    return {2 + i: [s] for i, s in enumerate(steps)}


def test_the_scripted_executor_refuses_unknown_steps() -> None:
    with pytest.raises(ValueError, match="unknown or empty script steps"):
        ScriptedExecutor(SPEC, _scripts(["ok", "explode"]))


def test_scripted_executors_count_preflights() -> None:
    factory = ScriptedExecutors(ScriptedExecutor(SPEC))
    factory.preflight()
    assert factory.preflights == 1 and os.getpid() > 0


def test_a_failed_first_try_is_retried_by_the_same_policy_as_later_ones(ledger_path: Path, tmp_path: Path) -> None:
    """The first try runs outside tenacity (issue 14: its machinery costs every row); once it fails,
    tenacity sees that error as its own first try: Retry-After wins, ``row_retry`` lines count from 1,
    a row error is not tried again, the probe profile's single try holds."""
    from structlog.testing import capture_logs

    from ledger.work.profiles import get_profile

    import_users(ledger_path, tmp_path, 3)  # lines 2..4
    ex = ScriptedExecutor(SPEC, {2: ["throttle", "ok"], 3: ["transient", "transient", "ok"], 4: ["row"]},
                          retry_after_s=7.5)
    sleeps: list[float] = []
    engine = open_ledger(ledger_path)
    try:
        worker = Worker(engine, WorkSettings(ledger_path, progress=False, retry_profile="fast", concurrency=1),
                        ScriptedExecutors(ex), sleep=sleeps.append)  # type: ignore[arg-type]
        with capture_logs() as logs:
            worker.start()
            worker.drain()
            worker.finish()
    finally:
        engine.dispose()
    retries = sorted((e["attempt"], e["error_kind"]) for e in logs if e["event"] == "row_retry")
    assert retries == [(1, "transient"), (1, "transient"), (2, "transient")]  # (a 429 is a transient kind)
    assert sleeps[0] == 7.5  # the 429's Retry-After, not a backoff
    backoff_max = get_profile("fast").backoff_max_s
    assert len(sleeps) == 3 and all(0 <= s <= backoff_max for s in sleeps[1:])
    assert [len(ex.calls[n]) for n in (2, 3, 4)] == [2, 3, 1]
    assert _outcomes(ledger_path, 2) == ["throttled", "succeeded"]
    assert _outcomes(ledger_path, 3) == ["retry", "retry", "succeeded"]
    assert _outcomes(ledger_path, 4) == ["failed"]


def test_start_up_loads_with_the_collector_off_then_freezes_what_it_loaded() -> None:
    """`ledger work`'s start-up (issue 14): what it loads is built without garbage collections, then
    frozen (later collections skip it); the collector is on again afterwards, even when loading fails."""
    import gc

    from ledger.work.run import start_up

    assert gc.isenabled()
    seen: list[bool] = []

    def load() -> list[object]:
        seen.append(gc.isenabled())
        return [object() for _ in range(10)]

    try:
        loaded = start_up(load)
        assert seen == [False] and len(loaded) == 10
        assert gc.isenabled() and gc.get_freeze_count() > 0

        def broken() -> None:
            raise ValueError("no token")

        with pytest.raises(ValueError):
            start_up(broken)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
