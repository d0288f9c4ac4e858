"""The run-wide request gate: pause on 429/423, adaptive rate, stop switch (the run's RequestHooks).

:class:`RunGate` runs before every HTTP request of every thread: it blocks while the run is paused
by a 429/423 ``Retry-After`` (a pause also stored in the ledger's ``cooldowns`` table by the worker,
so other and later workers honour it), spaces requests to the adaptive rate (halved after 429s,
recovering additively up to ``--max-rate``), and raises :class:`RunStopped` when the run stops
dispatching (signal, breaker open, 401). Nothing here imports wxc_sdk or touches the ledger.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from ledger.errors import RunStopped
from ledger.work.ports import THROTTLE_STATUSES, parse_retry_after

log = structlog.get_logger("ledger.work.gate")


@dataclass
class GateStats:
    requests: int = 0
    throttled: int = 0  # 429/423 answers


class RunGate:
    """Run-wide pause + adaptive rate + stop switch, called around every HTTP request.

    ``clock`` is wall time (``time.time``): pauses are shared with other processes as unix times.
    ``shared_pause()`` returns the pause stored by any worker (the ledger's ``cooldowns`` row); it
    is read before requests, at most every ``shared_every_s``. ``on_pause`` is called (from the
    requesting thread) when this run learns a new pause, so the writer stores it at once.
    """

    def __init__(
        self,
        *,
        max_rate_per_min: float | None = None,
        default_pause_s: float = 5.0,
        min_rate_per_min: float = 60.0,
        min_recover_per_min_per_s: float = 6.0,
        clock: Callable[[], float] = time.time,
        decrease_every_s: float = 30.0,
        shared_pause: Callable[[], float | None] | None = None,
        shared_every_s: float = 0.02,
    ) -> None:
        self._cond = threading.Condition()
        self.decrease_every_s = decrease_every_s
        # reads the pause other workers stored (the ledger's cooldowns row), at most every shared_every_s
        self._shared_pause = shared_pause
        self._shared_every_s = shared_every_s
        self._last_shared = -math.inf
        self._clock = clock
        self.max_rate = max_rate_per_min / 60.0 if max_rate_per_min else None  # req/s cap
        self.rate = self.max_rate  # current req/s limit; None = unlimited
        self._ceiling = self.max_rate
        self.min_rate = min_rate_per_min / 60.0
        self.min_step = min_recover_per_min_per_s / 60.0  # smallest additive step (req/s per second)
        self._step = self.min_step
        self._last_send = 0.0
        self._interval = 0.0  # average gap between requests while not paused
        self.default_pause_s = default_pause_s
        self.paused_until = 0.0
        self.pause_reason = ""
        self._pause_dirty = False
        self._next_slot = 0.0
        self._last_decrease = -math.inf
        self._last_recover = clock()
        self._stop_reason: str | None = None
        self._no_retry_reason: str | None = None
        self._local = threading.local()
        self.stats = GateStats()
        self.on_pause: Callable[[], None] | None = None  # wakes the writer to store a new pause

    # -- stop switch ------------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Refuse every further request (raise RunStopped) and wake blocked threads."""
        with self._cond:
            self._stop_reason = reason
            self._cond.notify_all()

    def stop_retrying(self, reason: str) -> None:
        """Let requests in flight and rows under way go on, but wake and end every retry wait."""
        with self._cond:
            if self._no_retry_reason is None:
                self._no_retry_reason = reason
                self._cond.notify_all()

    def resume(self) -> None:
        """Lift a stop (breaker closed again); a stop_retrying (signal) stays."""
        with self._cond:
            self._stop_reason = None
            self._cond.notify_all()

    @property
    def stopped(self) -> str | None:
        return self._stop_reason

    def sleep(self, seconds: float) -> None:
        """tenacity's sleep: wait ``seconds`` unless the run stops (then raise RunStopped)."""
        deadline = time.monotonic() + max(seconds, 0.0)
        with self._cond:
            while True:
                reason = self._stop_reason or self._no_retry_reason
                if reason is not None:
                    raise RunStopped(f"not retried: {reason}")
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    # -- pause ------------------------------------------------------------------------------------
    def pause_until(self, until: float, reason: str, *, persist: bool = True) -> None:
        """Pause every request until unix time ``until`` (keeps a later pause already set).

        ``persist``: a pause this run learned (not one read from the ledger); ``on_pause`` is then
        called so the writer stores it at once for the other workers.
        """
        notify = False
        with self._cond:
            if until > self.paused_until:
                self.paused_until = until
                self.pause_reason = reason
                notify = persist and not self._pause_dirty
                self._pause_dirty = self._pause_dirty or persist
        if notify and self.on_pause is not None:
            self.on_pause()

    def take_pause_to_persist(self) -> tuple[float, str] | None:
        """The pause set by this run since the last call (for the writer to store), or None."""
        with self._cond:
            if not self._pause_dirty:
                return None
            self._pause_dirty = False
            return self.paused_until, self.pause_reason

    def thread_blocked_s(self) -> float:
        """Seconds the calling thread spent blocked in the gate so far (excluded from row budgets)."""
        return float(getattr(self._local, "blocked", 0.0))

    # -- RequestHooks -----------------------------------------------------------------------------
    def _check_shared_pause(self) -> None:
        if self._shared_pause is None:
            return
        now = time.monotonic()
        with self._cond:
            if now - self._last_shared < self._shared_every_s:
                return
            self._last_shared = now
        try:
            until = self._shared_pause()
        except Exception as exc:  # noqa: BLE001 - a failed read must not fail a row; the writer syncs too
            log.warning("shared_pause_unreadable", error=type(exc).__name__)
            return
        if until is not None and until > self._clock():
            self.pause_until(until, "pause stored by another worker", persist=False)

    def before_request(self) -> None:
        start = time.monotonic()
        while True:
            self._check_shared_pause()
            if self._take_turn():
                break
        blocked = time.monotonic() - start
        if blocked > 0.0005:
            self._local.blocked = self.thread_blocked_s() + blocked

    def _take_turn(self) -> bool:
        """Wait for a send slot: True when taken; False after waiting out a pause (re-check first)."""
        with self._cond:
            while True:
                if self._stop_reason is not None:
                    raise RunStopped(f"not sent: {self._stop_reason}")
                now = self._clock()
                if now < self.paused_until:
                    self._cond.wait(self.paused_until - now)
                    if self._clock() >= self.paused_until:
                        return False  # the pause is over: another worker may have stored a new one
                    continue
                slot = self._take_slot(now)
                if slot <= now:
                    self.stats.requests += 1
                    return True
                self._cond.wait(slot - now)

    def _take_slot(self, now: float) -> float:
        """Reserve the next send time under the current rate; returns it (<= now: send now)."""
        self._recover(now)
        if self.rate is not None:
            slot = max(now, self._next_slot)
            if slot > now:
                return slot
            self._next_slot = now + 1.0 / self.rate
        gap = now - self._last_send
        self._last_send = now
        if 0 < gap < 1.0:  # the sending rate while not paused (pauses would hide the real pace)
            self._interval = 0.9 * self._interval + 0.1 * gap if self._interval else gap
        return now

    def observed_rate(self) -> float | None:
        """Requests per second sent while not paused (exponential average of the gaps); None = unknown."""
        return 1.0 / self._interval if self._interval else None

    def _recover(self, now: float) -> None:
        """Additive increase: +step req/s per second since the last decrease, up to the ceiling."""
        if self.rate is None:
            return
        steps = int(now - self._last_recover)
        if steps < 1:
            return
        self._last_recover += steps
        self.rate += steps * self._step
        if self._ceiling is not None and self.rate >= self._ceiling:
            self.rate = self.max_rate  # back to the cap (None: unlimited)
            self._ceiling = self.max_rate

    def after_response(self, status: int | None, headers: Mapping[str, str], elapsed_s: float) -> None:
        if status not in THROTTLE_STATUSES:
            return
        self.throttled(status or 429, parse_retry_after(headers.get("Retry-After")))

    def throttled(self, status: int, retry_after: float | None) -> None:
        """A 429/423 answer: pause the whole run; halve the rate (at most once per 30 s).

        The new rate is half the lower of the current limit and the pace actually sent; it then
        grows back by 10 % of that pace per second (additive), up to ``--max-rate`` (or, without a
        cap, up to twice the pace that drew the 429, after which the limit is lifted). Decreases are
        spaced so that the limit is back at its ceiling before the next one: random 429s (not caused
        by our pace) cannot ratchet the rate down to the floor; the Retry-After pause is what obeys them.
        """
        now = self._clock()
        pause = self.default_pause_s if retry_after is None else retry_after
        with self._cond:
            self.stats.throttled += 1
            if now - self._last_decrease >= self.decrease_every_s:
                self._last_decrease = now
                pace = self.observed_rate()
                if pace is None:
                    base = self.rate or self.min_rate
                else:
                    base = pace if self.rate is None else min(self.rate, pace)
                if self.max_rate is None:
                    self._ceiling = max(base * 2, self.min_rate)
                self.rate = max(self.min_rate, base / 2)
                self._step = max(base * 0.1, self.min_step)
                self._last_recover = now + pause
        self.pause_until(now + pause, f"HTTP {status} Retry-After {pause:g}s")
