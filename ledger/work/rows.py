"""Running claimed rows in the worker's pool threads: retries, breaker feed, outcomes.

:class:`RowRunner` turns one :class:`Task` (a row, or a group of rows for a bulk executor) into
:class:`Settled` values for the writer (``ledger.work.worker``): it calls the executor under the
profile's tenacity policy (``ledger.work.retry``), feeds the breaker with every attempt, records each
try as an ``attempts`` row, and settles the row by the outcome ladder (``ledger.work.ladder``).
A bulk executor's rows run through :class:`ledger.work.bulks.BulkRows` (mixed in). It never touches the
ledger.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from ledger.errors import ActionError, RowFailure
from ledger.models import RowStatus
from ledger.store.claims import AttemptRecord, ClaimedRow, RowOutcome
from ledger.work import ladder
from ledger.work.breaker import SystemicBreaker
from ledger.work.bulks import BulkPool, BulkRows
from ledger.work.gate import RunGate
from ledger.work.ladder import Failure, Step
from ledger.work.ports import THROTTLE_STATUSES, ActionResult, Executor, ExecutorFactory, RowInput
from ledger.work.profiles import RetryProfile
from ledger.work.retry import RowTry, build_retrying
from ledger.work.tries import attempt_no, attempt_record, last_is, now

log = structlog.get_logger("ledger.work.worker")


@dataclass
class Task:
    """Rows executed together: one row, or up to ``bulk_size`` rows of a bulk executor."""

    rows: list[ClaimedRow]
    probe: bool = False  # the breaker's single half-open probe: one try, no retries
    sort: bool = False  # a claim's bulk rows, to sort into done (skipped) and bulks (``ledger.work.bulks``)


@dataclass(frozen=True)
class Settled:
    """A row's outcome for the writer, with the ladder's step that produced it."""

    outcome: RowOutcome
    step: Step


class RowRunner(BulkRows):
    """Executes tasks (thread-safe); ``auth_message`` is set when the ladder stops the run (401, or
    403 until the breaker opened: the token lacks a scope/role, waiting will not grant it)."""

    def __init__(
        self,
        *,
        factory: ExecutorFactory,
        gate: RunGate,
        breaker: SystemicBreaker,
        profile: RetryProfile,
        dry_run: bool,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.factory = factory
        self.gate = gate
        self.breaker = breaker
        self.profile = profile
        self.dry_run = dry_run
        self.retrying = build_retrying(profile, sleep=sleep or gate.sleep, blocked=gate.thread_blocked_s)
        self.probe_retrying = build_retrying(
            profile, sleep=sleep or gate.sleep, blocked=gate.thread_blocked_s, attempts=1
        )
        self.auth_message: str | None = None
        self.crashed: str | None = None  # a bug in this module: the run stops (exit 1) instead of looping
        self._executors: dict[str, Executor] = {}
        self._bulk_sizes: dict[str, int] = {}
        self._lock = threading.Lock()
        self.pool = BulkPool()  # sorted bulk rows waiting for a full bulk

    def bulk_size(self, action: str) -> int:
        size = self._bulk_sizes.get(action)
        if size is None:
            ex = self.executor(action)
            size = self._bulk_sizes[action] = ex.spec.bulk_size if hasattr(ex, "execute_many") and ex.spec.bulk_size > 1 else 1
        return size

    def bulk_key(self, row: ClaimedRow) -> str:
        """The executor's grouping key for bulk rows (``BulkExecutor.bulk_key``), "" when it has none."""
        key = getattr(self.executor(row.action), "bulk_key", None)
        return str(key(row.payload)) if key is not None else ""

    def executor(self, action: str) -> Executor:
        ex = self._executors.get(action)  # made once per action: no lock once it exists
        if ex is not None:
            return ex
        with self._lock:
            ex = self._executors.get(action)
            if ex is None:
                ex = self.factory(action, self.gate, self.profile.timeout)
                self._executors[action] = ex
            return ex

    def tasks(self, rows: list[ClaimedRow]) -> deque[Task]:
        """One task per row, except for bulk executors: their rows of the batch go in groups of up to
        ``bulk_size`` with the same ``bulk_key`` (e.g. a move's target location: one job per group); an
        executor with ``already_done`` gets them as one task to sort (:meth:`_sort`), whose bulks are
        filled across claims (``ledger.work.bulks``) while the claims bring rows of theirs."""
        tasks: deque[Task] = deque()
        groups: dict[tuple[str, str], list[ClaimedRow]] = {}
        for row in rows:
            if self.bulk_size(row.action) <= 1:
                tasks.append(Task([row]))
            else:
                groups.setdefault((row.action, self.bulk_key(row)), []).append(row)
        for (action, _), group in groups.items():
            if hasattr(self.executor(action), "already_done"):
                tasks.append(Task(group, sort=True))
                continue
            size = self.bulk_size(action)
            tasks.extend(Task(group[i : i + size]) for i in range(0, len(group), size))
        if rows:  # a batch that brought none of theirs: no more will come. (No rows at all: the claims ran
            # out, but lanes may still be sorting earlier batches into the pool — the worker flushes it
            # once they are done, RowRunner.bulks(flush=True).)
            tasks.extend(Task(bulk) for bulk in self.pool.rest(keep=groups.keys()))
        return tasks

    def bulks(self, *, flush: bool = False) -> list[Task]:
        """The bulks the sorted rows filled (with ``flush``, no more rows coming: also the ones not full)."""
        return [Task(rows) for rows in (self.pool.rest() if flush else self.pool.full())]

    def run_task(self, task: Task) -> list[Settled]:
        """Execute one task (a row, or a bulk group); never raises (a bug releases the rows)."""
        try:
            if task.sort:
                return self._sort(task.rows)
            if len(task.rows) == 1:
                return [self._run_row(task.rows[0], probe=task.probe)]
            return self._run_bulk(task.rows)
        except Exception as exc:  # noqa: BLE001 - a bug must not lose rows: release them, stop the run
            log.exception("row_task_crashed", error=type(exc).__name__)
            self.crashed = f"internal error while running rows ({type(exc).__name__}); the rows are pending"
            return [
                Settled(as_released(RowOutcome(r.row_id, RowStatus.PENDING, counts_attempts=False)), Step.RELEASE)
                for r in task.rows
            ]

    def _run_row(self, row: ClaimedRow, *, probe: bool = False) -> Settled:
        executor = self.executor(row.action)
        tries: list[AttemptRecord] = []
        recovered = [row.recovered]

        def attempt(ctx: RowTry) -> ActionResult:
            started = now()
            n = attempt_no(row, tries)
            inp = RowInput(row.row_id, row.line_no, row.action, row.payload, attempt=n, recovered=recovered[0])
            try:
                result = executor.execute(inp)
            except ActionError as exc:
                self._after_failure(exc, ctx)
                if exc.ambiguous:
                    recovered[0] = True  # the write may have landed: the next try re-checks first
                tries.append(attempt_record(n, started, exc))
                raise
            except Exception as exc:  # noqa: BLE001 - an executor bug fails the row, not the run
                err = RowFailure(f"internal error in {row.action}: {type(exc).__name__}: {str(exc)[:200]}")
                log.exception("executor_error", row_id=row.row_id, action=row.action)
                tries.append(attempt_record(n, started, err))
                raise err from None
            ctx.counted += 1
            self.breaker.record_success()
            tries.append(self._success_record(n, started, result))
            return result

        ctx = RowTry(blocked_at_start=self.gate.thread_blocked_s())
        try:  # the first try without tenacity's machinery: most rows need no other
            result = attempt(ctx)
        except ActionError as exc:
            try:
                result = self._try_again(attempt, ctx, exc, probe=probe)
            except ActionError as last:
                return self._failed(row, last, tries)
        return self._succeeded(row, result, tries)

    def _try_again(
        self, attempt: Callable[[RowTry], ActionResult], ctx: RowTry, first: ActionError, *, probe: bool
    ) -> ActionResult:
        """After a failed first try: tenacity, as if it had made that try itself. Its first call raises
        ``first`` (the same retry/stop/wait decisions, Retry-After and ``row_retry`` line as a first try
        made under tenacity), the next ones call ``attempt``; raises the last error when none is left."""
        pending: list[ActionError] = [first]

        def again(ctx: RowTry) -> ActionResult:
            if pending:
                raise pending.pop()
            return attempt(ctx)

        return (self.probe_retrying if probe else self.retrying)(again, ctx)  # type: ignore[no-any-return]

    def _decide(self, failure: Failure, *, tries_left: bool) -> Step:
        return ladder.decide(
            failure, tries_left=tries_left, run_stopped=self.gate.stopped is not None,
            breaker_open=not self.breaker.is_closed,
        )

    def _after_failure(self, exc: ActionError, ctx: RowTry) -> None:
        """Per failed attempt: count it, feed the breaker, stop the run when the ladder says so.
        (Whether the row is tried again is tenacity's, with the ladder's ``retryable``.)"""
        failure = ladder.classify(exc)
        assert failure is not None
        if failure is Failure.THROTTLED:
            ctx.throttles += 1
            if exc.http_status not in THROTTLE_STATUSES:  # not from an HTTP answer (the gate saw those already)
                self.gate.throttled(429, exc.retry_after)
        elif failure is not Failure.STOPPED:
            ctx.counted += 1
        feed = ladder.feeds_breaker(failure)
        if feed:
            self.breaker.record_failure(exc.message)
        elif feed is False:
            self.breaker.record_success()
        if self._decide(failure, tries_left=True) is Step.STOP_RUN:
            self._stop_run(failure, exc)
        elif feed and not self.breaker.is_closed:
            self.gate.stop(f"Webex is failing: {exc.message}")

    def _stop_run(self, failure: Failure, exc: ActionError) -> None:
        if failure is Failure.AUTH:
            self.auth_message = (
                f"Webex rejected the access token (HTTP 401): set a valid WEBEX_ACCESS_TOKEN and run `ledger work` "
                f"again; nothing was failed, the rows are pending ({exc.message})"
            )
            self.gate.stop("the access token was rejected")
            return
        self.auth_message = (
            "Webex refused the requests with HTTP 403 (forbidden): the access token lacks a scope, or its "
            "user an admin role or licence, that this action needs; nothing was failed, the rows are "
            f"pending: run `ledger work` again with a token that has them ({exc.message})"
        )
        self.gate.stop(f"Webex is failing: {exc.message}")

    def _success_record(self, n: int, started: str, result: ActionResult) -> AttemptRecord:
        return AttemptRecord(n, started, now(), "dry_run" if self.dry_run else result.status)

    def _succeeded(self, row: ClaimedRow, result: ActionResult, tries: list[AttemptRecord]) -> Settled:
        if self.dry_run:
            payload = {"dry_run": True, "would": "change" if result.status == "succeeded" else "skip"}
            payload["planned"] = dict(result.planned or {})
            payload.update({k: v for k, v in result.result.items() if k != "dry_run"})
            outcome = RowOutcome(row.row_id, RowStatus.PENDING, tuple(tries), result=payload, counts_attempts=False)
            return Settled(outcome, Step.DONE)
        return Settled(RowOutcome(row.row_id, RowStatus(result.status), tuple(tries), result=dict(result.result)), Step.DONE)

    def _failed(self, row: ClaimedRow, exc: ActionError, tries: list[AttemptRecord]) -> Settled:
        """The row's outcome once no try is left: the ladder's step with no tries left."""
        failure = ladder.classify(exc)
        assert failure is not None
        step = self._decide(failure, tries_left=False)
        fields: dict[str, Any] = {
            "error_kind": exc.kind,
            "error_code": exc.code,
            "http_status": exc.http_status,
            "error_message": exc.message,
            "tracking_id": exc.tracking_id,
        }
        if step in (Step.RELEASE, Step.STOP_RUN):
            return Settled(as_released(RowOutcome(row.row_id, RowStatus.FAILED, tuple(tries), **fields)), step)
        if self.dry_run:  # a preview: the row stays pending, its result says it would fail
            result = {"dry_run": True, "would": "fail", "error_kind": exc.kind, "error": exc.message}
            outcome = RowOutcome(row.row_id, RowStatus.PENDING, last_is(tries, "dry_run"), result=result,
                                 counts_attempts=False)
            return Settled(outcome, Step.FAIL_ROW)
        if step is Step.SUSPECT and failure is Failure.TRANSIENT:
            self.breaker.record_failure(f"retries exhausted: {exc.message}")
        return Settled(RowOutcome(row.row_id, RowStatus.FAILED, last_is(tries, "failed"), **fields), step)


def as_released(o: RowOutcome) -> RowOutcome:
    """The same outcome, but the row goes back to pending (its last try is marked released)."""
    return dataclasses.replace(o, status=RowStatus.PENDING, attempts=last_is(list(o.attempts), "released"))


__all__ = ["RowRunner", "Settled", "Task", "as_released"]
