"""The run's breaker: a sliding-window failure ratio around a per-run ``circuitbreaker.CircuitBreaker``.

It sees every attempt the ladder feeds it (``ledger.work.ladder.feeds_breaker``: successes, row
failures as successes, transient and systemic failures) and opens on a failure ratio over a minimum
volume (or a run of consecutive failures); the worker then stops claiming, waits the recovery time,
and sends exactly one probe row; the profile's ``systemic_budget_s`` bounds the whole outage.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable

import structlog
from circuitbreaker import STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreaker

from ledger.errors import SystemicFailure
from ledger.work.profiles import RetryProfile

log = structlog.get_logger("ledger.work.breaker")


class _Tripped(SystemicFailure):
    """The systemic-failure window tripped the breaker."""


class SystemicBreaker:
    """A sliding-window ratio/volume rule + a single half-open probe around ``circuitbreaker``.

    circuitbreaker 2.1.3 only counts consecutive failures, lets every caller through after the
    recovery timeout, and resets its count on any non-matching exception. So: it is created per run
    with ``failure_threshold=1`` and is fed a failure only when *our* window decides to trip; its
    state (open / half-open after ``recovery_timeout``) is read, never its decorator; exactly one probe
    is allowed while half-open (:meth:`try_probe`), and its result closes or re-opens the breaker.
    Thread-safe. ``clock`` drives the window (circuitbreaker's own uses ``circuitbreaker.monotonic``).
    """

    def __init__(self, profile: RetryProfile, *, name: str = "webex", clock: Callable[[], float] = time.monotonic):
        self.profile = profile
        self._clock = clock
        self._lock = threading.Lock()
        self._cb = CircuitBreaker(
            failure_threshold=1,
            recovery_timeout=max(int(math.ceil(profile.recovery_s)), 1),
            expected_exception=_Tripped,
            name=name,
        )
        self._window: collections.deque[tuple[float, bool]] = collections.deque()
        self._consecutive = 0
        self._probing = False
        self.first_opened_at: float | None = None  # start of the current outage (clock)
        self.last_failure: str | None = None
        self.trips = 0

    # -- feeding ----------------------------------------------------------------------------------
    def record_success(self) -> None:
        """An answer that proves Webex works (2xx, or a 4xx about the row itself)."""
        with self._lock:
            self._consecutive = 0
            self._push(False)

    def record_failure(self, message: str) -> None:
        """A systemic failure or a transient one (5xx, timeout, connection error); not 429s."""
        with self._lock:
            self._consecutive += 1
            self.last_failure = message
            self._push(True)
            if self._cb.closed and self._should_trip():
                self._trip(message)

    def _push(self, failed: bool) -> None:
        now = self._clock()
        self._window.append((now, failed))
        horizon = now - self.profile.breaker_window_s
        while self._window and self._window[0][0] < horizon:
            self._window.popleft()

    def _should_trip(self) -> bool:
        if self._consecutive >= self.profile.breaker_consecutive:
            return True
        failures = sum(1 for _, f in self._window if f)
        return failures >= self.profile.breaker_min_volume and failures / len(self._window) >= self.profile.breaker_ratio

    def _trip(self, message: str) -> None:
        try:
            with self._cb:  # the library's own failure path: opens at threshold 1
                raise _Tripped(message)
        except _Tripped:
            pass
        self.trips += 1
        if self.first_opened_at is None:
            self.first_opened_at = self._clock()
        log.warning("breaker_open", reason=message, trips=self.trips)

    # -- state ------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return str(self._cb.state)

    @property
    def is_closed(self) -> bool:
        return self._cb.state == STATE_CLOSED

    @property
    def is_open(self) -> bool:
        return self._cb.state == STATE_OPEN

    def open_remaining(self) -> float:
        return max(float(self._cb.open_remaining), 0.0) if self._cb.state == STATE_OPEN else 0.0

    def outage_s(self) -> float:
        return 0.0 if self.first_opened_at is None else self._clock() - self.first_opened_at

    def try_probe(self) -> bool:
        """True for exactly one caller while half-open (it must report :meth:`probe_result`)."""
        with self._lock:
            if self._cb.state != STATE_HALF_OPEN or self._probing:
                return False
            self._probing = True
            return True

    def probe_result(self, ok: bool, message: str = "") -> None:
        with self._lock:
            self._probing = False
            if ok:
                self._cb.reset()
                self._window.clear()
                self._consecutive = 0
                self.first_opened_at = None
                log.info("breaker_closed")
            else:
                self.last_failure = message or self.last_failure
                self._cb.reset()  # re-open through the failure path: restarts the recovery timer
                self._trip(message or "probe failed")


__all__ = ["SystemicBreaker"]
