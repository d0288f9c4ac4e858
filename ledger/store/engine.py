"""Opening the ledger file: permissions, PRAGMAs, write-locking transactions, automatic migration.

Every command goes through :func:`open_ledger`. The common case (a ledger already at the head
revision) costs one ``SELECT`` and never imports alembic, so ``ledger import``/``report``/``status``
start fast. ``alembic`` runs only when the file is new or older than the code.

Transactions: every ``engine.begin()`` of a write engine takes the write lock from its first
statement; read-only engines see a consistent snapshot and hold no lock against writers. How that
is done on SQLite (``BEGIN IMMEDIATE``, PRAGMAs, the read-only URI) is ``ledger.store.dialect``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ledger.errors import SchemaError
from ledger.store import dialect

if TYPE_CHECKING:
    from alembic.config import Config

#: Revisions of ``migrations/versions`` in order; the last is the head. Keep in sync with the
#: migrations (``tests/test_migrations.py`` checks it), so the fast path needs no alembic import.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006")
HEAD_REVISION = KNOWN_REVISIONS[-1]

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


_second: tuple[int, str] = (-1, "")  # the last whole second utcnow formatted, and its text


def utcnow() -> str:
    """Now as a timestamp column's text (:data:`TIMESTAMP_FORMAT`); the seconds' text is formatted once
    per second (the worker stamps every attempt: ``datetime.strftime`` was most of its cost)."""
    global _second
    now = time.time()
    whole = int(now)
    second, text = _second
    if whole != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)
    return f"{text}.{int((now - whole) * 1e6):06d}Z"


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
    """An engine on ``path`` with the ledger's PRAGMAs and transaction mode (``ledger.store.dialect``);
    no migration. Used by :func:`open_ledger` and by ``migrations/env.py`` when alembic is run by hand.
    """
    path = Path(path)
    if not readonly:
        create_file(path)
    return dialect.create_engine(path, readonly=readonly)


def current_revision(engine: sa.Engine) -> str | None:
    """The ``alembic_version`` of the file; None for an empty file. Raises SchemaError on a non-ledger."""
    tables = dialect.table_names(engine)
    if "alembic_version" not in tables:
        if tables:
            raise SchemaError("the file is an SQLite database but not a ledger (no alembic_version table)")
        return None
    rows = dialect.peek(engine, "SELECT version_num FROM alembic_version")
    return str(rows[0][0]) if rows else None


def _alembic_config() -> Config:
    from alembic.config import Config

    location = migrations_dir()
    if not (location / "env.py").is_file():
        raise SchemaError(
            f"the schema migrations are not installed ({location}); reinstall ledger "
            "(`pip install .` or `make test` in its repository)"
        )
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    return cfg


def create(engine: sa.Engine) -> None:
    """A new (empty) ledger file: the head schema straight from ``ledger.store.schema`` (tables, indexes,
    views) and stamped at head, in one transaction — alembic's cookbook recipe "Building an up to date
    database from scratch"; the migrations are for files an older ledger wrote. ``tests/test_migrations.py``
    keeps both paths equal. (A new ledger skips running every migration: ~60 ms off the first import.)"""
    from alembic import command

    from ledger.store import schema

    cfg = _alembic_config()
    with engine.connect() as conn:
        with conn.begin():  # write-locking: concurrent first opens wait here
            raced = sa.inspect(conn).has_table("alembic_version")  # another process created it meanwhile
            if not raced:
                schema.metadata.create_all(conn)
                for view in schema.VIEWS.values():
                    conn.execute(sa.text(view))
                cfg.attributes["connection"] = conn
                command.stamp(cfg, "head")
    if raced:
        migrate(engine)  # at head already: nothing to do; else what that process left


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Run the alembic migrations on ``engine``'s file, in one write-locking transaction."""
    from alembic import command

    cfg = _alembic_config()
    with engine.connect() as conn, dialect.foreign_keys_off(conn):
        with conn.begin():
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            broken = dialect.broken_foreign_keys(conn)
            if broken:
                raise SchemaError(f"migration left {broken} broken foreign key(s); nothing was changed")


def open_ledger(path: Path | str, *, readonly: bool = False) -> sa.Engine:
    """Open (creating and migrating as needed) the ledger at ``path``.

    - Missing file: created 0600 with the head schema (:func:`create`; ``readonly=True``: SchemaError instead).
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
    except (sa.exc.DBAPIError, *dialect.DATABASE_ERRORS) as exc:
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
    elif revision is None:
        create(engine)
    else:
        migrate(engine)
    return engine


@contextmanager
def opened(path: Path | str, *, readonly: bool = False) -> Iterator[sa.Engine]:
    """:func:`open_ledger` as a context manager: the engine is disposed on exit (the CLI registers it
    with ``ctx.with_resource``)."""
    engine = open_ledger(path, readonly=readonly)
    try:
        yield engine
    finally:
        engine.dispose()


__all__ = [
    "HEAD_REVISION", "KNOWN_REVISIONS", "TIMESTAMP_FORMAT", "make_engine", "migrate", "migrations_dir", "open_ledger", "opened",
    "parse_utc",
    "utcnow",
]
