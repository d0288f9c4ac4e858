"""The tenacity retry policy and the breaker wrapper.

Composition (who decides what, in order, for every row):

1. :class:`ledger.work.gate.RunGate` (the run's request hooks) blocks every request while the run is
   paused by a 429/423, spaces requests to the adaptive rate, and stops them when the run stops.
2. tenacity (:func:`build_retrying`) retries a row's transient failures with random exponential
   backoff; a ``Retry-After`` always wins over the backoff; a throttled attempt (429/423) does not
   consume an attempt nor the row's time budget; ``reraise=True``; ``sleep`` is injectable.
3. :class:`SystemicBreaker` sees every attempt (success, transient, systemic) in a sliding window and
   opens the per-run ``circuitbreaker.CircuitBreaker`` on a failure ratio over a minimum volume (or a
   run of consecutive failures); the worker then stops claiming, waits the recovery time, and sends
   exactly one probe row; the profile's ``systemic_budget_s`` bounds the whole outage.

The settings come from :mod:`ledger.work.profiles`. Nothing here imports wxc_sdk or touches the ledger.
"""

from __future__ import annotations

import collections
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import tenacity
from circuitbreaker import STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreaker

from ledger.errors import SystemicFailure, Throttled, TransientFailure
from ledger.work.gate import RunStopped
from ledger.work.profiles import RetryProfile

log = structlog.get_logger("ledger.work.policy")


# --- the retry policy (tenacity) -----------------------------------------------------------------


@dataclass
class RowTry:
    """Per-row retry bookkeeping, passed as the first argument of the retried function."""

    counted: int = 0  # attempts that count (not throttled)
    throttles: int = 0
    blocked_at_start: float = 0.0  # the thread's time blocked in the gate when the row started


def _row_try(rs: tenacity.RetryCallState) -> RowTry:
    ctx = rs.args[0] if rs.args else None
    if not isinstance(ctx, RowTry):  # called without a RowTry: count tenacity's attempts
        ctx = RowTry(counted=rs.attempt_number)
    return ctx


def _exception(rs: tenacity.RetryCallState) -> BaseException | None:
    return rs.outcome.exception() if rs.outcome is not None and rs.outcome.failed else None


class stop_row(tenacity.stop.stop_base):
    """Stop after ``attempts`` counted tries or when the next try would start past the row budget.

    Throttled tries are not counted and do not spend the budget (time blocked in the gate is excluded);
    they stop only past ``max_throttles``.
    """

    def __init__(self, attempts: int, budget_s: float, max_throttles: int, blocked: Callable[[], float]) -> None:
        self.attempts, self.budget_s, self.max_throttles, self.blocked = attempts, budget_s, max_throttles, blocked

    def __call__(self, rs: tenacity.RetryCallState) -> bool:
        ctx = _row_try(rs)
        if isinstance(_exception(rs), Throttled):
            return ctx.throttles > self.max_throttles
        if ctx.counted >= self.attempts:
            return True
        spent = (rs.seconds_since_start or 0.0) - (self.blocked() - ctx.blocked_at_start)
        return spent + rs.upcoming_sleep >= self.budget_s


class wait_retry_after_or_backoff(tenacity.wait.wait_base):
    """``Retry-After`` when the error carries one (it always wins), else random exponential backoff."""

    def __init__(self, base_s: float, max_s: float, throttle_default_s: float, rng: random.Random) -> None:
        self.base_s, self.max_s, self.throttle_default_s, self.rng = base_s, max_s, throttle_default_s, rng

    def __call__(self, rs: tenacity.RetryCallState) -> float:
        exc = _exception(rs)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        if isinstance(exc, Throttled):
            return self.throttle_default_s
        n = max(_row_try(rs).counted, 1)
        high = min(self.max_s, self.base_s * 2 ** (n - 1))
        return self.rng.uniform(0, high)


def retryable(exc: BaseException | None) -> bool:
    """Transient failures are retried; row and systemic ones, and RunStopped, are not."""
    return isinstance(exc, TransientFailure) and not isinstance(exc, RunStopped)


def build_retrying(
    profile: RetryProfile,
    *,
    sleep: Callable[[float], None] = time.sleep,
    blocked: Callable[[], float] = lambda: 0.0,
    attempts: int | None = None,
    rng: random.Random | None = None,
    on_retry: Callable[[tenacity.RetryCallState], None] | None = None,
) -> tenacity.Retrying:
    """The run's tenacity policy, built from the profile at run time (``reraise=True``).

    Call it as ``retrying(fn, RowTry(), ...)``: ``fn`` receives the RowTry first and must increment
    ``counted``/``throttles`` for each try (the worker's attempt function does).
    """

    def before_sleep(rs: tenacity.RetryCallState) -> None:
        exc = _exception(rs)
        log.info(
            "row_retry",
            attempt=rs.attempt_number,
            sleep_s=round(rs.upcoming_sleep, 3),
            error_kind=getattr(exc, "kind", None),
            error=getattr(exc, "message", type(exc).__name__),
        )
        if on_retry is not None:
            on_retry(rs)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(retryable),
        stop=stop_row(attempts or profile.attempts, profile.row_budget_s, profile.max_throttles_per_row, blocked),
        wait=wait_retry_after_or_backoff(
            profile.backoff_base_s, profile.backoff_max_s, profile.default_throttle_s, rng or random.Random()
        ),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


# --- the breaker ---------------------------------------------------------------------------------


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

    def trip(self, message: str) -> None:
        """Open now (e.g. a 403 on every row is systemic at once)."""
        with self._lock:
            self.last_failure = message
            if self._cb.closed:
                self._trip(message)

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


def outcome_feeds_breaker(exc: BaseException | None) -> bool | None:
    """True: a failure for the breaker; False: a success; None: not counted (throttle, stop)."""
    if exc is None:
        return False
    if isinstance(exc, (Throttled, RunStopped)):
        return None
    if isinstance(exc, (TransientFailure, SystemicFailure)):
        return True
    return False  # a row failure: Webex answered
