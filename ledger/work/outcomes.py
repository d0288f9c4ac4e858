"""The single writer's bookkeeping: outcomes into the ledger, counters, suspects, the run's report.

Main thread only. Suspects (``ledger.work.ladder.Step.SUSPECT``: rows that failed for a reason that
may be Webex's) stay ``running`` until a later row proves Webex answers (then they are written
``failed``) or the run learns Webex is down (breaker open, 401, signal: then they go back to
``pending``): an outage never fails rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from ledger.store import claims
from ledger.store.recovery import Reclaimed
from ledger.errors import ExitCode
from ledger.logsetup import info_many
from ledger.models import RowStatus, RunStatus
from ledger.work.progress import Progress
from ledger.store.claims import RowOutcome
from ledger.store.runs import RunCounters
from ledger.work.ladder import Step
from ledger.work.rows import Settled, as_released

log = structlog.get_logger("ledger.work.worker")


@dataclass(frozen=True)
class RunReport:
    run_id: int
    status: RunStatus
    exit_code: ExitCode
    message: str
    counters: RunCounters
    elapsed_s: float
    reclaimed: Reclaimed
    pending_left: int  # rows pending now (in the ledger, or the run's import), not only this run's
    blocked_left: int = 0  # rows blocked now: by this run, or already before it (e.g. at import)
    requests: int = 0
    throttled: int = 0
    summary_text: str = ""
    retry_command: str | None = None
    retry_note: str = ""  # what to do before retrying (row errors: fix the data)
    dry_run: bool = False

    def render(self) -> str:
        c = self.counters
        if self.dry_run:
            counts = (
                f"dry run: {c.succeeded} would change, {c.skipped} would be skipped, {c.failed} would fail "
                "(see each row's result); nothing was written, every row stays pending"
            )
        else:
            # succeeded/skipped/failed: this run's outcomes; blocked/pending: what is left now, as the
            # summary above counts them (rows blocked at import, or blocked again after a retry, included)
            counts = (
                f"{c.succeeded} succeeded, {c.skipped} skipped, {c.failed} failed; left: "
                f"{self.blocked_left} blocked, {self.pending_left} pending"
            )
        lines = [
            self.summary_text.rstrip(),
            "",
            f"run {self.run_id}: {self.status.value} (exit {int(self.exit_code)}) in {self.elapsed_s:.1f}s: {counts}; "
            f"{c.retries + c.throttled} retries ({c.throttled} after a 429/423)"
            + (f"; {self.reclaimed.rows} rows reclaimed from dead runs" if self.reclaimed.rows else ""),
        ]
        if self.message:
            lines.append(self.message)
        if self.retry_command:
            note = f"  ({self.retry_note})" if self.retry_note else ""
            lines.append(f"to retry the failed rows: {self.retry_command}{note}")
        return "\n".join(line for line in lines if line is not None).lstrip("\n")


#: group commit: outcomes are written together once this many are waiting or the oldest has waited this long
GROUP_MAX = 200
GROUP_WINDOW_S = 0.2


class OutcomeRecorder:
    """Writes outcomes (guarded by the run's claim) in group commits and counts them.

    Durability rule (issue 14): a row's claim is on disk before any request for it (claims pay their own
    fsync); its outcome may wait up to ``GROUP_WINDOW_S`` (or ``GROUP_MAX`` outcomes) and then shares one
    transaction, and that transaction's fsync with the next claim (``dialect.sharing_fsync``). An outcome
    not yet on disk when the process or machine dies leaves its row ``running`` under a dead run: the next
    run reclaims it and re-checks Webex before any write (no loss, no duplicate). The worker flushes before
    every claim (a chain's next row must see its prerequisite final) and at the end of the run.
    """

    def __init__(self, engine: sa.Engine, counters: RunCounters, progress: Progress | None, *, dry_run: bool) -> None:
        self.engine = engine
        self.counters = counters
        self.progress = progress
        self.dry_run = dry_run
        self.run_id = 0  # set when the run is registered
        self._suspects: list[RowOutcome] = []
        self._waiting: list[RowOutcome] = []
        self._since = 0.0

    def record(self, settled: Sequence[Settled], *, webex_down: bool) -> None:
        """Write final outcomes now; hold the ladder's suspects back.

        ``webex_down`` (breaker not closed, token rejected, run stopping): the suspects go back to
        pending. Otherwise a row that Webex answered proves it works: the suspects fail for real.
        """
        final = [s.outcome for s in settled if s.step is not Step.SUSPECT]
        self._suspects.extend(s.outcome for s in settled if s.step is Step.SUSPECT)  # an outage must not fail rows
        if self._suspects and webex_down:
            self.settle_suspects(failed=False)
        elif self._suspects and any(s.step.webex_answered for s in settled):
            final.extend(self._suspects)
            self._suspects = []
        self.write(final)

    @property
    def has_suspects(self) -> bool:
        return bool(self._suspects)

    def settle_suspects(self, *, failed: bool) -> None:
        """The end of the run (or of Webex): suspects fail (``failed``) or go back to pending."""
        suspects, self._suspects = self._suspects, []
        if not suspects:
            return
        if not failed:
            suspects = [as_released(o) for o in suspects]
        self.write(suspects)

    def write(self, outcomes: Sequence[RowOutcome]) -> None:
        """Queue outcomes for the next group commit (written at once when the group is full)."""
        if not outcomes:
            return
        if not self._waiting:
            self._since = time.monotonic()
        self._waiting.extend(outcomes)
        if len(self._waiting) >= GROUP_MAX:
            self.flush()

    def flush_due(self) -> None:
        """Write the waiting outcomes when the oldest has waited ``GROUP_WINDOW_S``."""
        if self._waiting and time.monotonic() - self._since >= GROUP_WINDOW_S:
            self.flush()

    def flush(self) -> None:
        """Write every waiting outcome now, in one transaction."""
        outcomes, self._waiting = self._waiting, []
        if outcomes:
            self._write_now(outcomes)

    def _write_now(self, outcomes: Sequence[RowOutcome]) -> None:
        res = claims.record_outcomes(self.engine, self.run_id, outcomes)
        for row_id in res.lost:
            log.error("claim_lost", row_id=row_id, note="the row was taken by another run; outcome not written")
        lost = set(res.lost)
        done = failed = 0
        lines = []
        for o in outcomes:
            if o.row_id in lost:
                continue
            self._count(o)
            if o.status != RowStatus.PENDING or (self.dry_run and o.result and o.result.get("dry_run")):
                done += 1  # a dry run's row is done once its plan is recorded (it stays pending)
                failed += o.status == RowStatus.FAILED
            lines.append({
                "row_id": o.row_id, "status": o.status.value, "attempts": len(o.attempts),
                "error_kind": o.error_kind, "error_code": o.error_code, "http_status": o.http_status,
                "tracking_id": o.tracking_id, "error": o.error_message,
            })
        info_many(log, "row_outcome", lines)  # the group's canonical lines, rendered and written at once
        if self.progress:
            self.progress.add(done, failed)

    def _count(self, o: RowOutcome) -> None:
        c = self.counters
        if o.status == RowStatus.SUCCEEDED:
            c.succeeded += 1
        elif o.status == RowStatus.SKIPPED:
            c.skipped += 1
        elif o.status == RowStatus.FAILED:
            c.failed += 1
        elif self.dry_run and o.result and o.result.get("dry_run"):
            would = o.result.get("would")  # dry run: what would happen (the row stays pending)
            if would == "change":
                c.succeeded += 1
            elif would == "skip":
                c.skipped += 1
            else:
                c.failed += 1
        else:
            c.released += 1
        c.throttled += sum(1 for a in o.attempts if a.outcome == "throttled")
        c.retries += sum(1 for a in o.attempts[:-1] if a.outcome == "retry")
