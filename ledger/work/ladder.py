"""The outcome ladder: what happens to a row after a failed attempt, decided in one pure function.

Every failure is first named (:func:`classify`: an exception → :class:`Failure`), then
:func:`decide` maps it, with what the run knows at that moment, to one :class:`Step`:

=============  =========  ================  ======================================  =========
Failure        column     breaker feed      decide(...)                             retried
=============  =========  ================  ======================================  =========
AUTH (401)     systemic   no                STOP_RUN                                no
STOPPED        transient  no                RELEASE                                 no
FORBIDDEN 403  systemic   failure           STOP_RUN once the breaker is open,      no
                                            else SUSPECT
SYSTEMIC       systemic   failure           RELEASE if the run stopped / breaker    no
                                            open, else SUSPECT
TRANSIENT      transient  failure           RELEASE if stopped / breaker open;      yes
                                            RETRY while tries are left; SUSPECT
THROTTLED      transient  not counted       as TRANSIENT (tries not counted)        yes
ROW            row        success (Webex    FAIL_ROW, always                        no
                          answered)
=============  =========  ================  ======================================  =========

- RETRY: tenacity tries again (``ledger.work.retry``: backoff, Retry-After, tries and time budget).
- FAIL_ROW: the row is ``failed`` now; the run goes on.
- SUSPECT: the row failed for a reason that may be Webex's (outage, missing scope): held
  ``running`` until a later row proves Webex answers (then ``failed``) or the run learns Webex is
  down (then ``pending``): an outage never fails rows (``ledger.work.outcomes``).
- RELEASE: back to ``pending`` (nothing is wrong with the row; the run is stopping).
- STOP_RUN: the token is rejected or lacks a scope/role: the run stops at once (exit 3), the row
  goes back to ``pending``.

Pure: no I/O, no clocks, no state. ``tests/test_ladder.py`` walks the table.
"""

from __future__ import annotations

from enum import StrEnum

from ledger.errors import AuthFailure, RunStopped, SystemicFailure, Throttled, TransientFailure
from ledger.models import ErrorKind


class Failure(StrEnum):
    """What went wrong in one attempt, as the ladder sees it (finer than the ``error_kind`` column)."""

    ROW = "row"  # Webex rejected this row (bad data, functional conflict), or the executor has a bug
    TRANSIENT = "transient"  # 5xx, timeout, connection error
    THROTTLED = "throttled"  # 429/423: the run pauses for Retry-After
    SYSTEMIC = "systemic"  # a failure about every row (outage)
    FORBIDDEN = "forbidden"  # 403: a scope or role missing (or a resource outside the admin's reach)
    AUTH = "auth"  # 401: the token is rejected
    STOPPED = "stopped"  # not sent / not retried: the run is stopping

    @property
    def kind(self) -> ErrorKind:
        """The ``error_kind`` column value."""
        return _KINDS[self]


_KINDS = {
    Failure.ROW: ErrorKind.ROW,
    Failure.TRANSIENT: ErrorKind.TRANSIENT,
    Failure.THROTTLED: ErrorKind.TRANSIENT,
    Failure.SYSTEMIC: ErrorKind.SYSTEMIC,
    Failure.FORBIDDEN: ErrorKind.SYSTEMIC,
    Failure.AUTH: ErrorKind.SYSTEMIC,
    Failure.STOPPED: ErrorKind.TRANSIENT,
}


class Step(StrEnum):
    """What happens to the row next."""

    DONE = "done"  # succeeded or skipped (not a failure; here so every outcome carries a step)
    RETRY = "retry"
    FAIL_ROW = "fail_row"
    SUSPECT = "suspect"
    RELEASE = "release"
    STOP_RUN = "stop_run"

    @property
    def webex_answered(self) -> bool:
        """The attempt proves Webex works (a 2xx, or a 4xx about the row itself)."""
        return self in (Step.DONE, Step.FAIL_ROW)


def classify(exc: BaseException | None) -> Failure | None:
    """The ladder's name for ``exc`` (None: no failure)."""
    if exc is None:
        return None
    if isinstance(exc, RunStopped):
        return Failure.STOPPED
    if isinstance(exc, AuthFailure):
        return Failure.AUTH
    if isinstance(exc, Throttled):
        return Failure.THROTTLED
    if isinstance(exc, TransientFailure):
        return Failure.TRANSIENT
    if isinstance(exc, SystemicFailure):
        return Failure.FORBIDDEN if exc.http_status == 403 else Failure.SYSTEMIC
    return Failure.ROW  # a RowFailure, or anything else an executor raised (a bug: the row fails)


def retryable(failure: Failure | None) -> bool:
    """Tried again while the row has tries and time left (tenacity's retry predicate)."""
    return failure in (Failure.TRANSIENT, Failure.THROTTLED)


def feeds_breaker(failure: Failure | None) -> bool | None:
    """True: a failure for the breaker; False: a success (Webex answered); None: not counted."""
    if failure is None or failure is Failure.ROW:
        return False
    if failure in (Failure.THROTTLED, Failure.STOPPED, Failure.AUTH):
        return None
    return True


def decide(failure: Failure, *, tries_left: bool, run_stopped: bool, breaker_open: bool) -> Step:
    """The step after an attempt that failed with ``failure`` (see the module's table).

    ``tries_left``: the retry policy would try again; ``run_stopped``: the run stopped sending
    (signal past its grace, breaker open, 401); ``breaker_open``: the breaker is not closed.
    """
    if failure is Failure.AUTH:
        return Step.STOP_RUN
    if failure is Failure.FORBIDDEN and breaker_open:
        return Step.STOP_RUN  # Webex answered 403 until the breaker opened: no wait will grant the scope
    if failure is Failure.ROW:
        return Step.FAIL_ROW
    if failure is Failure.STOPPED or run_stopped or breaker_open:
        return Step.RELEASE  # an interrupted or outage row is not a failed row
    if retryable(failure) and tries_left:
        return Step.RETRY
    return Step.SUSPECT


__all__ = ["Failure", "Step", "classify", "decide", "feeds_breaker", "retryable"]
