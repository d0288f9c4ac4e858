"""Bulks filled with rows that need a request, across claimed batches.

A bulk executor that can tell from a batched read which rows are already done (``already_done``, see
``ledger.work.ports.BulkExecutor``) gets a claimed batch's rows sorted first
(``ledger.work.rows.RowRunner``): the rows it knows done end ``skipped`` without taking a slot of a
bulk; the others wait here, per action and ``bulk_key``, until ``bulk_size`` of them fill a bulk. What is
left is sent as it is once no more rows of its action come (:meth:`BulkPool.rest`): a claimed batch
brought none, or the claims ran out. A re-run of an
applied file where 10 % of 2,000 SCIM rows need a create then sends 2 bulks of 100, not one bulk of ~20
per claimed batch.

The rows here are claimed (the claim is on disk) and nothing has been sent for them: when the run stops
before they are sent, the worker releases them (:meth:`BulkPool.take_all`); when the process dies, they
are reclaimed like any ``running`` row of a dead run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from ledger.errors import ActionError, RowFailure
from ledger.store.claims import AttemptRecord, ClaimedRow
from ledger.work import ladder
from ledger.work.ladder import Step
from ledger.work.ports import ActionResult, RowInput
from ledger.work.retry import RowTry
from ledger.work.tries import attempt_no, attempt_record, now

if TYPE_CHECKING:
    from ledger.work.rows import Settled

Key = tuple[str, str]  # (action, bulk_key)


class BulkPool:
    """Rows waiting for a full bulk (thread-safe: the lanes add, the lanes and the writer take)."""

    def __init__(self) -> None:
        self._waiting: dict[Key, list[ClaimedRow]] = {}
        self._size: dict[Key, int] = {}
        self._lock = threading.Lock()

    def add(self, key: Key, rows: list[ClaimedRow], size: int) -> None:
        if not rows:
            return
        with self._lock:
            self._waiting.setdefault(key, []).extend(rows)
            self._size[key] = max(1, size)

    def full(self) -> list[list[ClaimedRow]]:
        """The full bulks (``bulk_size`` rows each), removed; the rest keep waiting."""
        return self._take(lambda key: False)

    def rest(self, keep: Collection[Key] = ()) -> list[list[ClaimedRow]]:
        """The full bulks, and every waiting row of the keys not in ``keep`` in bulks as large as allowed:
        no more of them will come (the claims ran out, or a claimed batch brought none: claims take the
        rows in ledger order, so a later one has none either unless a prerequisite frees some)."""
        return self._take(lambda key: key not in keep)

    def _take(self, whole: Callable[[Key], bool]) -> list[list[ClaimedRow]]:
        if not self._waiting:  # (no lock: a lane asks after every row; most runs have no bulk rows)
            return []
        out: list[list[ClaimedRow]] = []
        with self._lock:
            for key, rows in self._waiting.items():
                size = self._size[key]
                end = len(rows) if whole(key) else len(rows) - len(rows) % size
                out.extend(rows[i : min(i + size, end)] for i in range(0, end, size))
                del rows[:end]
            self._waiting = {k: v for k, v in self._waiting.items() if v}
        return out

    def take_all(self) -> list[ClaimedRow]:
        """Every waiting row, removed (the run stops: they go back to pending unsent)."""
        with self._lock:
            rows = [r for waiting in self._waiting.values() for r in waiting]
            self._waiting.clear()
        return rows

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._waiting.values())


class BulkRows:
    """How :class:`ledger.work.rows.RowRunner` runs a bulk executor's rows (a mixin: it uses the runner's
    ``executor``, ``pool``, ``retrying``, ``gate``, ``breaker`` and its row-settling methods)."""

    def _sort(self, rows: list[ClaimedRow]) -> list[Settled]:
        """A claim's rows of a bulk executor: those its batched read shows done (``already_done``) end
        ``skipped`` with no request and take no slot of a bulk; the rest wait in the pool for one."""
        executor = self.executor(rows[0].action)
        started = now()
        inputs = [RowInput(r.row_id, r.line_no, r.action, r.payload, attempt=attempt_no(r, []),
                           recovered=r.recovered) for r in rows]
        try:
            known: Mapping[int, ActionResult] = executor.already_done(inputs)  # type: ignore[attr-defined]
        except ActionError:  # the read failed: the bulks' own answers decide every row
            known = {}
        done = [
            self._succeeded(r, known[r.row_id], [self._success_record(attempt_no(r, []), started, known[r.row_id])])
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
            started = now()
            inputs = [
                RowInput(r.row_id, r.line_no, r.action, r.payload, attempt=attempt_no(r, tries[r.row_id]),
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
                    tries[r.row_id].append(attempt_record(attempt_no(r, tries[r.row_id]), started, exc))
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
            n = attempt_no(r, tries[r.row_id])
            if isinstance(res, ActionResult):
                tries[r.row_id].append(self._success_record(n, now(), res))
                results[r.row_id] = res
                continue
            err = res if isinstance(res, ActionError) else RowFailure(f"{type(res).__name__}: {str(res)[:200]}")
            tries[r.row_id].append(attempt_record(n, now(), err))
            results[r.row_id] = err
            failure = ladder.classify(err)
            assert failure is not None
            if self._decide(failure, tries_left=tries_left) is Step.RETRY:
                if err.ambiguous:
                    recovered[r.row_id] = True
                again.append(r)
        return again


__all__ = ["BulkPool", "BulkRows"]
