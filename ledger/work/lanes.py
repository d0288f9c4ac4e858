"""The worker's lanes: ``concurrency`` pool threads that run claimed tasks and hand their outcomes back.

A lane takes its next task from the shared queue itself, so a row follows the previous one without
waiting for the writer (the main thread, ``ledger.work.worker``); it hands each task's outcomes over
(:meth:`Lanes.take_settled`) and wakes the writer (:attr:`Lanes.wake`) when it has work for it: rows
run low (refill), outcomes wait (``WAKE_AT``), or the lane ends. Lanes only run
``ledger.work.rows.RowRunner`` (executor calls, retries, breaker feed); they never write the ledger.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections import deque
from collections.abc import Callable

from ledger.work.rows import RowRunner, Settled, Task

#: the writer wakes at least this often (heartbeats, signals, group commits), or when this many outcomes wait
WAKE_S = 0.1
WAKE_AT = 100


class Lanes:
    """The run's pool threads. ``may_start()`` (read-only, called from the lanes) says whether a lane may
    start another task (the run is not stopping, the breaker is closed)."""

    def __init__(self, rows: RowRunner, concurrency: int, may_start: Callable[[], bool]) -> None:
        self.rows = rows
        self.limit = concurrency
        self.may_start = may_start
        self.wake = threading.Event()  # a lane has something for the writer
        self._settled: deque[Settled] = deque()  # outcomes the lanes handed over, not yet taken
        self._pool = cf.ThreadPoolExecutor(max_workers=max(concurrency, 1), thread_name_prefix="ledger-row")

    def start(self, tasks: deque[Task]) -> cf.Future[None]:
        """One more lane on ``tasks``; its end wakes the writer."""
        lane = self._pool.submit(self._lane, tasks)
        lane.add_done_callback(lambda _f: self.wake.set())
        return lane

    def submit(self, task: Task) -> cf.Future[list[Settled]]:
        """One task on its own (the breaker's probe), its outcomes returned rather than handed over."""
        return self._pool.submit(self.rows.run_task, task)

    def wait(self, timeout: float = WAKE_S) -> None:
        """The writer: until a lane wakes it, or ``timeout``."""
        self.wake.wait(timeout)
        self.wake.clear()

    def take_settled(self) -> list[Settled]:
        """The outcomes handed over since the last call (the writer records them)."""
        out: list[Settled] = []
        try:
            while True:
                out.append(self._settled.popleft())
        except IndexError:
            return out

    def shutdown(self, *, wait: bool) -> None:
        """``wait``: let the lanes finish; else leave at once, tasks not started are cancelled."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _lane(self, tasks: deque[Task]) -> None:
        """A pool thread: run tasks until none is left or ``may_start()`` says no; hand each task's
        outcomes over, waking the writer when it has work."""
        while self.may_start():
            try:
                task = tasks.popleft()
            except IndexError:
                return
            if len(tasks) < self.limit:
                self.wake.set()  # rows run low: the writer refills
            self._settled.extend(self.rows.run_task(task))
            tasks.extend(self.rows.bulks())  # a sorted claim may have filled bulks
            if len(self._settled) >= WAKE_AT:
                self.wake.set()


__all__ = ["WAKE_AT", "WAKE_S", "Lanes"]
