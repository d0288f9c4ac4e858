"""Statuses and the frozen records that cross the store boundary."""

from __future__ import annotations

from enum import StrEnum


class RowStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"  # already in the desired state; nothing was written
    FAILED = "failed"
    INVALID = "invalid"  # rejected at import; never executed

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({RowStatus.SUCCEEDED, RowStatus.SKIPPED, RowStatus.FAILED, RowStatus.INVALID})


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
