"""The retry policy of a row: tenacity, built from the run's profile at run time.

Composition (who decides what, in order, for every row):

1. :class:`ledger.work.gate.RunGate` (the run's request hooks) blocks every request while the run is
   paused by a 429/423, spaces requests to the adaptive rate, and stops them when the run stops.
2. tenacity (:func:`build_retrying`) retries what the ladder calls retryable
   (``ledger.work.ladder.retryable``: transient and throttled failures) with random exponential
   backoff; a ``Retry-After`` always wins over the backoff; a throttled attempt (429/423) does not
   consume an attempt nor the row's time budget; ``reraise=True``; ``sleep`` is injectable.
3. :class:`ledger.work.breaker.SystemicBreaker` sees every attempt the ladder feeds it.

The settings come from :mod:`ledger.work.profiles`. Nothing here imports wxc_sdk or touches the ledger.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
import tenacity

from ledger.work import ladder
from ledger.work.profiles import RetryProfile

log = structlog.get_logger("ledger.work.retry")


@dataclass
class RowTry:
    """Per-row retry bookkeeping, passed as the first argument of the retried function."""

    counted: int = 0  # attempts that count (not throttled)
    throttles: int = 0
    blocked_at_start: float = 0.0  # the thread's time blocked in the gate when the row started
    # when the row started (monotonic): the time budget spans every tenacity call made with this
    # RowTry (a bulk task re-sends its transient rows in rounds under one RowTry)
    started: float = field(default_factory=lambda: time.monotonic())


def _row_try(rs: tenacity.RetryCallState) -> RowTry:
    ctx = rs.args[0] if rs.args else None
    if not isinstance(ctx, RowTry):  # called without a RowTry: count tenacity's attempts
        ctx = RowTry(counted=rs.attempt_number, started=rs.start_time)
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
        if ladder.classify(_exception(rs)) is ladder.Failure.THROTTLED:
            return ctx.throttles > self.max_throttles
        return self.exhausted(ctx, rs.upcoming_sleep)

    def exhausted(self, ctx: RowTry, upcoming_sleep: float = 0.0) -> bool:
        """No counted try left, or the next one would start past the row's time budget."""
        if ctx.counted >= self.attempts:
            return True
        spent = (time.monotonic() - ctx.started) - (self.blocked() - ctx.blocked_at_start)
        return spent + upcoming_sleep >= self.budget_s


class wait_retry_after_or_backoff(tenacity.wait.wait_base):
    """``Retry-After`` when the error carries one (it always wins), else random exponential backoff."""

    def __init__(self, base_s: float, max_s: float, throttle_default_s: float, rng: random.Random) -> None:
        self.base_s, self.max_s, self.throttle_default_s, self.rng = base_s, max_s, throttle_default_s, rng

    def __call__(self, rs: tenacity.RetryCallState) -> float:
        exc = _exception(rs)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        if ladder.classify(exc) is ladder.Failure.THROTTLED:
            return self.throttle_default_s
        n = max(_row_try(rs).counted, 1)
        high = min(self.max_s, self.base_s * 2 ** (n - 1))
        return self.rng.uniform(0, high)


def build_retrying(
    profile: RetryProfile,
    *,
    sleep: Callable[[float], None] = time.sleep,
    blocked: Callable[[], float] = lambda: 0.0,
    attempts: int | None = None,
    rng: random.Random | None = None,
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

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda exc: ladder.retryable(ladder.classify(exc))),
        stop=stop_row(attempts or profile.attempts, profile.row_budget_s, profile.max_throttles_per_row, blocked),
        wait=wait_retry_after_or_backoff(
            profile.backoff_base_s, profile.backoff_max_s, profile.default_throttle_s, rng or random.Random()
        ),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


__all__ = ["RowTry", "build_retrying", "stop_row", "wait_retry_after_or_backoff"]
