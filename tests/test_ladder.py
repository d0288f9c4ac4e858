"""The outcome ladder, table-tested: every failure × what the run knows → one step (pure, no I/O)."""

from __future__ import annotations

import pytest

from ledger.errors import AuthFailure, RowFailure, RunStopped, SystemicFailure, Throttled, TransientFailure
from ledger.models import ErrorKind
from ledger.work.ladder import Failure, Step, classify, decide, feeds_breaker, retryable

F, S = Failure, Step


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (None, None),
        (RowFailure("bad email"), F.ROW),
        (ValueError("an executor bug"), F.ROW),
        (TransientFailure("503"), F.TRANSIENT),
        (Throttled("429", http_status=429), F.THROTTLED),
        (SystemicFailure("outage"), F.SYSTEMIC),
        (SystemicFailure("forbidden", http_status=403), F.FORBIDDEN),
        (AuthFailure("401", http_status=401), F.AUTH),
        (RunStopped("not sent"), F.STOPPED),
    ],
)
def test_classify(exc: BaseException | None, failure: Failure | None) -> None:
    assert classify(exc) is failure


def test_run_stopped_is_not_a_transient_failure() -> None:
    assert not isinstance(RunStopped("x"), TransientFailure)
    assert RunStopped("x").kind == "transient"  # what its attempt row records, as before


@pytest.mark.parametrize(
    ("failure", "kind", "retried", "feed"),
    [
        (F.ROW, ErrorKind.ROW, False, False),
        (F.TRANSIENT, ErrorKind.TRANSIENT, True, True),
        (F.THROTTLED, ErrorKind.TRANSIENT, True, None),
        (F.SYSTEMIC, ErrorKind.SYSTEMIC, False, True),
        (F.FORBIDDEN, ErrorKind.SYSTEMIC, False, True),
        (F.AUTH, ErrorKind.SYSTEMIC, False, None),
        (F.STOPPED, ErrorKind.TRANSIENT, False, None),
    ],
)
def test_columns_retry_and_breaker_feed(failure: Failure, kind: ErrorKind, retried: bool, feed: bool | None) -> None:
    assert failure.kind is kind
    assert retryable(failure) is retried
    assert feeds_breaker(failure) is feed


def test_no_failure_is_a_success_for_the_breaker() -> None:
    assert feeds_breaker(None) is False


# (failure, tries_left, run_stopped, breaker_open) -> step
TABLE = [
    # a row failure is final whatever the run's state
    (F.ROW, True, False, False, S.FAIL_ROW),
    (F.ROW, False, True, True, S.FAIL_ROW),
    # transient: retried while tries are left, then a suspect; released when the run stops
    (F.TRANSIENT, True, False, False, S.RETRY),
    (F.TRANSIENT, False, False, False, S.SUSPECT),
    (F.TRANSIENT, True, True, False, S.RELEASE),
    (F.TRANSIENT, True, False, True, S.RELEASE),
    (F.THROTTLED, True, False, False, S.RETRY),
    (F.THROTTLED, False, False, False, S.SUSPECT),
    (F.THROTTLED, True, True, False, S.RELEASE),
    # systemic: never retried; a suspect until Webex is known to be down
    (F.SYSTEMIC, True, False, False, S.SUSPECT),
    (F.SYSTEMIC, False, True, False, S.RELEASE),
    (F.SYSTEMIC, False, False, True, S.RELEASE),
    # 403: a suspect (some rows may be out of reach) until the breaker opens on it: then stop the run
    (F.FORBIDDEN, True, False, False, S.SUSPECT),
    (F.FORBIDDEN, False, True, False, S.RELEASE),
    (F.FORBIDDEN, False, False, True, S.STOP_RUN),
    # 401 stops the run at once
    (F.AUTH, True, False, False, S.STOP_RUN),
    (F.AUTH, False, True, True, S.STOP_RUN),
    # not sent because the run stops: back to pending
    (F.STOPPED, True, False, False, S.RELEASE),
    (F.STOPPED, False, True, True, S.RELEASE),
]


@pytest.mark.parametrize(("failure", "tries_left", "run_stopped", "breaker_open", "step"), TABLE)
def test_decide(failure: Failure, tries_left: bool, run_stopped: bool, breaker_open: bool, step: Step) -> None:
    assert decide(failure, tries_left=tries_left, run_stopped=run_stopped, breaker_open=breaker_open) is step


def test_the_table_covers_every_failure() -> None:
    assert {row[0] for row in TABLE} == set(Failure)


def test_only_done_and_row_failures_prove_webex_answers() -> None:
    assert {s for s in Step if s.webex_answered} == {S.DONE, S.FAIL_ROW}
