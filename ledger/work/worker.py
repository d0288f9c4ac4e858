"""The engine of `ledger work`: claim batches, execute rows concurrently, record every outcome.

Steppable (STYLE §11): :meth:`Worker.run_once` claims and finishes one batch; :meth:`Worker.drain`
loops until nothing is claimable or the run must stop; :func:`ledger.work.run.run_work` is what the CLI
calls. Outcomes are written by :class:`ledger.work.outcomes.OutcomeRecorder`; dead runs are
recognised by :mod:`ledger.work.liveness`.

Threads: the calling (main) thread is the ledger's single writer: it claims rows into a queue that
``concurrency`` lanes (pool threads, ``ledger.work.lanes``) take their next row from themselves, and
records the outcomes the lanes hand back in groups (``ledger.work.outcomes``: group commits). Lanes
only run ``ledger.work.rows.RowRunner`` (executor calls, retries, breaker feed); they never write.

What happens to a row after a failed attempt (retry, fail, suspect, release, stop the run) is the
outcome ladder's (``ledger.work.ladder``); this module acts on its steps: it stops claiming when the
run must stop, and probes Webex with one row while the breaker is open.

The engine never imports wxc_sdk or ``ledger.actions``: executors come from the ``factory`` the CLI
passes (``ledger.actions.runtime.WebexExecutors``).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import socket
import time
from collections import deque
from collections.abc import Callable

import sqlalchemy as sa
import structlog

from ledger.errors import ExitCode
from ledger.models import RunStatus
from ledger.settings import WorkSettings
from ledger.store import claims, recovery, runs
from ledger.store.claims import ClaimedRow
from ledger.store.engine import make_engine
from ledger.store.runs import RunCounters
from ledger.work.gate import RunGate
from ledger.work.lanes import Lanes
from ledger.work.liveness import dead_reason
from ledger.work.outcomes import OutcomeRecorder, RunReport
from ledger.work.breaker import SystemicBreaker
from ledger.work.ports import ExecutorFactory
from ledger.work.profiles import RetryProfile, get_profile
from ledger.work.progress import Progress
from ledger.work.rows import RowRunner, Task, as_released

log = structlog.get_logger("ledger.work.worker")

# --- the worker ----------------------------------------------------------------------------------


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
            shared_pause=lambda: runs.get_cooldown(self._reader),  # other workers' 429 pauses
        )
        self.breaker = SystemicBreaker(self.profile)
        self.rows = RowRunner(
            factory=factory, gate=self.gate, breaker=self.breaker, profile=self.profile, dry_run=settings.dry_run,
            sleep=sleep,
        )
        self.counters = RunCounters()
        self.out = OutcomeRecorder(engine, self.counters, progress, dry_run=settings.dry_run)
        self.host = socket.gethostname()
        self.run_id = 0
        self.reclaimed = recovery.Reclaimed()
        self.progress = progress
        self.lanes = Lanes(self.rows, settings.concurrency, self._lane_may_start)
        self.gate.on_pause = self.lanes.wake.set  # a new 429 pause: store it now
        self._stop_requested_at: float | None = None  # first SIGINT/SIGTERM (monotonic)
        self._final: tuple[RunStatus, ExitCode, str] | None = None
        self._last_beat = 0.0
        self._last_cooldown_sync = 0.0
        self._started = time.monotonic()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> int:
        """Reclaim dead runs' rows, register this run, pick up a stored pause. Returns the run id."""
        s = self.settings
        self.reclaimed = recovery.reclaim_dead_runs(self.engine, lambda r: dead_reason(r, host=self.host))
        if self.reclaimed.rows or self.reclaimed.run_ids:
            log.warning("runs_reclaimed", runs=list(self.reclaimed.run_ids), rows=self.reclaimed.rows)
        self.run_id = runs.create_run(
            self.engine,
            pid=os.getpid(),
            host=self.host,
            import_id=s.import_id,
            batch_size=s.batch_size,
            concurrency=s.concurrency,
            retry_profile=self.profile.name,
            dry_run=s.dry_run,
        )
        self.out.run_id = self.run_id
        if self.progress:  # counted now: the rows just reclaimed from dead runs are pending again
            self.progress.total = claims.pending_count(self.engine, import_id=s.import_id)
        structlog.contextvars.bind_contextvars(run_id=self.run_id)
        self._sync_cooldown(force=True)
        log.info("run_started", profile=self.profile.name, concurrency=s.concurrency, dry_run=s.dry_run)
        return self.run_id

    def request_stop(self) -> None:
        """First SIGINT/SIGTERM: stop claiming, no more retries; rows in flight get ``stop_grace_s``."""
        if self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()

    def fatal(self, message: str) -> None:
        self._final = (RunStatus.INTERRUPTED, ExitCode.FATAL, message)

    @property
    def stopping(self) -> bool:
        return self._stop_requested_at is not None

    def abandon(self) -> None:
        """Leave at once (a second interrupt): requests in flight are not waited for, the run row
        stays ``running``; once this process is gone the next run reclaims its rows."""
        self.lanes.shutdown(wait=False)
        self._reader.dispose()
        structlog.contextvars.unbind_contextvars("run_id")

    def finish(self) -> RunReport:
        """Settle suspects, release anything still held, close the run row."""
        self.lanes.shutdown(wait=True)
        self.out.settle_suspects(failed=not self._webex_down())
        self.out.flush()  # the group commit's last outcomes, before anything still held is released
        released = claims.release_all_running(self.engine, self.run_id)
        self.counters.released += released
        status, code, message = self._final_status()
        runs.finish_run(self.engine, self.run_id, status, int(code), message, self.counters)
        self._reader.dispose()
        log.info("run_finished", status=status.value, exit_code=int(code), **self.counters.as_params())
        structlog.contextvars.unbind_contextvars("run_id")
        left = claims.status_counts(self.engine, ("pending", "blocked"), import_id=self.settings.import_id)
        return RunReport(
            run_id=self.run_id,
            status=status,
            exit_code=code,
            message=message,
            counters=self.counters,
            elapsed_s=time.monotonic() - self._started,
            reclaimed=self.reclaimed,
            pending_left=left["pending"],
            blocked_left=left["blocked"],
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
        """Run batches until nothing is claimable, or the run must stop (signal, 401, breaker budget).

        One run resolves the whole chain: rows that became claimable while it ran (a prerequisite
        finished) are claimed before it ends."""
        while not self._must_end():
            if not self.breaker.is_closed:
                self._recover()
                continue
            if self.run_once(refill=True) == 0 and self.breaker.is_closed:
                if self.out.has_suspects and not self._webex_down():
                    # nothing else to prove Webex answers: they fail now, and their dependants are
                    # claimed (or blocked) in this run rather than left pending
                    self.out.settle_suspects(failed=True)
                    continue
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

        self._execute(self.rows.tasks(rows), more)
        self.out.flush()  # run_once records every outcome of what it claimed
        return claimed[0]

    def _claim(self, n: int | None = None) -> list[ClaimedRow]:
        """Claim up to ``n`` rows (a batch by default), counting the rows the claim blocked."""
        s = self.settings
        self.out.flush()  # outcomes first: a chain's next row is claimable once its prerequisite is final
        claim = claims.claim_batch(self.engine, self.run_id, n or s.batch_size, import_id=s.import_id, dry_run=s.dry_run)
        if claim.blocked:  # not executed in this run (they come back once their prerequisite succeeds)
            self.counters.blocked += claim.blocked
            if self.progress:
                self.progress.add(claim.blocked, 0)
        self.counters.claimed += len(claim.rows)
        if self.progress and claim.rows:
            self.progress.batch_claimed()
        return list(claim.rows)

    def _webex_down(self) -> bool:
        """Breaker not closed, token rejected or run stopping: failures now are not the rows' fault."""
        return not self.breaker.is_closed or self.rows.auth_message is not None or self.stopping

    def _may_dispatch(self) -> bool:
        return not self._must_end() and self.breaker.is_closed

    def _execute(self, tasks: deque[Task], more: Callable[[], list[ClaimedRow]] = list) -> None:
        """Run tasks on at most ``concurrency`` lanes, record outcomes in groups as they arrive.

        A lane (``ledger.work.lanes``) is a pool thread that takes its next task itself, so a row
        follows the previous one without waiting for this (writer) thread; the writer wakes when a lane
        has outcomes waiting, needs rows, or ends, and at least every ``lanes.WAKE_S``, and records what
        the lanes settled since in one go (its bookkeeping overlaps the Webex calls instead of adding to
        them). ``more()`` is asked for further rows once fewer rows than lanes are left to start (refill).
        """
        limit = self.settings.concurrency
        lanes: set[cf.Future[None]] = set()
        exhausted = False
        while True:
            if not exhausted and len(tasks) < limit and self._may_dispatch():
                extra = more()
                exhausted = not extra
                tasks.extend(self.rows.tasks(extra))
            while tasks and len(lanes) < limit and self._may_dispatch():
                lanes.add(self.lanes.start(tasks))
            if not lanes:  # the claims ran out (or the run must stop): bulks not yet full go now
                rest = self.rows.bulks(flush=True) if self._may_dispatch() else []
                if not rest:
                    break
                tasks.extend(rest)
                continue
            self.lanes.wait()
            for lane in [f for f in lanes if f.done()]:
                lanes.discard(lane)
                lane.result()  # a lane only ends; RowRunner.run_task never raises
            settled = self.lanes.take_settled()
            if settled:
                self.out.record(settled, webex_down=self._webex_down())
            self._tick()
        ids = [r.row_id for t in tasks for r in t.rows] + [r.row_id for r in self.rows.pool.take_all()]
        if ids:  # never started: nothing reached Webex for them
            res = claims.release_claims(self.engine, self.run_id, ids)
            self.counters.released += res.written

    def _lane_may_start(self) -> bool:
        """:meth:`_may_dispatch` as a lane sees it (reads only)."""
        return (
            self._stop_requested_at is None and self.rows.auth_message is None and self._final is None
            and self.rows.crashed is None and self.breaker.is_closed
        )

    # -- periodic duties (main thread) ------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        if self._stop_requested_at is not None:
            self.gate.stop_retrying("interrupted by a signal")
            if now - self._stop_requested_at >= self.settings.stop_grace_s:
                self.gate.stop("interrupted by a signal")
        self.out.flush_due()
        if now - self._last_beat >= self.settings.heartbeat_s:
            self._last_beat = now
            runs.heartbeat(self.engine, self.run_id, self.counters)
        self._sync_cooldown()

    def _sync_cooldown(self, force: bool = False) -> None:
        """Store this run's Retry-After pause; honour one stored by another worker."""
        pause = self.gate.take_pause_to_persist()
        if pause is not None:
            runs.set_cooldown(self.engine, pause[0], pause[1])
        now = time.monotonic()
        if force or now - self._last_cooldown_sync >= 0.1:
            self._last_cooldown_sync = now
            until = runs.get_cooldown(self._reader)
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
        probe = self._claim(1)
        if not probe:
            self.breaker.probe_result(True)  # nothing left to probe with: nothing left to do
            self.gate.resume()
            return
        self.gate.resume()
        fut = self.lanes.submit(Task(probe, probe=True))
        while True:
            try:
                settled = fut.result(timeout=0.25)
                break
            except cf.TimeoutError:
                self._tick()  # heartbeats and signals while the probe runs
        ok = all(s.step.webex_answered for s in settled)
        outcomes = [s.outcome for s in settled]
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
        self.out.write(outcomes)


