"""The engine of `ledger work`: claim batches, execute rows concurrently, record every outcome.

Steppable (STYLE §11): :meth:`Worker.run_once` claims and finishes one batch; :meth:`Worker.drain`
loops until nothing is claimable or the run must stop; :func:`run_work` is what the CLI calls.

Threads: the calling (main) thread is the ledger's single writer: it claims, dispatches rows to a
pool of ``concurrency`` threads, and commits each outcome as soon as a thread hands it back (the
outcomes available at that moment share one transaction). Pool threads only run
``ledger.worker_rows.RowRunner`` (executor calls, retries, breaker feed); they never write.

Outcome rules (the error ladder of ``ledger.errors`` applied to a row):

- success → ``succeeded``/``skipped``; RowFailure → ``failed`` (kind row); the run goes on.
- TransientFailure → retried by the profile's tenacity policy; exhausted → ``failed`` (kind transient).
- SystemicFailure (403 …) and exhausted transients are *suspects*: kept ``running`` until a later row
  proves Webex answers (then ``failed``) or the breaker opens (then back to ``pending``): an outage
  never fails rows. AuthFailure (401) stops the run at once, rows back to ``pending``, exit 3.
- Any row interrupted by a stop (signal, breaker, 401) goes back to ``pending``.

The engine never imports wxc_sdk or ``ledger.actions``: executors come from the ``factory`` the CLI
passes (``ledger.actions.runtime.ExecutorFactory``).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import queue
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog

from ledger import store_claims as store
from ledger.db.engine import make_engine
from ledger.errors import ExitCode
from ledger.models import RowStatus, RunStatus
from ledger.policy import RetryProfile, RunGate, SystemicBreaker, get_profile
from ledger.progress import Progress
from ledger.store_claims import ClaimedRow, RowOutcome, RunCounters
from ledger.worker_rows import ExecutorFactory, RowRunner, Task, as_released

log = structlog.get_logger("ledger.worker")


@dataclass(frozen=True)
class WorkSettings:
    """Everything `ledger work` is asked to do (built once by the CLI)."""

    db_path: Path | str
    batch_size: int = 200
    concurrency: int = 4
    max_rate: float | None = None  # requests per minute, None = no cap
    dry_run: bool = False
    retry_profile: str = "default"
    import_id: int | None = None
    progress: bool | None = None  # live progress line; None = when stderr is a TTY
    heartbeat_s: float = 5.0  # the runs row's heartbeat period
    dead_after_s: float = 900.0  # a run on another host without heartbeat this long is dead
    stop_grace_s: float = 10.0  # after SIGINT/SIGTERM, rows in flight may finish for this long


@dataclass(frozen=True)
class RunReport:
    run_id: int
    status: RunStatus
    exit_code: ExitCode
    message: str
    counters: RunCounters
    elapsed_s: float
    reclaimed: store.Reclaimed
    pending_left: int
    requests: int = 0
    throttled: int = 0
    summary_text: str = ""
    retry_command: str | None = None
    dry_run: bool = False

    def render(self) -> str:
        c = self.counters
        if self.dry_run:
            counts = (
                f"dry run: {c.succeeded} would change, {c.skipped} would be skipped, {c.failed} would fail "
                "(see each row's result); nothing was written, every row stays pending"
            )
        else:
            counts = (
                f"{c.succeeded} succeeded, {c.skipped} skipped, {c.failed} failed, {self.pending_left} pending"
            )
        lines = [
            self.summary_text.rstrip(),
            "",
            f"run {self.run_id}: {self.status.value} (exit {int(self.exit_code)}) in {self.elapsed_s:.1f}s: {counts}; "
            f"{c.retries} retries, {self.throttled} throttled answers"
            + (f"; {self.reclaimed.rows} rows reclaimed from dead runs" if self.reclaimed.rows else ""),
        ]
        if self.message:
            lines.append(self.message)
        if self.retry_command:
            lines.append(f"to retry the failed rows: {self.retry_command}")
        return "\n".join(line for line in lines if line is not None).lstrip("\n")


# --- liveness of other runs (dead-run reclaim) ---------------------------------------------------


def _parse_ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def process_start_time(pid: int) -> float | None:
    """Unix start time of ``pid`` (Linux /proc), None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[19])
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is dead for us
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return True


def dead_reason(run: store.RunInfo, *, host: str, dead_after_s: float, now: float | None = None) -> str | None:
    """Why ``run`` (status running) is dead, or None when it may be alive (never steal from it)."""
    now = time.time() if now is None else now
    if run.host == host:
        if not pid_alive(run.pid):
            return "is not running any more"
        started = process_start_time(run.pid)
        run_started = _parse_ts(run.started_at)
        if started is not None and run_started is not None and started > run_started + 2:
            return f"is gone (pid {run.pid} now belongs to a newer process)"
        return None
    beat = _parse_ts(run.heartbeat_at or run.started_at)
    if beat is not None and now - beat > dead_after_s:
        return f"sent no heartbeat for {now - beat:.0f}s"
    return None


# --- the worker ----------------------------------------------------------------------------------


@dataclass
class _StopState:
    signals: int = 0
    requested_at: float | None = None
    hard: bool = False


class Worker:
    """One `ledger work` run on an open ledger (see the module docstring)."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: WorkSettings,
        factory: ExecutorFactory,
        *,
        sleep: Callable[[float], None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.factory = factory
        self.profile: RetryProfile = get_profile(settings.retry_profile)
        # reads from the pool threads go through a read-only engine: a plain BEGIN never waits for
        # another process's write transaction (every engine.begin() of the write engine is IMMEDIATE)
        self._reader = make_engine(str(engine.url.database), readonly=True)
        self.gate = RunGate(
            max_rate_per_min=settings.max_rate,
            default_pause_s=self.profile.default_throttle_s,
            shared_pause=lambda: store.get_cooldown(self._reader),  # other workers' 429 pauses
        )
        self.breaker = SystemicBreaker(self.profile)
        self.rows = RowRunner(
            factory=factory, gate=self.gate, breaker=self.breaker, profile=self.profile, dry_run=settings.dry_run,
            sleep=sleep,
        )
        self.counters = RunCounters()
        self.host = socket.gethostname()
        self.run_id = 0
        self.reclaimed = store.Reclaimed()
        self.progress = progress
        self._pool: cf.ThreadPoolExecutor | None = None
        self._results: queue.Queue[cf.Future[list[RowOutcome]] | None] = queue.Queue()
        self.gate.on_pause = lambda: self._results.put(None)  # a new 429 pause: store it now
        self._suspects: list[RowOutcome] = []
        self._stop = _StopState()
        self._final: tuple[RunStatus, ExitCode, str] | None = None
        self._last_beat = 0.0
        self._last_cooldown_sync = 0.0
        self._started = time.monotonic()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> int:
        """Reclaim dead runs' rows, register this run, pick up a stored pause. Returns the run id."""
        s = self.settings
        self.reclaimed = store.reclaim_dead_runs(
            self.engine, lambda r: dead_reason(r, host=self.host, dead_after_s=s.dead_after_s)
        )
        if self.reclaimed.rows or self.reclaimed.run_ids:
            log.warning("runs_reclaimed", runs=list(self.reclaimed.run_ids), rows=self.reclaimed.rows)
        self.run_id = store.create_run(
            self.engine,
            pid=os.getpid(),
            host=self.host,
            import_id=s.import_id,
            batch_size=s.batch_size,
            concurrency=s.concurrency,
            retry_profile=self.profile.name,
            dry_run=s.dry_run,
        )
        structlog.contextvars.bind_contextvars(run_id=self.run_id)
        self._sync_cooldown(force=True)
        self._pool = cf.ThreadPoolExecutor(max_workers=max(s.concurrency, 1), thread_name_prefix="ledger-row")
        log.info("run_started", profile=self.profile.name, concurrency=s.concurrency, dry_run=s.dry_run)
        return self.run_id

    def request_stop(self) -> None:
        """First SIGINT/SIGTERM: stop claiming, no more retries; rows in flight get ``stop_grace_s``."""
        self._stop.signals += 1
        if self._stop.requested_at is None:
            self._stop.requested_at = time.monotonic()

    def fatal(self, message: str) -> None:
        self._final = (RunStatus.INTERRUPTED, ExitCode.FATAL, message)

    @property
    def stopping(self) -> bool:
        return self._stop.requested_at is not None

    def finish(self) -> RunReport:
        """Settle suspects, release anything still held, close the run row."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._settle_suspects(failed=self.breaker.is_closed and self.rows.auth_message is None and not self.stopping)
        released = store.release_all_running(self.engine, self.run_id)
        self.counters.released += released
        status, code, message = self._final_status()
        store.finish_run(self.engine, self.run_id, status, int(code), message, self.counters)
        self._reader.dispose()
        log.info("run_finished", status=status.value, exit_code=int(code), **self.counters.as_params())
        structlog.contextvars.unbind_contextvars("run_id")
        pending = store.pending_count(self.engine, import_id=self.settings.import_id)
        return RunReport(
            run_id=self.run_id,
            status=status,
            exit_code=code,
            message=message,
            counters=self.counters,
            elapsed_s=time.monotonic() - self._started,
            reclaimed=self.reclaimed,
            pending_left=pending,
            requests=self.gate.stats.requests,
            throttled=self.gate.stats.throttled,
            dry_run=self.settings.dry_run,
        )

    def _final_status(self) -> tuple[RunStatus, ExitCode, str]:
        if self.rows.auth_message is not None:
            return RunStatus.FAILED_SYSTEMIC, ExitCode.FAILED_SYSTEMIC, self.rows.auth_message
        if self._final is not None:
            return self._final
        if self.stopping:
            return (
                RunStatus.INTERRUPTED,
                ExitCode.INTERRUPTED,
                "interrupted: unfinished rows are pending; run `ledger work` again to resume",
            )
        return RunStatus.COMPLETED, ExitCode.OK, ""

    # -- the loop ---------------------------------------------------------------------------------
    def drain(self) -> None:
        """Run batches until nothing is claimable, or the run must stop (signal, 401, breaker budget)."""
        while not self._must_end():
            if not self.breaker.is_closed:
                self._recover()
                continue
            if self.run_once(refill=True) == 0 and self.breaker.is_closed:
                break

    def _must_end(self) -> bool:
        if self.rows.crashed is not None and self._final is None:
            self.fatal(self.rows.crashed)
        return self.stopping or self.rows.auth_message is not None or self._final is not None

    def run_once(self, *, refill: bool = False) -> int:
        """Claim one batch, execute it, record every outcome. Returns the number of rows claimed.

        ``refill=True`` (what :meth:`drain` uses) claims the next batch as soon as the current one
        has no row left to start, so the threads never idle at batch boundaries.
        """
        if self._must_end() or not self.breaker.is_closed:
            return 0
        self._tick()
        rows = self._claim()
        if not rows:
            return 0
        claimed = [len(rows)]

        def more() -> list[ClaimedRow]:
            got = self._claim() if refill else []
            claimed[0] += len(got)
            return got

        self._execute(self._tasks(rows), more)
        return claimed[0]

    def _claim(self) -> list[ClaimedRow]:
        s = self.settings
        claim = store.claim_batch(self.engine, self.run_id, s.batch_size, import_id=s.import_id, dry_run=s.dry_run)
        if claim.prerequisite_failed:
            self.counters.failed += claim.prerequisite_failed
            if self.progress:
                self.progress.add(claim.prerequisite_failed, claim.prerequisite_failed)
        self.counters.claimed += len(claim.rows)
        if self.progress and claim.rows:
            self.progress.batch_done()
        return list(claim.rows)

    def _tasks(self, rows: list[ClaimedRow]) -> deque[Task]:
        tasks: deque[Task] = deque()
        i = 0
        while i < len(rows):
            size = self.rows.bulk_size(rows[i].action)
            group = [rows[i]]
            i += 1
            while size > 1 and i < len(rows) and len(group) < size and rows[i].action == group[0].action:
                group.append(rows[i])
                i += 1
            tasks.append(Task(group))
        return tasks

    def _may_dispatch(self) -> bool:
        return not self._must_end() and self.breaker.is_closed

    def _execute(self, tasks: deque[Task], more: Callable[[], list[ClaimedRow]] = list) -> None:
        """Dispatch tasks (at most ``concurrency`` in flight), record outcomes as they arrive.

        ``more()`` is asked for further rows whenever every task has been started (refill). Freed
        threads get their next row *before* the finished outcomes are written, so the ledger's
        bookkeeping overlaps the Webex calls instead of adding to them.
        """
        in_flight: set[cf.Future[list[RowOutcome]]] = set()
        state = {"exhausted": False}
        while True:
            self._dispatch(tasks, in_flight, more, state)
            if not in_flight:
                break
            outcomes = self._gather(in_flight)
            self._dispatch(tasks, in_flight, more, state)
            if outcomes:
                self._record(outcomes)
            self._tick()
        if tasks:  # never started: nothing reached Webex for them
            ids = [r.row_id for t in tasks for r in t.rows]
            res = store.release_claims(self.engine, self.run_id, ids)
            self.counters.released += res.written

    def _dispatch(
        self,
        tasks: deque[Task],
        in_flight: set[cf.Future[list[RowOutcome]]],
        more: Callable[[], list[ClaimedRow]],
        state: dict[str, bool],
    ) -> None:
        assert self._pool is not None
        limit = self.settings.concurrency
        if not tasks and not state["exhausted"] and len(in_flight) < limit and self._may_dispatch():
            extra = more()
            state["exhausted"] = not extra
            tasks.extend(self._tasks(extra))
        while tasks and len(in_flight) < limit and self._may_dispatch():
            fut = self._pool.submit(self.rows.run_task, tasks.popleft())
            fut.add_done_callback(self._results.put)
            in_flight.add(fut)

    def _gather(self, in_flight: set[cf.Future[list[RowOutcome]]]) -> list[RowOutcome]:
        """Wait (at most 0.1 s) for finished tasks; their outcomes."""
        done: list[cf.Future[list[RowOutcome]] | None] = []
        try:
            done.append(self._results.get(timeout=0.1))
            while True:
                done.append(self._results.get_nowait())
        except queue.Empty:
            pass
        outcomes: list[RowOutcome] = []
        for fut in done:
            if fut is None:  # a wake-up (new pause to store), not a task
                continue
            in_flight.discard(fut)
            outcomes.extend(fut.result())  # _run_task never raises
        return outcomes

    # -- recording (main thread only) -------------------------------------------------------------
    def _record(self, outcomes: list[RowOutcome]) -> None:
        final: list[RowOutcome] = []
        webex_answered = False
        for o in outcomes:
            if o.status == RowStatus.FAILED and o.error_kind in ("transient", "systemic"):
                self._suspects.append(o)  # an outage must not fail rows: decided later
                continue
            final.append(o)
            if o.status in (RowStatus.SUCCEEDED, RowStatus.SKIPPED) or (
                o.status == RowStatus.FAILED and o.error_kind == "row"
            ):
                webex_answered = True
        if self._suspects and (not self.breaker.is_closed or self.rows.auth_message or self.stopping):
            self._settle_suspects(failed=False)
        elif self._suspects and webex_answered:
            final.extend(self._suspects)
            self._suspects = []
        self._write(final)

    def _settle_suspects(self, *, failed: bool) -> None:
        suspects, self._suspects = self._suspects, []
        if not suspects:
            return
        if not failed:
            suspects = [as_released(o) for o in suspects]
        self._write(suspects)

    def _write(self, outcomes: Sequence[RowOutcome]) -> None:
        if not outcomes:
            return
        res = store.record_outcomes(self.engine, self.run_id, outcomes)
        for row_id in res.lost:
            log.error("claim_lost", row_id=row_id, note="the row was taken by another run; outcome not written")
        lost = set(res.lost)
        done = failed = 0
        for o in outcomes:
            if o.row_id in lost:
                continue
            self._count(o)
            if o.status != RowStatus.PENDING:
                done += 1
                failed += o.status == RowStatus.FAILED
            log.info(
                "row_outcome",
                row_id=o.row_id,
                status=o.status.value,
                attempts=len(o.attempts),
                error_kind=o.error_kind,
                error_code=o.error_code,
                http_status=o.http_status,
                tracking_id=o.tracking_id,
                error=o.error_message,
            )
        if self.progress:
            self.progress.add(done, failed)

    def _count(self, o: RowOutcome) -> None:
        c = self.counters
        if o.status == RowStatus.SUCCEEDED:
            c.succeeded += 1
        elif o.status == RowStatus.SKIPPED:
            c.skipped += 1
        elif o.status == RowStatus.FAILED:
            c.failed += 1
        elif self.settings.dry_run and o.result and o.result.get("dry_run"):
            would = o.result.get("would")  # dry run: what would happen (the row stays pending)
            if would == "change":
                c.succeeded += 1
            elif would == "skip":
                c.skipped += 1
            else:
                c.failed += 1
        else:
            c.released += 1
        c.throttled += sum(1 for a in o.attempts if a.outcome == "throttled")
        c.retries += sum(1 for a in o.attempts[:-1] if a.outcome == "retry")

    # -- periodic duties (main thread) ------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        if self._stop.requested_at is not None:
            self.gate.stop_retrying("interrupted by a signal")
            if now - self._stop.requested_at >= self.settings.stop_grace_s:
                self.gate.stop("interrupted by a signal")
        if now - self._last_beat >= self.settings.heartbeat_s:
            self._last_beat = now
            store.heartbeat(self.engine, self.run_id, self.counters)
        self._sync_cooldown()

    def _sync_cooldown(self, force: bool = False) -> None:
        """Store this run's Retry-After pause; honour one stored by another worker."""
        pause = self.gate.take_pause_to_persist()
        if pause is not None:
            store.set_cooldown(self.engine, pause[0], pause[1])
        now = time.monotonic()
        if force or now - self._last_cooldown_sync >= 0.1:
            self._last_cooldown_sync = now
            until = store.get_cooldown(self._reader)
            if until is not None and until > time.time():
                self.gate.pause_until(until, "pause stored in the ledger", persist=False)

    def _wait(self, seconds: float) -> None:
        """Sleep in small steps, keeping heartbeats and signal handling alive."""
        end = time.monotonic() + seconds
        while not self._must_end():
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.2))
            self._tick()

    # -- breaker recovery -------------------------------------------------------------------------
    def _recover(self) -> None:
        """Breaker open: wait, probe with one row; give up past the profile's systemic budget."""
        budget = self.profile.systemic_budget_s
        if self.breaker.outage_s() >= budget:
            last = self.breaker.last_failure or "no answer"
            self._final = (
                RunStatus.FAILED_SYSTEMIC,
                ExitCode.FAILED_SYSTEMIC,
                f"Webex did not recover within {budget:g}s (last error: {last}); the unexecuted rows are "
                "pending: run `ledger work` again when Webex is back",
            )
            return
        if self.progress:
            self.progress.set_note(f"Webex is failing ({self.breaker.last_failure}); paused, probing")
        if self.breaker.is_open:
            self._wait(min(self.breaker.open_remaining() or 0.2, 0.5))
            return
        if not self.breaker.try_probe():
            self._wait(0.1)
            return
        claim = store.claim_batch(self.engine, self.run_id, 1, import_id=self.settings.import_id, dry_run=self.settings.dry_run)
        if not claim.rows:
            self.breaker.probe_result(True)  # nothing left to probe with: nothing left to do
            self.gate.resume()
            return
        self.counters.claimed += 1
        self.gate.resume()
        assert self._pool is not None
        fut = self._pool.submit(self.rows.run_task, Task(list(claim.rows), probe=True))
        while True:
            try:
                outcomes = fut.result(timeout=0.25)
                break
            except cf.TimeoutError:
                self._tick()  # heartbeats and signals while the probe runs
        ok = all(o.status != RowStatus.PENDING and o.error_kind not in ("transient", "systemic") for o in outcomes)
        outage_s = self.breaker.outage_s()
        self.breaker.probe_result(ok, outcomes[0].error_message or "")
        if ok:
            log.info("breaker_recovered", after_s=round(outage_s, 1))
            if self.progress:
                self.progress.set_note("")
            self.gate.resume()
        else:
            self.gate.stop(f"Webex is failing: {self.breaker.last_failure}")
            outcomes = [as_released(o) for o in outcomes]
        self._write(outcomes)


# --- the entry point -----------------------------------------------------------------------------


@contextmanager
def _signals(worker: Worker) -> Iterator[None]:
    """SIGINT/SIGTERM → worker.request_stop(); a second one exits at once (resumable: next run reclaims)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        if worker.stopping:
            os.write(2, b"\nledger: second interrupt: exiting now; run `ledger work` again to resume\n")
            os._exit(int(ExitCode.INTERRUPTED))
        worker.request_stop()
        os.write(2, b"\nledger: stopping: finishing rows in flight (Ctrl-C again to exit at once)\n")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def run_work(
    settings: WorkSettings,
    executor_factory: ExecutorFactory,
    *,
    engine: sa.Engine | None = None,
    summary: Callable[[sa.Engine, int | None], str] | None = None,
) -> RunReport:
    """`ledger work`: open the ledger, run until done/stopped, return the report (never exits)."""
    from ledger.db.engine import open_ledger

    own_engine = engine is None
    engine = engine or open_ledger(settings.db_path)
    try:
        total = store.pending_count(engine, import_id=settings.import_id)
        progress = Progress(total, live=settings.progress)
        worker = Worker(engine, settings, executor_factory, progress=progress)
        with _signals(worker):
            worker.start()
            try:
                worker.drain()
            except BaseException as exc:
                worker.fatal(f"stopped by an internal error ({type(exc).__name__}); rows are pending, resumable")
                raise
            finally:
                report = worker.finish()
                progress.close()
        text = (summary or _summary_text)(engine, settings.import_id)
        retry = None
        if report.counters.failed or store.status_counts(engine, import_id=settings.import_id).get("failed"):
            retry = f"ledger --db {settings.db_path} retry --status failed" + (
                f" --import {settings.import_id}" if settings.import_id is not None else ""
            ) + " && ledger --db " + f"{settings.db_path} work"
        return RunReport(**{**report.__dict__, "summary_text": text, "retry_command": retry})
    finally:
        if own_engine:
            engine.dispose()


def _summary_text(engine: sa.Engine, import_id: int | None) -> str:
    """The same summary as `ledger report` (ledger.report), when available."""
    try:
        from ledger import report

        return str(report.render_summary(report.summary(engine, import_id=import_id)))  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        counts = store.status_counts(engine, import_id=import_id)
        return "rows: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


__all__ = ["ExecutorFactory", "RunReport", "Worker", "WorkSettings", "dead_reason", "pid_alive", "run_work"]
