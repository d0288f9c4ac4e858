"""A row's tries as ``attempts`` records (one per execution of the row, across runs)."""

from __future__ import annotations

import dataclasses

from ledger.errors import ActionError
from ledger.store.claims import AttemptRecord, ClaimedRow
from ledger.store.engine import utcnow
from ledger.work import ladder
from ledger.work.ladder import Failure


def now() -> str:
    return utcnow()


def attempt_no(row: ClaimedRow, tries: list[AttemptRecord]) -> int:
    """The number of the row's next try, counting the tries of earlier runs (``ledger.attempts``)."""
    return row.prior_attempts + len(tries) + 1


def attempt_record(n: int, started: str, exc: ActionError) -> AttemptRecord:
    failure = ladder.classify(exc)
    outcome = "throttled" if failure is Failure.THROTTLED else "released" if failure is Failure.STOPPED else "retry"
    return AttemptRecord(
        attempt_no=n,
        started_at=started,
        finished_at=now(),
        outcome=outcome,
        http_status=exc.http_status,
        retry_after_s=exc.retry_after,
        tracking_id=exc.tracking_id,
        error_kind=exc.kind,
        error_code=exc.code,
        error_message=exc.message,
    )


def last_is(tries: list[AttemptRecord], outcome: str) -> tuple[AttemptRecord, ...]:
    """The tries, the last one marked with the row's final ``outcome`` (it was logged as a retry)."""
    if not tries:
        return ()
    return (*tries[:-1], dataclasses.replace(tries[-1], outcome=outcome))


__all__ = ["attempt_no", "attempt_record", "last_is", "now"]
