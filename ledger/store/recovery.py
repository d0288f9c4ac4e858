"""SQL that puts rows back to ``pending``: dead runs' rows (the worker's reclaim, `ledger release`) and
finished rows (`ledger retry`).

Whether a run is dead is decided by the caller (``ledger.work.liveness.dead_reason``, the one rule),
passed in as ``is_dead(run) -> reason | None``: a run that may be alive is never stolen from. Rows
taken back get ``error_code='reclaimed'``: the next claim hands them out as ``recovered`` (their
write may have reached Webex: the executor re-checks before writing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from ledger.models import RETRYABLE_STATUSES, ErrorKind, RowStatus
from ledger.store import chains
from ledger.store.engine import utcnow
from ledger.store.runs import RunInfo, running_runs
from ledger.store.schema import ledger_rows, runs

RECLAIMED = "reclaimed"  # error_code of a pending row taken back from a dead run (it may have reached Webex)

log = structlog.get_logger("ledger.store.recovery")

IsDead = Callable[[RunInfo], "str | None"]


@dataclass(frozen=True)
class Reclaimed:
    run_ids: tuple[int, ...] = ()
    rows: int = 0


_INTERRUPT_RUN = sa.text(
    "UPDATE runs SET status = 'interrupted', finished_at = :now, exit_code = NULL, "
    "message = :message WHERE id = :run AND status = 'running'"
)
_RECLAIM_ROWS = sa.text(
    "UPDATE ledger SET status = 'pending', error_code = :code, error_kind = NULL, http_status = NULL, "
    "error_message = :message, updated_at = :now WHERE run_id = :run AND status = 'running'"
)
# rows left running by a run that already ended (a crash between its two writes) or by no run
_RECLAIM_ORPHANS = sa.text(
    "UPDATE ledger SET status = 'pending', error_code = :code, error_kind = NULL, http_status = NULL, "
    "error_message = :message, updated_at = :now WHERE status = 'running' AND (run_id IS NULL OR "
    "run_id NOT IN (SELECT id FROM runs WHERE status = 'running'))"
)


def _reclaim(conn: sa.Connection, is_dead: IsDead, by: str, now: str) -> Reclaimed:
    run_ids: list[int] = []
    rows = 0
    for info in running_runs(conn):
        reason = is_dead(info)
        if reason is None:
            continue
        message = f"{by}: run {info.id} (pid {info.pid} on {info.host}) {reason}"
        conn.execute(_INTERRUPT_RUN, {"now": now, "run": info.id, "message": f"process {reason}"})
        res = conn.execute(_RECLAIM_ROWS, {"now": now, "run": info.id, "code": RECLAIMED, "message": message})
        rows += res.rowcount
        run_ids.append(info.id)
    return Reclaimed(tuple(run_ids), rows)


def reclaim_dead_runs(engine: sa.Engine, is_dead: IsDead) -> Reclaimed:
    """Mark every dead ``running`` run interrupted and put its ``running`` rows back to pending.

    The worker's automatic reclaim before it claims anything. Runs in one write transaction, so two
    workers starting together reclaim each run once.
    """
    with engine.begin() as conn:
        return _reclaim(conn, is_dead, "reclaimed", utcnow())


def release_stale(engine: sa.Engine, is_dead: IsDead) -> Reclaimed:
    """`ledger release`: :func:`reclaim_dead_runs`, plus ``running`` rows whose run already ended (a
    crash between the two writes) or that name no run. Released rows keep their attempts count."""
    now = utcnow()
    with engine.begin() as conn:
        got = _reclaim(conn, is_dead, "released by `ledger release`", now)
        orphans = conn.execute(
            _RECLAIM_ORPHANS, {"now": now, "code": RECLAIMED, "message": "released by `ledger release`: its run has ended"}
        ).rowcount
    log.info("stale_rows_released", rows=got.rows + orphans, stale_runs=list(got.run_ids))
    return Reclaimed(got.run_ids, got.rows + orphans)




def retry_rows(
    engine: sa.Engine,
    *,
    statuses: Sequence[RowStatus] = (RowStatus.FAILED,),
    import_id: int | None = None,
    kinds: Sequence[ErrorKind] = (),
    import_ids: Sequence[int] = (),
) -> int:
    """Put rows in ``statuses`` (optionally of some imports / error kinds) back to ``pending``.

    Attempts are reset and error fields and result cleared (rows that failed ``transient`` or
    ``systemic`` keep ``error_code='reclaimed'``: the worker re-checks them before writing, as the
    failed attempt may have reached Webex); rows ``running`` are never touched
    (use :func:`release_stale`). Invalid rows are never retried (their data is wrong: fix the file
    and import it again). Rows blocked by the retried rows wait again (``pending``): they run by
    themselves once their prerequisite succeeds. Returns the number of rows changed.
    """
    wanted = [s.value for s in statuses if s in RETRYABLE_STATUSES]
    if not wanted:
        return 0
    cond = [ledger_rows.c.status.in_(wanted)]
    only = [*([] if import_id is None else [import_id]), *import_ids]
    if only:
        cond.append(ledger_rows.c.import_id.in_(only))
    if kinds:
        cond.append(ledger_rows.c.error_kind.in_([k.value for k in kinds]))
    stmt = (
        ledger_rows.update()
        .where(*cond)
        .values(
            status=RowStatus.PENDING.value,
            attempts=0,
            error_kind=None,
            # a transient/systemic failure may have reached Webex (timeout after the write): mark the
            # row like a reclaimed one so the worker re-checks before writing (`recovered`)
            error_code=sa.case(
                (ledger_rows.c.error_kind.in_((ErrorKind.TRANSIENT.value, ErrorKind.SYSTEMIC.value)), RECLAIMED),
                else_=None,
            ),
            http_status=None,
            error_message=None,
            tracking_id=None,
            result=None,
            started_at=None,
            finished_at=None,
            updated_at=utcnow(),
        )
    )
    with engine.begin() as conn:
        changed = conn.execute(stmt).rowcount
        unblocked = chains.unblock(conn)
    log.info(
        "rows_retried", rows=changed, statuses=wanted, imports=only, kinds=[k.value for k in kinds], unblocked=unblocked
    )
    return changed


__all__ = ["RECLAIMED", "Reclaimed", "reclaim_dead_runs", "release_stale", "retry_rows"]
