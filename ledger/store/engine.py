"""Opening the ledger file: permissions, PRAGMAs, write-locking transactions, automatic migration.

Every command goes through :func:`open_ledger`. The common case (a ledger already at the head
revision) costs one ``SELECT`` and never imports alembic, so ``ledger import``/``report``/``status``
start fast. ``alembic`` runs only when the file is new or older than the code.

Transactions: the pysqlite driver is put in autocommit mode at connect time and every
``engine.begin()`` emits ``BEGIN IMMEDIATE`` (SQLAlchemy's "Serializable isolation / Savepoints /
Transactional DDL" recipe), so a transaction holds SQLite's write lock from its first statement and
two writers never deadlock on a lock upgrade. Read-only engines emit a plain ``BEGIN`` (a consistent
WAL snapshot, no lock held against writers).
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event

from ledger.errors import LedgerError, SchemaError

#: Revisions of ``migrations/versions`` in order; the last is the head. Keep in sync with the
#: migrations (``tests/test_migrations.py`` checks it), so the fast path needs no alembic import.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002")
HEAD_REVISION = KNOWN_REVISIONS[-1]

BUSY_TIMEOUT_MS = 30_000
#: the repository's top-level ``migrations/``, next to the ``ledger`` package (a source checkout)
_REPO_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrations_dir() -> Path:
    """Where alembic's scripts are: the ``ledger._migrations`` package when installed (pyproject maps
    the repository's ``migrations/`` to it: in a wheel it is ``site-packages/ledger/_migrations``, in an
    editable install the repository's directory), else the checkout's ``migrations/`` (run from the
    source tree, or an editable install made before the mapping existed)."""
    spec = importlib.util.find_spec("ledger._migrations")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / "env.py").is_file():
                return Path(location)
    return _REPO_MIGRATIONS


#: the format of every timestamp column: ISO-8601 UTC text with microseconds and ``Z``
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> str:
    """Now as a timestamp column's text (:data:`TIMESTAMP_FORMAT`)."""
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)


def parse_utc(text: str) -> datetime:
    """A timestamp column's text (:func:`utcnow`) as an aware UTC datetime; ValueError otherwise."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def create_file(path: Path) -> None:
    """Create an empty ledger file readable by its owner only (0600), before SQLite touches it.

    SQLite gives the ``-wal``/``-shm`` files the permissions of the main file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def make_engine(path: Path | str, *, readonly: bool = False) -> sa.Engine:
    """An engine on ``path`` with the ledger's PRAGMAs and transaction mode; no migration.

    Used by :func:`open_ledger` and by ``migrations/env.py`` when alembic is run by hand.
    """
    path = Path(path)
    if readonly:
        url = f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
    else:
        create_file(path)
        url = f"sqlite:///{path}"
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

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

    begin_sql = "BEGIN" if readonly else "BEGIN IMMEDIATE"

    @event.listens_for(engine, "handle_error")
    def _operator_errors(ctx: sa.engine.ExceptionContext) -> None:
        message = _operator_message(path, ctx.original_exception, readonly=readonly)
        if message is not None:
            raise LedgerError(message) from ctx.original_exception

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


_OPERATOR_ERRORS = (
    ("database is locked", "the ledger is busy: another ledger command held it for more than "
     f"{BUSY_TIMEOUT_MS // 1000} s; try again"),
    ("database or disk is full", "the disk holding the ledger is full; free space and run the command again"),
    ("attempt to write a readonly database", "the ledger file is read-only for this user"),
)


def _operator_message(path: Path, exc: BaseException, *, readonly: bool) -> str | None:
    """Known SQLite conditions an operator can act on, as one line (others stay tracebacks: bugs).
    On a read-only engine a write attempt is a bug, not a file permission: left as it is."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        for needle, message in _OPERATOR_ERRORS:
            if needle in text and not (readonly and "readonly" in needle):
                return f"{path}: {message}"
    return None


def current_revision(engine: sa.Engine) -> str | None:
    """The ``alembic_version`` of the file; None for an empty file. Raises SchemaError on a non-ledger."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        tables = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" not in tables:
            if tables - {"sqlite_sequence"}:
                raise SchemaError("the file is an SQLite database but not a ledger (no alembic_version table)")
            return None
        row = cur.execute("SELECT version_num FROM alembic_version").fetchone()
        cur.close()
        return None if row is None else str(row[0])
    finally:
        raw.close()


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Run the alembic migrations on ``engine``'s file, in one write-locking transaction."""
    from alembic import command
    from alembic.config import Config

    location = migrations_dir()
    if not (location / "env.py").is_file():
        raise SchemaError(
            f"the schema migrations are not installed ({location}); reinstall ledger "
            "(`pip install .` or `make test` in its repository)"
        )
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    with engine.connect() as conn:
        # batch mode rebuilds tables (copy, drop, rename): foreign keys must be off meanwhile, and
        # that PRAGMA only works outside a transaction (SQLite's documented ALTER procedure).
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise SchemaError(f"migration left {len(broken)} broken foreign key(s); nothing was changed")
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


def open_ledger(path: Path | str, *, readonly: bool = False) -> sa.Engine:
    """Open (creating and migrating as needed) the ledger at ``path``.

    - Missing file: created 0600 and migrated to head (``readonly=True``: SchemaError instead).
    - At head: nothing else happens (alembic is not imported).
    - Older known revision: upgraded (also for ``readonly``, through a short write connection).
    - Unknown revision (a newer ledger wrote it) or not a ledger at all: SchemaError.
    """
    path = Path(path)
    if readonly and not path.exists():
        raise SchemaError(f"{path}: no ledger here yet; run `ledger import` first")
    engine = make_engine(path, readonly=readonly)
    try:
        revision = current_revision(engine)
    except SchemaError as exc:
        engine.dispose()
        raise SchemaError(f"{path}: {exc.message}") from None
    except (sa.exc.DBAPIError, sqlite3.DatabaseError) as exc:
        engine.dispose()
        reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        raise SchemaError(f"{path}: not a usable SQLite ledger ({reason})") from None
    if revision == HEAD_REVISION:
        return engine
    if revision is not None and revision not in KNOWN_REVISIONS:
        engine.dispose()
        raise SchemaError(
            f"{path}: written by a newer ledger (schema revision {revision!r}, this ledger knows up to "
            f"{HEAD_REVISION!r}); upgrade ledger"
        )
    if readonly:
        if revision is None:
            engine.dispose()
            raise SchemaError(f"{path}: empty file, no ledger here yet; run `ledger import` first")
        writer = make_engine(path)
        try:
            migrate(writer)
        finally:
            writer.dispose()
    else:
        migrate(engine)
    return engine


__all__ = [
    "HEAD_REVISION", "KNOWN_REVISIONS", "TIMESTAMP_FORMAT", "make_engine", "migrate", "migrations_dir", "open_ledger",
    "parse_utc",
    "utcnow",
]
