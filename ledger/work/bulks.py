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
from collections.abc import Callable, Collection

from ledger.store.claims import ClaimedRow

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


__all__ = ["BulkPool"]
