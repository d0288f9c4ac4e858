"""SQL of `ledger import`: imports, their dependencies, row insertion, duplicate keys (one function each).

Putting rows back (``retry``/``release``) is ``ledger.store.recovery``; claims and outcomes
``ledger.store.claims``; read-only summaries for ``report``/``status`` ``ledger.store.queries``. Functions taking a ``Connection`` run inside the
caller's transaction; functions taking an ``Engine`` open their own (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ledger.store.engine import utcnow
from ledger.store import dialect
from ledger.store.schema import import_deps, imports, ledger_rows

INSERT_CHUNK = 5000



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


def status_counts(conn: sa.Connection, import_id: int) -> dict[str, int]:
    """How many rows of one import are in each status (after its chains are linked: some may be
    blocked, or superseded by a row already done)."""
    stmt = (
        sa.select(ledger_rows.c.status, sa.func.count())
        .where(ledger_rows.c.import_id == import_id)
        .group_by(ledger_rows.c.status)
    )
    return {str(status): int(n) for status, n in conn.execute(stmt)}


def missing_imports(conn: sa.Connection, ids: Iterable[int]) -> list[int]:
    wanted = set(ids)
    found = set(conn.scalars(sa.select(imports.c.id).where(imports.c.id.in_(wanted))))
    return sorted(wanted - found)


def add_import_deps(conn: sa.Connection, import_id: int, depends_on: Iterable[int]) -> None:
    rows = [{"import_id": import_id, "depends_on_import_id": d} for d in dict.fromkeys(depends_on)]
    if rows:
        conn.execute(import_deps.insert(), rows)


ROW_FIELDS = ("import_id", "line_no", "action", "status", "error_kind", "error_code", "error_message",
              "business_key", "location_key", "payload", "created_at", "updated_at", "entity_key", "site_key")


def insert_rows(conn: sa.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Bulk-insert ledger rows, given as tuples in :data:`ROW_FIELDS` order, :data:`INSERT_CHUNK` at a time
    (``ledger.store.dialect.insert_many``: no per-row parameter processing at 21,000 rows)."""
    for start in range(0, len(rows), INSERT_CHUNK):
        dialect.insert_many(conn, ledger_rows, ROW_FIELDS, rows[start : start + INSERT_CHUNK])


# --- duplicate business keys of one import (the dialect's key table) ------------------------------


def start_key_check(conn: sa.Connection) -> None:
    """An empty key table for the import about to be loaded (in the caller's transaction)."""
    dialect.create_key_table(conn)


def end_key_check(conn: sa.Connection) -> None:
    dialect.drop_key_table(conn)


def earlier_lines(conn: sa.Connection, keys: Sequence[tuple[str, int]]) -> dict[int, int]:
    """Record ``(key, line_no)`` pairs (in line order) and return ``{line_no: earlier line_no}``
    for each line whose key was already seen on an earlier line of this import (this call or an
    earlier one since :func:`start_key_check`). Keys are compared exactly."""
    if not keys:
        return {}
    if dialect.add_keys(conn, keys) == len(keys):  # the common case: no key of these lines was seen before
        return {}
    first = dialect.first_lines(conn, [k for k, _ in keys])
    return {line: first[key] for key, line in keys if first[key] != line}
