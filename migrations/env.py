"""alembic environment for the ledger.

Two ways in:
- from code (``ledger.store.engine.migrate``): the caller's open connection arrives in
  ``config.attributes["connection"]`` inside its ``BEGIN IMMEDIATE`` transaction;
- by hand: ``alembic -x db=PATH upgrade head`` (or env ``LEDGER_DB``, default ``./ledger.db``).
"""

from __future__ import annotations

import os

from alembic import context

from ledger.store import dialect
from ledger.store.engine import make_engine
from ledger.store.schema import metadata

config = context.config
target_metadata = metadata


def _configure_and_run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: alembic copies the table
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    db = context.get_x_argument(as_dictionary=True).get("db") or os.environ.get("LEDGER_DB") or "ledger.db"
    engine = make_engine(db)
    try:
        with engine.connect() as conn, dialect.foreign_keys_off(conn):
            with conn.begin():  # batch mode rebuilds tables: foreign keys off meanwhile
                _configure_and_run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported for the ledger")
run_migrations_online()
