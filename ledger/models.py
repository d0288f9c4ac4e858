"""Statuses and the frozen records that cross the store boundary; ``rows(n)`` for the messages."""

from __future__ import annotations

from enum import StrEnum


class RowStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"  # already in the desired state; nothing was written
    FAILED = "failed"
    INVALID = "invalid"  # rejected at import; never executed
    # a prerequisite row of the same entity is failed/invalid/blocked; not final: it becomes
    # claimable by itself once that prerequisite ends succeeded/skipped (after a retry or a fix)
    BLOCKED = "blocked"
    # replaced by a newer row of the same action and entity (ledger.superseded_by), or a line whose
    # intent an earlier row already carried out; kept for history, never executed
    SUPERSEDED = "superseded"
    # at import: every column that gives the row something to do is empty (e.g. no legacy number),
    # so no request is needed; final and not an error (counted apart from invalid and skipped)
    NOTHING_TO_DO = "nothing_to_do"

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        RowStatus.SUCCEEDED, RowStatus.SKIPPED, RowStatus.FAILED, RowStatus.INVALID, RowStatus.SUPERSEDED,
        RowStatus.NOTHING_TO_DO,
    }
)

#: what `ledger retry --status` puts back to pending; never ``invalid`` (the data is wrong: fix the
#: file and import it again) nor ``running`` (`ledger release`)
RETRYABLE_STATUSES = (RowStatus.FAILED, RowStatus.SKIPPED, RowStatus.SUCCEEDED)


class ErrorKind(StrEnum):
    ROW = "row"
    TRANSIENT = "transient"
    SYSTEMIC = "systemic"
    INVALID = "invalid"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED_SYSTEMIC = "failed_systemic"
    INTERRUPTED = "interrupted"


class DepMatch(StrEnum):
    """How a row of an import made ``--after N`` finds its prerequisite rows in import N
    (``import_deps.match``, decided at import from the two actions and the dependent's columns)."""

    ENTITY = "entity"  # the same person / workspace / site (ledger.entity_key)
    SITE = "site"  # the site the dependent row concerns (ledger.site_key = the prerequisite's site)
    ALL = "all"  # the dependent file cannot name the prerequisite's entity: every row of import N


def rows(n: int, what: str = "row") -> str:
    """``1 row``, ``3 rows``, ``1 failed row``: a count with its noun agreeing (``what`` may carry adjectives)."""
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def are(n: int) -> str:
    """The verb agreeing with a count of ``n``."""
    return "is" if n == 1 else "are"
