"""Running claimed rows in the worker's pool threads: retries, breaker feed, outcomes.

:class:`RowRunner` turns one :class:`Task` (a row, or a group of rows for a bulk executor) into
:class:`Settled` values for the writer (``ledger.work.worker``): it calls the executor under the
profile's tenacity policy (``ledger.work.retry``), feeds the breaker with every attempt, records each
try as an ``attempts`` row, and settles the row by the outcome ladder (``ledger.work.ladder``).
It never touches the ledger.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from ledger.errors import ActionError, RowFailure
from ledger.models import RowStatus
from ledger.store.claims import AttemptRecord, ClaimedRow, RowOutcome
from ledger.store.engine import utcnow
from ledger.work import ladder
from ledger.work.breaker import SystemicBreaker
from ledger.work.bulks import BulkPool
from ledger.work.gate import RunGate
from ledger.work.ladder import Failure, Step
from ledger.work.ports import THROTTLE_STATUSES, ActionResult, Executor, ExecutorFactory, RowInput
from ledger.work.profiles import RetryProfile
from ledger.work.retry import RowTry, build_retrying

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


class RowRunner:
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
            started = _now()
            n = _attempt_no(row, tries)
            inp = RowInput(row.row_id, row.line_no, row.action, row.payload, attempt=n, recovered=recovered[0])
            try:
                result = executor.execute(inp)
            except ActionError as exc:
                self._after_failure(exc, ctx)
                if exc.ambiguous:
                    recovered[0] = True  # the write may have landed: the next try re-checks first
                tries.append(_attempt_record(n, started, exc))
                raise
            except Exception as exc:  # noqa: BLE001 - an executor bug fails the row, not the run
                err = RowFailure(f"internal error in {row.action}: {type(exc).__name__}: {str(exc)[:200]}")
                log.exception("executor_error", row_id=row.row_id, action=row.action)
                tries.append(_attempt_record(n, started, err))
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
        return AttemptRecord(n, started, _now(), "dry_run" if self.dry_run else result.status)

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
            outcome = RowOutcome(row.row_id, RowStatus.PENDING, _last_is(tries, "dry_run"), result=result,
                                 counts_attempts=False)
            return Settled(outcome, Step.FAIL_ROW)
        if step is Step.SUSPECT and failure is Failure.TRANSIENT:
            self.breaker.record_failure(f"retries exhausted: {exc.message}")
        return Settled(RowOutcome(row.row_id, RowStatus.FAILED, _last_is(tries, "failed"), **fields), step)

    def _sort(self, rows: list[ClaimedRow]) -> list[Settled]:
        """A claim's rows of a bulk executor: those its batched read shows done (``already_done``) end
        ``skipped`` with no request and take no slot of a bulk; the rest wait in the pool for one."""
        executor = self.executor(rows[0].action)
        started = _now()
        inputs = [RowInput(r.row_id, r.line_no, r.action, r.payload, attempt=_attempt_no(r, []),
                           recovered=r.recovered) for r in rows]
        try:
            known: Mapping[int, ActionResult] = executor.already_done(inputs)  # type: ignore[attr-defined]
        except ActionError:  # the read failed: the bulks' own answers decide every row
            known = {}
        done = [
            self._succeeded(r, known[r.row_id], [self._success_record(_attempt_no(r, []), started, known[r.row_id])])
            for r in rows if r.row_id in known
        ]
        self.pool.add((rows[0].action, self.bulk_key(rows[0])), [r for r in rows if r.row_id not in known],
                      self.bulk_size(rows[0].action))
        return done

    def _run_bulk(self, rows: list[ClaimedRow]) -> list[Settled]:
        """A bulk executor: up to ``bulk_size`` rows per call; rows failing transiently are re-sent.

        One :class:`RowTry` spans every call of the task: a row is sent at most ``attempts`` times
        (counted calls) within one time budget, however its re-sends are grouped."""
        executor = self.executor(rows[0].action)
        tries: dict[int, list[AttemptRecord]] = {r.row_id: [] for r in rows}
        by_id = {r.row_id: r for r in rows}
        results: dict[int, ActionResult | ActionError] = {}
        todo = list(rows)
        recovered = {r.row_id: r.recovered for r in rows}

        def attempt(ctx: RowTry) -> Mapping[int, ActionResult | Exception]:
            started = _now()
            inputs = [
                RowInput(r.row_id, r.line_no, r.action, r.payload, attempt=_attempt_no(r, tries[r.row_id]),
                         recovered=recovered[r.row_id])
                for r in todo
            ]
            try:
                out = executor.execute_many(inputs)  # type: ignore[attr-defined]
            except ActionError as exc:
                self._after_failure(exc, ctx)
                for r in todo:
                    if exc.ambiguous:
                        recovered[r.row_id] = True
                    tries[r.row_id].append(_attempt_record(_attempt_no(r, tries[r.row_id]), started, exc))
                raise
            ctx.counted += 1
            self.breaker.record_success()
            return out  # type: ignore[no-any-return]

        ctx = RowTry(blocked_at_start=self.gate.thread_blocked_s())
        while todo:
            try:
                out = self.retrying(attempt, ctx)
            except ActionError as exc:
                for r in todo:
                    results[r.row_id] = exc
                break
            tries_left = not self.retrying.stop.exhausted(ctx)  # type: ignore[attr-defined]
            todo = self._bulk_answers(todo, out, tries, results, recovered, tries_left=tries_left)
        return [
            self._succeeded(by_id[i], res, tries[i]) if isinstance(res, ActionResult) else self._failed(by_id[i], res, tries[i])
            for i, res in results.items()
        ]

    def _bulk_answers(
        self,
        todo: list[ClaimedRow],
        out: Mapping[int, ActionResult | Exception],
        tries: dict[int, list[AttemptRecord]],
        results: dict[int, ActionResult | ActionError],
        recovered: dict[int, bool],
        *,
        tries_left: bool,
    ) -> list[ClaimedRow]:
        """Record each row's answer in one bulk call; returns the rows the ladder sends again."""
        again = []
        for r in todo:
            res = out.get(r.row_id, RowFailure("no result for this row in the bulk answer"))
            n = _attempt_no(r, tries[r.row_id])
            if isinstance(res, ActionResult):
                tries[r.row_id].append(self._success_record(n, _now(), res))
                results[r.row_id] = res
                continue
            err = res if isinstance(res, ActionError) else RowFailure(f"{type(res).__name__}: {str(res)[:200]}")
            tries[r.row_id].append(_attempt_record(n, _now(), err))
            results[r.row_id] = err
            failure = ladder.classify(err)
            assert failure is not None
            if self._decide(failure, tries_left=tries_left) is Step.RETRY:
                if err.ambiguous:
                    recovered[r.row_id] = True
                again.append(r)
        return again


def _now() -> str:
    return utcnow()


def _attempt_no(row: ClaimedRow, tries: list[AttemptRecord]) -> int:
    """The number of the row's next try, counting the tries of earlier runs (``ledger.attempts``)."""
    return row.prior_attempts + len(tries) + 1


def _attempt_record(n: int, started: str, exc: ActionError) -> AttemptRecord:
    failure = ladder.classify(exc)
    outcome = "throttled" if failure is Failure.THROTTLED else "released" if failure is Failure.STOPPED else "retry"
    return AttemptRecord(
        attempt_no=n,
        started_at=started,
        finished_at=_now(),
        outcome=outcome,
        http_status=exc.http_status,
        retry_after_s=exc.retry_after,
        tracking_id=exc.tracking_id,
        error_kind=exc.kind,
        error_code=exc.code,
        error_message=exc.message,
    )


def _last_is(tries: list[AttemptRecord], outcome: str) -> tuple[AttemptRecord, ...]:
    """The tries, the last one marked with the row's final ``outcome`` (it was logged as a retry)."""
    if not tries:
        return ()
    return (*tries[:-1], dataclasses.replace(tries[-1], outcome=outcome))


def as_released(o: RowOutcome) -> RowOutcome:
    """The same outcome, but the row goes back to pending (its last try is marked released)."""
    return dataclasses.replace(o, status=RowStatus.PENDING, attempts=_last_is(list(o.attempts), "released"))


__all__ = ["RowRunner", "Settled", "Task", "as_released"]
