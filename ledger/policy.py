"""Retry profiles, the tenacity retry policy, the run-wide request gate and the breaker wrapper.

Composition (who decides what, in order, for every row):

1. :class:`RunGate` (the run's :class:`ledger.ports.RequestHooks`) runs before every HTTP request of
   every thread: it blocks while the run is paused by a 429/423 ``Retry-After`` (a pause also stored
   in the ledger's ``cooldowns`` table by the worker, so other and later workers honour it), spaces
   requests to the adaptive rate (halved after 429s, recovering additively up to ``--max-rate``), and
   raises :class:`RunStopped` when the run stops dispatching (signal, breaker open, 401).
2. tenacity (:func:`build_retrying`) retries a row's transient failures with random exponential
   backoff; a ``Retry-After`` always wins over the backoff; a throttled attempt (429/423) does not
   consume an attempt nor the row's time budget; ``reraise=True``; ``sleep`` is injectable.
3. :class:`SystemicBreaker` sees every attempt (success, transient, systemic) in a sliding window and
   opens the per-run ``circuitbreaker.CircuitBreaker`` on a failure ratio over a minimum volume (or a
   run of consecutive failures); the worker then stops claiming, waits the recovery time, and sends
   exactly one probe row; the profile's ``systemic_budget_s`` bounds the whole outage.

Nothing here imports wxc_sdk or touches the ledger.
"""

from __future__ import annotations

import collections
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog
import tenacity
from circuitbreaker import STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreaker

from ledger.errors import ActionError, SystemicFailure, Throttled, TransientFailure
from ledger.ports import parse_retry_after

log = structlog.get_logger("ledger.policy")

THROTTLE_STATUSES = frozenset({429, 423})


class RunStopped(TransientFailure):
    """The run stopped sending requests (signal, breaker open or token rejected); the row goes back to pending."""


# --- profiles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryProfile:
    """A named set of retry, timeout and breaker settings (``ledger work --retry-profile NAME``)."""

    name: str
    description: str
    attempts: int  # tries per row for transient errors; throttled tries (429/423) are not counted
    row_budget_s: float  # stop retrying a row when the next try would start after this (pauses excluded)
    backoff_base_s: float  # random exponential backoff: up to base * 2**n seconds ...
    backoff_max_s: float  # ... capped here (a Retry-After always wins)
    connect_timeout_s: float  # TCP connect timeout of every request
    read_timeout_s: float  # longest silence while waiting for the answer
    call_timeout_s: float  # whole-call bound of one request (a server trickling bytes is cut here)
    breaker_window_s: float  # sliding window of attempts the breaker looks at
    breaker_min_volume: int  # failures in the window before the ratio counts
    breaker_ratio: float  # failure ratio in the window that opens the breaker
    breaker_consecutive: int  # or this many consecutive systemic/transient failures
    recovery_s: float  # breaker open -> wait this long, then send one probe row
    systemic_budget_s: float  # not recovered within this since the breaker opened -> failed_systemic, exit 3
    max_throttles_per_row: int = 100  # a row throttled more often than this fails (kind transient)
    default_throttle_s: float = 5.0  # run-wide pause after a 429/423 without Retry-After

    @property
    def timeout(self) -> tuple[float, float, float]:
        return (self.connect_timeout_s, self.read_timeout_s, self.call_timeout_s)

    def help_line(self) -> str:
        return (
            f"{self.name}: {self.description} {self.attempts} tries/row within {self.row_budget_s:g}s, "
            f"backoff {self.backoff_base_s:g}-{self.backoff_max_s:g}s, timeouts {self.connect_timeout_s:g}/"
            f"{self.read_timeout_s:g}/{self.call_timeout_s:g}s, breaker {self.breaker_ratio:.0%} of "
            f">={self.breaker_min_volume} in {self.breaker_window_s:g}s, probe after {self.recovery_s:g}s, "
            f"gives up after {self.systemic_budget_s:g}s."
        )


PROFILES: dict[str, RetryProfile] = {
    p.name: p
    for p in (
        RetryProfile(
            name="default",
            description="production runs.",
            attempts=8,
            row_budget_s=180,
            backoff_base_s=0.5,
            backoff_max_s=30,
            connect_timeout_s=5,
            read_timeout_s=30,
            call_timeout_s=60,
            breaker_window_s=60,
            breaker_min_volume=10,
            breaker_ratio=0.5,
            breaker_consecutive=10,
            recovery_s=15,
            systemic_budget_s=300,
        ),
        RetryProfile(
            name="patient",
            description="unstable links or long Webex incidents (night runs).",
            attempts=12,
            row_budget_s=900,
            backoff_base_s=2,
            backoff_max_s=120,
            connect_timeout_s=10,
            read_timeout_s=60,
            call_timeout_s=120,
            breaker_window_s=120,
            breaker_min_volume=20,
            breaker_ratio=0.6,
            breaker_consecutive=20,
            recovery_s=60,
            systemic_budget_s=1800,
            max_throttles_per_row=500,
        ),
        RetryProfile(
            name="fast",
            description="rehearsals against the sandbox, quick checks: gives up on an outage quickly.",
            attempts=8,
            row_budget_s=30,
            backoff_base_s=0.1,
            backoff_max_s=2,
            connect_timeout_s=2,
            read_timeout_s=3,
            call_timeout_s=6,
            breaker_window_s=20,
            breaker_min_volume=8,
            breaker_ratio=0.6,
            breaker_consecutive=8,
            recovery_s=2,
            systemic_budget_s=12,
            default_throttle_s=2.0,
        ),
    )
}


def get_profile(name: str) -> RetryProfile:
    from ledger.errors import ConfigError

    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown retry profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def profiles_help() -> str:
    return "\n".join(p.help_line() for p in PROFILES.values())


# --- the run-wide gate (RequestHooks) ------------------------------------------------------------


@dataclass
class GateStats:
    requests: int = 0
    throttled: int = 0  # 429/423 answers
    paused_s: float = 0.0  # time threads spent blocked by pauses and rate spacing (summed)
    rate_decreases: int = 0


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
            self.stats.paused_s += blocked

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
                self.stats.rate_decreases += 1
        self.pause_until(now + pause, f"HTTP {status} Retry-After {pause:g}s")


# --- the retry policy (tenacity) -----------------------------------------------------------------


@dataclass
class RowTry:
    """Per-row retry bookkeeping, passed as the first argument of the retried function."""

    counted: int = 0  # attempts that count (not throttled)
    throttles: int = 0
    started: float = field(default_factory=time.monotonic)
    blocked_at_start: float = 0.0
    last_error: ActionError | None = None


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


__all__ = [
    "PROFILES",
    "RetryProfile",
    "RowTry",
    "RunGate",
    "RunStopped",
    "SystemicBreaker",
    "build_retrying",
    "get_profile",
    "outcome_feeds_breaker",
    "profiles_help",
    "retryable",
    "stop_row",
    "wait_retry_after_or_backoff",
]
