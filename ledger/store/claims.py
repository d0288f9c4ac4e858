"""SQL of `ledger work`'s rows: claiming batches, recording outcomes and their attempts, releasing claims.

The run's own row (heartbeats, dead-run reclaim, cooldowns) is ``ledger.store.runs``. One small
function per operation (STYLE §5.5). Every write runs in ``engine.begin()``, which takes the write
lock from its first statement (``BEGIN IMMEDIATE``, ``ledger.store.dialect``), so claims made by
several processes never overlap.

State machine of a ledger row as seen from here::

    pending --claim_batch--> running --record_outcomes--> succeeded | skipped | failed
                                     --record_outcomes(status=pending)--> pending   (released)
    running (of a dead run) --runs.reclaim_dead_runs--> pending (error_code 'reclaimed')

Every transition out of ``running`` is guarded by ``status='running' AND run_id=:run``; a row whose
guard does not match (its claim was lost, e.g. reclaimed by another run after this process was
suspended) is reported back, never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ledger.models import RowStatus
from ledger.store import chains, dialect
from ledger.store.engine import utcnow
from ledger.store.recovery import RECLAIMED
from ledger.store.schema import attempts


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedRow:
    """A row this run holds (status ``running``, ``run_id`` = this run)."""

    row_id: int
    import_id: int
    line_no: int
    action: str
    payload: Mapping[str, Any]
    prior_attempts: int  # attempts made by earlier runs
    recovered: bool  # an earlier execution may have reached Webex (re-check before writing)

    @classmethod
    def from_row(cls, row: Any) -> ClaimedRow:
        return cls(
            row_id=row.id,
            import_id=row.import_id,
            line_no=row.line_no,
            action=row.action,
            payload=json.loads(row.payload),
            prior_attempts=row.attempts,
            recovered=row.attempts > 0 or row.error_code == RECLAIMED,
        )


@dataclass(frozen=True)
class AttemptRecord:
    """One try of a row (an ``attempts`` row)."""

    attempt_no: int
    started_at: str
    finished_at: str
    outcome: str  # succeeded/skipped/failed/retry/throttled/released/dry_run
    http_status: int | None = None
    retry_after_s: float | None = None
    tracking_id: str | None = None
    error_kind: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class RowOutcome:
    """What the run learned about one claimed row; ``status`` PENDING releases the claim."""

    row_id: int
    status: RowStatus
    attempts: tuple[AttemptRecord, ...] = ()
    result: Mapping[str, Any] | None = None
    error_kind: str | None = None
    error_code: str | None = None
    http_status: int | None = None
    error_message: str | None = None
    tracking_id: str | None = None
    counts_attempts: bool = True  # False for dry runs and unstarted releases: attempts column unchanged


@dataclass(frozen=True)
class ClaimResult:
    rows: tuple[ClaimedRow, ...] = ()
    blocked: int = 0  # rows blocked now because a prerequisite row of the same entity failed


@dataclass(frozen=True)
class RecordResult:
    written: int = 0
    lost: tuple[int, ...] = field(default_factory=tuple)  # row ids whose claim was no longer ours


# --- claims --------------------------------------------------------------------------------------

def _filters(import_id: int | None, dry_run: bool) -> str:
    sql = ""
    if import_id is not None:
        sql += " AND l.import_id = :import_id"
    if dry_run:  # a dry run leaves rows pending: never hand the same row out twice in one run
        sql += " AND (l.run_id IS NULL OR l.run_id != :run)"
    return sql


def _claim_sql(import_id: int | None, dry_run: bool, deps: bool) -> sa.TextClause:
    # ORDER BY import_id, id walks the (status, import_id, id) index: the LIMIT stops the scan early
    wait = f"AND NOT {chains.WAITS} AND NOT {chains.BLOCKS} " if deps else ""
    return sa.text(
        "UPDATE ledger SET status = 'running', run_id = :run, started_at = :now, updated_at = :now "
        "WHERE id IN (SELECT l.id FROM ledger AS l "
        f"WHERE l.status = 'pending'{_filters(import_id, dry_run)} {wait}"
        "ORDER BY l.import_id, l.id LIMIT :n) "
        "RETURNING id, import_id, line_no, action, payload, attempts, error_code"
    )


# chains exist: an --after dependency, or a user's step besides a create step (it waits for the create)
_HAS_DEPS = sa.text(
    "SELECT EXISTS (SELECT 1 FROM import_deps) OR (EXISTS (SELECT 1 FROM imports WHERE action IN "
    "('user.create', 'user.scim_create')) AND EXISTS (SELECT 1 FROM imports WHERE action LIKE 'user.%' "
    "AND action NOT IN ('user.create', 'user.scim_create')))"
)


def claim_batch(
    engine: sa.Engine, run_id: int, n: int, *, import_id: int | None = None, dry_run: bool = False
) -> ClaimResult:
    """Claim up to ``n`` claimable pending rows for ``run_id`` in one statement (oldest first).

    A row is claimable when none of its prerequisite rows (``ledger.store.chains``: the same
    entity's rows of the imports it depends on, and a user's create row) is pending, running,
    failed, invalid or blocked. First, blocked rows whose blocker is gone go back to pending; when
    fewer than ``n`` rows are claimable, pending rows with a failing prerequisite become ``blocked``
    (naming its row, line and error): not failed, they come back by themselves.
    A dry run ignores the dependencies: it previews every row against Webex's current state.
    """
    params = {"run": run_id, "now": utcnow(), "n": n, "import_id": import_id}
    blocked = 0
    with engine.begin() as conn:
        # a dry run previews every row against Webex as it is now: prerequisites (which a dry run
        # leaves pending) neither hold rows back nor block them
        deps = not dry_run and bool(conn.execute(_HAS_DEPS).scalar())
        if deps:
            chains.unblock(conn)
        rows = conn.execute(_claim_sql(import_id, dry_run, deps), params).all()
        if deps and len(rows) < n:  # only when claimable rows run low: the scan is not cheap
            blocked = chains.block(conn)
    claimed = sorted((ClaimedRow.from_row(r) for r in rows), key=lambda c: c.row_id)
    return ClaimResult(tuple(claimed), blocked)


def pending_count(engine: sa.Engine, *, import_id: int | None = None) -> int:
    return status_counts(engine, ("pending",), import_id=import_id)["pending"]


def status_counts(engine: sa.Engine, statuses: Sequence[str], *, import_id: int | None = None) -> dict[str, int]:
    """How many rows (of ``import_id``, or all) are in each of ``statuses`` now, in one query."""
    sql = ("SELECT l.status, count(*) FROM ledger AS l WHERE l.status IN :statuses" + _filters(import_id, False)
           + " GROUP BY l.status")
    stmt = sa.text(sql).bindparams(sa.bindparam("statuses", expanding=True))
    with engine.connect() as conn:
        found = dict(conn.execute(stmt, {"import_id": import_id, "statuses": list(statuses)}).all())
    return {s: int(found.get(s, 0)) for s in statuses}


# --- outcomes ------------------------------------------------------------------------------------

_RECORD = sa.text(
    "UPDATE ledger SET status = :status, attempts = attempts + :n_attempts, result = :result, "
    "error_kind = :error_kind, error_code = :error_code, http_status = :http_status, "
    "error_message = :error_message, tracking_id = :tracking_id, finished_at = :finished_at, "
    "updated_at = :now WHERE id = :id AND status = 'running' AND run_id = :run"
)
# a release keeps the row's earlier result/error unless the run learned something new
_RELEASE = sa.text(
    "UPDATE ledger SET status = 'pending', attempts = attempts + :n_attempts, "
    "result = coalesce(:result, result), error_kind = coalesce(:error_kind, error_kind), "
    "error_code = coalesce(:error_code, error_code), http_status = coalesce(:http_status, http_status), "
    "error_message = coalesce(:error_message, error_message), "
    "tracking_id = coalesce(:tracking_id, tracking_id), updated_at = :now "
    "WHERE id = :id AND status = 'running' AND run_id = :run"
)


def _outcome_params(o: RowOutcome, now: str, result: str | None, run_id: int) -> dict[str, Any]:
    final = o.status != RowStatus.PENDING
    return {
        "run": run_id,
        "id": o.row_id,
        "status": o.status.value,
        "n_attempts": len(o.attempts) if o.counts_attempts else 0,
        "result": result,
        "error_kind": o.error_kind,
        "error_code": o.error_code,
        "http_status": o.http_status,
        "error_message": o.error_message,
        "tracking_id": o.tracking_id,
        "finished_at": now if final else None,
        "now": now,
    }


_JSON = json.JSONEncoder(default=str, ensure_ascii=False)  # json.dumps(..., default=str, ensure_ascii=False)

_OURS = sa.text(
    "SELECT id FROM ledger WHERE id IN :ids AND status = 'running' AND run_id = :run"
).bindparams(sa.bindparam("ids", expanding=True))


def record_outcomes(engine: sa.Engine, run_id: int, outcomes: Sequence[RowOutcome]) -> RecordResult:
    """Write each outcome (row status + its attempts rows) in one transaction, guarded by the claim.

    A row no longer ``running`` for ``run_id`` is not touched (nor are its attempts written); its id
    is returned in ``lost``. The guard is read once for the whole group (inside the write transaction,
    so nothing can change it before the updates), then each kind of update runs as one executemany.
    """
    if not outcomes:
        return RecordResult()
    now = utcnow()
    with dialect.sharing_fsync(engine) as conn:  # group commit: durable with the next claim's fsync
        ours = {r for (r,) in conn.execute(_OURS, {"ids": [o.row_id for o in outcomes], "run": run_id})}
        kept = [(o, None if o.result is None else _JSON.encode(o.result))
                for o in outcomes if o.row_id in ours]
        for stmt, group in ((_RECORD, [k for k in kept if k[0].status != RowStatus.PENDING]),
                            (_RELEASE, [k for k in kept if k[0].status == RowStatus.PENDING])):
            dialect.execute_many(conn, stmt, [_outcome_params(o, now, result, run_id) for o, result in group])
        dialect.insert_many(conn, attempts, _ATTEMPT_FIELDS,
                            [a for o, result in kept for a in _attempt_rows(o, run_id, result)])
    lost = tuple(o.row_id for o in outcomes if o.row_id not in ours)
    return RecordResult(len(outcomes) - len(lost), lost)


#: an ``attempts`` row's columns, in the order :func:`_attempt_rows` gives them
_ATTEMPT_FIELDS = ("row_id", "run_id", *AttemptRecord.__dataclass_fields__, "result")


def _attempt_rows(o: RowOutcome, run_id: int, result: str | None) -> list[tuple[Any, ...]]:
    """The outcome's attempts rows (:data:`_ATTEMPT_FIELDS`); the last one keeps the execution's result
    (``result``: its JSON; the row's history: a later re-check overwrites ``ledger.result``, never this)."""
    rows = [(o.row_id, run_id, *a.__dict__.values(), None) for a in o.attempts]
    if rows and result is not None:
        rows[-1] = (*rows[-1][:-1], result)
    return rows


def release_claims(engine: sa.Engine, run_id: int, row_ids: Iterable[int]) -> RecordResult:
    """Put claimed-but-unstarted rows back to pending (nothing reached Webex for them)."""
    outcomes = [RowOutcome(r, RowStatus.PENDING, counts_attempts=False) for r in row_ids]
    return record_outcomes(engine, run_id, outcomes)


def release_all_running(engine: sa.Engine, run_id: int) -> int:
    """Safety net at the end of a run: every row still ``running`` under ``run_id`` → pending."""
    stmt = sa.text(
        "UPDATE ledger SET status = 'pending', updated_at = :now WHERE run_id = :run AND status = 'running'"
    )
    with engine.begin() as conn:
        return conn.execute(stmt, {"run": run_id, "now": utcnow()}).rowcount


__all__ = [
    "AttemptRecord", "ClaimResult", "ClaimedRow", "RecordResult", "RowOutcome", "claim_batch", "pending_count", "status_counts",
    "record_outcomes", "release_all_running", "release_claims",
]
