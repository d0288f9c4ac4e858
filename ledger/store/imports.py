"""SQL for imports, row insertion, retry and stale-claim release (SQLAlchemy Core, one function each).

Claims, outcomes and cooldowns live in ``ledger.store.claims``; read-only summaries for
``report``/``status`` in ``ledger.store.queries``. Functions taking a ``Connection`` run inside the
caller's transaction; functions taking an ``Engine`` open their own (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import sqlite

from ledger.store.engine import TIMESTAMP_FORMAT, utcnow
from ledger.store.schema import import_deps, imports, ledger, runs
from ledger.models import ErrorKind, RowStatus, RunStatus
from ledger.store.claims import RECLAIMED  # error_code of a pending row that may already have reached Webex

INSERT_CHUNK = 5000

log = structlog.get_logger("ledger.store.imports")


@dataclass(frozen=True)
class ImportRecord:
    id: int
    path: str
    sha256: str
    action: str
    global_path: str | None
    rows_total: int
    rows_valid: int
    rows_invalid: int
    created_at: str

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> ImportRecord:
        m = row._mapping
        return cls(**{f: m[f] for f in cls.__dataclass_fields__})


# --- imports ------------------------------------------------------------------------------------


def find_import(
    conn: sa.Connection, *, sha256: str, action: str, global_sha256: str | None, profile_sha256: str | None
) -> ImportRecord | None:
    """The earlier import of the same file, action, global.csv and profile (NULLs compared with IS)."""
    row = conn.execute(
        sa.select(imports).where(
            imports.c.sha256 == sha256,
            imports.c.action == action,
            imports.c.global_sha256.is_not_distinct_from(global_sha256),
            imports.c.profile_sha256.is_not_distinct_from(profile_sha256),
        )
    ).first()
    return None if row is None else ImportRecord.from_row(row)


def create_import(
    conn: sa.Connection,
    *,
    path: str,
    sha256: str,
    action: str,
    global_path: str | None,
    global_sha256: str | None,
    profile_sha256: str | None,
) -> int:
    return int(
        conn.execute(
            imports.insert().values(
                path=path,
                sha256=sha256,
                action=action,
                global_path=global_path,
                global_sha256=global_sha256,
                profile_sha256=profile_sha256,
                created_at=utcnow(),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )


def finish_import(conn: sa.Connection, import_id: int, *, total: int, valid: int, invalid: int) -> None:
    conn.execute(
        imports.update()
        .where(imports.c.id == import_id)
        .values(rows_total=total, rows_valid=valid, rows_invalid=invalid)
    )


def missing_imports(conn: sa.Connection, ids: Iterable[int]) -> list[int]:
    wanted = set(ids)
    found = set(conn.scalars(sa.select(imports.c.id).where(imports.c.id.in_(wanted))))
    return sorted(wanted - found)


def add_import_deps(conn: sa.Connection, import_id: int, depends_on: Iterable[int]) -> None:
    rows = [{"import_id": import_id, "depends_on_import_id": d} for d in dict.fromkeys(depends_on)]
    if rows:
        conn.execute(import_deps.insert(), rows)


ROW_FIELDS = ("import_id", "line_no", "action", "status", "error_kind", "error_message", "business_key",
              "location_key", "payload", "created_at", "updated_at")


def insert_rows(conn: sa.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Bulk-insert ledger rows, given as tuples in :data:`ROW_FIELDS` order, with executemany.

    The statement is compiled once from the Core table; the tuples go to the driver as they are
    (SQLAlchemy's per-row parameter processing would be most of the cost at 21,000 rows).
    """
    sql = _insert_sql(conn.dialect)
    for start in range(0, len(rows), INSERT_CHUNK):
        conn.exec_driver_sql(sql, list(rows[start : start + INSERT_CHUNK]))


@functools.lru_cache(maxsize=4)  # compiled once per dialect (engine), not once per chunk
def _insert_sql(dialect: sa.Dialect) -> str:
    stmt = ledger.insert().values({f: sa.bindparam(f) for f in ROW_FIELDS})
    compiled = stmt.compile(dialect=dialect)
    assert compiled.positiontup == list(ROW_FIELDS), compiled.positiontup
    return str(compiled)


# --- duplicate business keys of one import (a TEMP table: memory stays flat at any file size) ------

#: first line of each business key seen so far in the import being loaded; per connection, never in
#: the ledger file (temp_store: SQLite's temporary file, paged through a bounded cache)
_import_keys = sa.Table(
    "import_keys",
    sa.MetaData(),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("line_no", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
    sqlite_with_rowid=False,
)


_MAX_IN = 5000  # values in one IN (...): far below SQLite's 32,766 bound parameters


def start_key_check(conn: sa.Connection) -> None:
    """An empty key table for the import about to be loaded (in the caller's transaction)."""
    _import_keys.drop(conn, checkfirst=True)
    _import_keys.create(conn)


def end_key_check(conn: sa.Connection) -> None:
    _import_keys.drop(conn)


def earlier_lines(conn: sa.Connection, keys: Sequence[tuple[str, int]]) -> dict[int, int]:
    """Record ``(key, line_no)`` pairs (in line order) and return ``{line_no: earlier line_no}``
    for each line whose key was already seen on an earlier line of this import (this call or an
    earlier one since :func:`start_key_check`). Keys are compared exactly."""
    if not keys:
        return {}
    added = conn.exec_driver_sql(_key_insert_sql(conn.dialect), list(keys)).rowcount
    if added == len(keys):  # the common case: no key of these lines was seen before
        return {}
    first: dict[str, int] = {}
    wanted = list(dict.fromkeys(k for k, _ in keys))
    for start in range(0, len(wanted), _MAX_IN):
        stmt = sa.select(_import_keys.c.key, _import_keys.c.line_no).where(
            _import_keys.c.key.in_(wanted[start : start + _MAX_IN])
        )
        first.update((k, n) for k, n in conn.execute(stmt))
    return {line: first[key] for key, line in keys if first[key] != line}


@functools.lru_cache(maxsize=4)
def _key_insert_sql(dialect: sa.Dialect) -> str:
    stmt = sqlite.insert(_import_keys).values(key=sa.bindparam("key"), line_no=sa.bindparam("line_no"))
    compiled = stmt.on_conflict_do_nothing().compile(dialect=dialect)
    assert compiled.positiontup == ["key", "line_no"], compiled.positiontup
    return str(compiled)


# --- retry / release ------------------------------------------------------------------------------

RETRYABLE_STATUSES = (RowStatus.FAILED, RowStatus.INVALID, RowStatus.SKIPPED, RowStatus.SUCCEEDED)


def retry_rows(
    engine: sa.Engine,
    *,
    statuses: Sequence[RowStatus] = (RowStatus.FAILED,),
    import_id: int | None = None,
    kinds: Sequence[ErrorKind] = (),
) -> int:
    """Put rows in ``statuses`` (optionally of one import / error kinds) back to ``pending``.

    Attempts are reset and error fields and result cleared (rows that failed ``transient`` or
    ``systemic`` keep ``error_code='reclaimed'``: the worker re-checks them before writing, as the
    failed attempt may have reached Webex); rows ``running`` are never touched
    (use :func:`release_stale`). Invalid rows are never retried (their data is wrong: fix the file
    and import it again). Returns the number of rows changed.
    """
    wanted = [s.value for s in statuses if s in RETRYABLE_STATUSES and s is not RowStatus.INVALID]
    if not wanted:
        return 0
    cond = [ledger.c.status.in_(wanted)]
    if import_id is not None:
        cond.append(ledger.c.import_id == import_id)
    if kinds:
        cond.append(ledger.c.error_kind.in_([k.value for k in kinds]))
    stmt = (
        ledger.update()
        .where(*cond)
        .values(
            status=RowStatus.PENDING.value,
            attempts=0,
            error_kind=None,
            # a transient/systemic failure may have reached Webex (timeout after the write): mark the
            # row like a reclaimed one so the worker re-checks before writing (`recovered`)
            error_code=sa.case(
                (ledger.c.error_kind.in_((ErrorKind.TRANSIENT.value, ErrorKind.SYSTEMIC.value)), RECLAIMED),
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
    log.info("rows_retried", rows=changed, statuses=wanted, import_id=import_id, kinds=[k.value for k in kinds])
    return changed


def release_stale(engine: sa.Engine, older_than_s: float, *, now: float | None = None) -> int:
    """Rows left ``running`` by runs whose heartbeat is older than ``older_than_s`` → ``pending``.

    Also released: ``running`` rows whose run already ended (crash between the two writes) or that
    name no run. Stale runs are marked ``interrupted``. Released rows keep their attempts count and
    ``run_id`` and get ``error_code='reclaimed'`` like the worker's automatic reclaim, so the next
    claim hands them out as ``recovered`` (the write may have reached Webex: re-check first).
    Returns the number of rows released.
    """
    ref = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    cutoff = (ref - timedelta(seconds=older_than_s)).strftime(TIMESTAMP_FORMAT)
    heartbeat = sa.func.coalesce(runs.c.heartbeat_at, runs.c.started_at)
    stale = sa.select(runs.c.id).where(runs.c.status == RunStatus.RUNNING.value, heartbeat < cutoff)
    live = sa.select(runs.c.id).where(runs.c.status == RunStatus.RUNNING.value)
    stamp = utcnow()
    reason = f"released by `ledger release` (no heartbeat for {older_than_s:g}s)"
    with engine.begin() as conn:
        stale_ids = list(conn.scalars(stale))
        released = conn.execute(
            ledger.update()
            .where(
                ledger.c.status == RowStatus.RUNNING.value,
                sa.or_(
                    ledger.c.run_id.is_(None),
                    ledger.c.run_id.in_(stale_ids),
                    ledger.c.run_id.not_in(live),
                ),
            )
            .values(
                status=RowStatus.PENDING.value,
                error_code=RECLAIMED,  # the worker hands such rows out as `recovered` (re-check first)
                error_kind=None,
                http_status=None,
                error_message=reason,
                updated_at=stamp,
            )
        ).rowcount
        if stale_ids:
            conn.execute(
                runs.update()
                .where(runs.c.id.in_(stale_ids), runs.c.status == RunStatus.RUNNING.value)
                .values(
                    status=RunStatus.INTERRUPTED.value,
                    finished_at=stamp,
                    message=reason,
                )
            )
    log.info("stale_rows_released", rows=released, stale_runs=stale_ids, older_than_s=older_than_s)
    return released
