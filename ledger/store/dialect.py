"""Everything SQLite-specific about the ledger, in one place.

The rest of ``ledger.store`` speaks SQLAlchemy Core and plain SQL that SQLite and PostgreSQL share
(``UPDATE … RETURNING``, ``INSERT … ON CONFLICT``, ``IS NOT DISTINCT FROM``). What only SQLite needs
is here:

- the connection URL, including the read-only ``file:…?mode=ro&uri=true`` form;
- the PRAGMAs set on every connection (``busy_timeout``, WAL, ``synchronous=FULL``, foreign keys); the
  worker's outcomes share the next transaction's fsync (``sharing_fsync``: ``synchronous=NORMAL``);
- write transactions: the pysqlite driver is put in autocommit mode and every ``engine.begin()``
  emits ``BEGIN IMMEDIATE`` (SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL"
  recipe), so a transaction holds the write lock from its first statement and two writers never
  deadlock on a lock upgrade; read-only engines, and :func:`reading` on any engine, emit a plain
  ``BEGIN`` (a WAL snapshot that holds no lock against writers);
- SQLite's error texts an operator can act on (locked, disk full, read-only file);
- ``sqlite_master`` (is this file a ledger?) and the ``PRAGMA foreign_keys`` dance around migrations;
- the bulk insert (and the worker's group of outcome updates) as a statement compiled once and run with
  ``exec_driver_sql`` and positional tuples (SQLAlchemy's per-row parameter processing would be most of
  the import's cost, and a third of the writer's);
- the per-connection ``TEMP`` table of an import's business keys (duplicate detection with flat
  memory at any file size).

What a PostgreSQL ledger would need instead (one new module beside this one, plus the claim):

- URL ``postgresql+psycopg://…``; no PRAGMAs; ``isolation_level="READ COMMITTED"``; read-only
  engines via ``SET TRANSACTION READ ONLY``; ``information_schema.tables`` instead of ``sqlite_master``;
  no foreign-key toggling around migrations (alembic ALTERs in place, no batch copy).
- The claim (``ledger.store.claims.claim_batch``): ``BEGIN IMMEDIATE`` serialises claimers on SQLite;
  PostgreSQL needs the sub-select to lock what it picks, ``… ORDER BY l.import_id, l.id LIMIT :n
  FOR UPDATE SKIP LOCKED``, so concurrent workers take disjoint rows without waiting on each other.
  The prerequisite-failure ``UPDATE ledger AS l`` and the outcome guards work as they are.
- The dead-run reclaim (``ledger.store.runs.reclaim_dead_runs``) reads the running runs and updates
  them in one transaction; on PostgreSQL select them ``FOR UPDATE`` so two starting workers reclaim
  each run once (SQLite gets this from the write lock).
- NULLs in unique keys: the ``imports`` lookup compares ``global_sha256``/``profile_sha256`` with
  ``IS NOT DISTINCT FROM`` (both dialects), but a UNIQUE constraint over nullable columns treats NULLs
  as distinct on both; PostgreSQL 15+ can say ``UNIQUE NULLS NOT DISTINCT`` where that is wanted.
- The ``entities`` view (``ledger.store.schema``): ``instr``/``group_concat`` become ``strpos``/``string_agg``,
  ``max(status IN (…))`` a ``bool_or``.
- JSON: ``json_extract(payload, '$.key')`` (``ledger.store.chains``, ``ledger.store.queries``) becomes
  ``payload::jsonb ->> 'key'`` (or JSONB columns); the ``UPDATE ledger AS l`` aliases work as they are.
- The key table: ``CREATE TEMPORARY TABLE … ON COMMIT DROP`` (``sqlite_with_rowid`` is ignored), and
  ``executemany`` through psycopg's ``executemany``/``COPY`` rather than positional ``?`` tuples.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite

from ledger.errors import LedgerError

BUSY_TIMEOUT_MS = 30_000


# --- engines ---------------------------------------------------------------------------------------


def url(path: Path, *, readonly: bool) -> str:
    """The SQLAlchemy URL of the ledger file (``mode=ro`` URI for a read-only engine)."""
    if readonly:
        return f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
    return f"sqlite:///{path}"


def create_engine(path: Path, *, readonly: bool) -> sa.Engine:
    """An engine on ``path`` with the PRAGMAs, the transaction mode and the operator errors."""
    engine = sa.create_engine(url(path, readonly=readonly), connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # autocommit: we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not readonly:
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()


    @event.listens_for(engine, "handle_error")
    def _operator_errors(ctx: sa.engine.ExceptionContext) -> None:
        message = operator_message(path, ctx.original_exception, readonly=readonly)
        if message is not None:
            raise LedgerError(message) from ctx.original_exception

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        snapshot = readonly or options.get(_READ_ONLY, False)
        if not snapshot:  # outside the transaction: SQLite refuses to change it inside one
            conn.exec_driver_sql(f"PRAGMA synchronous = {'NORMAL' if options.get(_SHARED_SYNC) else 'FULL'}")
        conn.exec_driver_sql("BEGIN" if snapshot else "BEGIN IMMEDIATE")

    return engine


_READ_ONLY = "ledger_read_only"
_SHARED_SYNC = "ledger_shared_sync"


@contextmanager
def sharing_fsync(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction committed without its own fsync (``synchronous = NORMAL`` in WAL mode): it
    reaches the disk with the next transaction that pays one (every other write is ``FULL``: the next
    claim, the run's heartbeat, its end) — a group commit. After a power loss it may be gone, never
    half-written. For the worker's outcomes only: an outcome lost that way leaves its row ``running``
    under a dead run, which the next run reclaims and re-checks before any write."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_SHARED_SYNC: True})
        with conn.begin():
            yield conn


@contextmanager
def reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read transaction on any ledger engine: a plain (deferred) ``BEGIN``, a consistent WAL snapshot
    that never takes, nor waits for, the write lock, even on a write engine."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_READ_ONLY: True})
        with conn.begin():
            yield conn


def _operator_errors() -> tuple[tuple[str, str], ...]:
    return (
        ("database is locked", "the ledger is busy: another ledger command held it for more than "
         f"{BUSY_TIMEOUT_MS // 1000} s; try again"),
        ("database or disk is full", "the disk holding the ledger is full; free space and run the command again"),
        ("attempt to write a readonly database", "the ledger file is read-only for this user"),
    )


def operator_message(path: Path, exc: BaseException, *, readonly: bool) -> str | None:
    """Known SQLite conditions an operator can act on, as one line (others stay tracebacks: bugs).
    On a read-only engine a write attempt is a bug, not a file permission: left as it is."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        for needle, message in _operator_errors():
            if needle in text and not (readonly and "readonly" in needle):
                return f"{path}: {message}"
    return None


#: errors meaning "this file is not a usable database", beside SQLAlchemy's DBAPIError
DATABASE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,)


# --- schema and migrations -------------------------------------------------------------------------


def peek(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    """Run one read outside any transaction (the driver is in autocommit mode): no lock is taken,
    so opening a ledger never waits for another process's write transaction."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        rows = [tuple(r) for r in cur.execute(sql)]
        cur.close()
    finally:
        raw.close()
    return rows


def table_names(engine: sa.Engine) -> set[str]:
    """The user tables of the file (``sqlite_sequence``, SQLite's own, left out)."""
    return {r[0] for r in peek(engine, "SELECT name FROM sqlite_master WHERE type = 'table'")} - {"sqlite_sequence"}


@contextmanager
def foreign_keys_off(conn: sa.Connection) -> Iterator[None]:
    """Foreign keys off around a migration (batch mode copies, drops and renames tables); checked
    before the caller's transaction commits via :func:`broken_foreign_keys`. The PRAGMA only works
    outside a transaction (SQLite's documented ALTER procedure)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def broken_foreign_keys(conn: sa.Connection) -> int:
    return len(conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall())


# --- bulk inserts with positional tuples -----------------------------------------------------------


@functools.lru_cache(maxsize=8)  # compiled once per (table, fields, dialect), not once per chunk
def _positional_insert(table: sa.Table, fields: tuple[str, ...], dialect: sa.Dialect) -> str:
    stmt = table.insert().values({f: sa.bindparam(f) for f in fields})
    compiled = stmt.compile(dialect=dialect)
    assert compiled.positiontup == list(fields), compiled.positiontup
    return str(compiled)


def insert_many(conn: sa.Connection, table: sa.Table, fields: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> None:
    """``executemany`` of ``rows`` (tuples in ``fields`` order) straight to the driver."""
    if rows:
        conn.exec_driver_sql(_positional_insert(table, fields, conn.dialect), list(rows))


@functools.lru_cache(maxsize=16)
def _positional_text(stmt: sa.TextClause, dialect: sa.Dialect) -> tuple[str, tuple[str, ...]]:
    compiled = stmt.compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ())


def execute_many(conn: sa.Connection, stmt: sa.TextClause, rows: Sequence[Mapping[str, Any]]) -> None:
    """``executemany`` of a text statement (``:name`` parameters, given by name in ``rows``) straight to
    the driver, as positional tuples: the worker's group of outcomes without SQLAlchemy's per-row work."""
    if rows:
        sql, names = _positional_text(stmt, conn.dialect)
        conn.exec_driver_sql(sql, [tuple([r[n] for n in names]) for r in rows])


# --- an import's business keys (a TEMP table: memory stays flat at any file size) ----------------

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


def create_key_table(conn: sa.Connection) -> None:
    """An empty key table (in the caller's transaction)."""
    _import_keys.drop(conn, checkfirst=True)
    _import_keys.create(conn)


def drop_key_table(conn: sa.Connection) -> None:
    _import_keys.drop(conn)


@functools.lru_cache(maxsize=4)
def _key_insert_sql(dialect: sa.Dialect) -> str:
    stmt = sqlite.insert(_import_keys).values(key=sa.bindparam("key"), line_no=sa.bindparam("line_no"))
    compiled = stmt.on_conflict_do_nothing().compile(dialect=dialect)
    assert compiled.positiontup == ["key", "line_no"], compiled.positiontup
    return str(compiled)


def add_keys(conn: sa.Connection, keys: Sequence[tuple[str, int]]) -> int:
    """Store ``(key, line_no)`` pairs whose key is new; returns how many were new."""
    return int(conn.exec_driver_sql(_key_insert_sql(conn.dialect), list(keys)).rowcount)


def first_lines(conn: sa.Connection, keys: Sequence[str]) -> dict[str, int]:
    """The first line stored for each of ``keys``."""
    first: dict[str, int] = {}
    wanted = list(dict.fromkeys(keys))
    for start in range(0, len(wanted), _MAX_IN):
        stmt = sa.select(_import_keys.c.key, _import_keys.c.line_no).where(
            _import_keys.c.key.in_(wanted[start : start + _MAX_IN])
        )
        first.update((k, n) for k, n in conn.execute(stmt))
    return first


__all__ = [
    "BUSY_TIMEOUT_MS", "DATABASE_ERRORS", "add_keys", "broken_foreign_keys", "create_engine", "create_key_table",
    "drop_key_table", "first_lines", "reading", "foreign_keys_off", "insert_many", "operator_message", "peek", "table_names", "url",
]
