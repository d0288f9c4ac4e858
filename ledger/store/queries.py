"""Read-only SQL for ``report``/``status``/the end-of-run summary (SQLAlchemy Core).

Each function runs one query on a connection the caller opened (a read-only engine works: these
never write), and returns plain frozen records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from ledger.store.schema import attempts, imports, ledger_rows
from ledger.models import RowStatus

STATUSES = tuple(s.value for s in RowStatus)


@dataclass(frozen=True)
class StatusCount:
    import_id: int
    action: str
    status: str
    error_kind: str | None
    count: int


@dataclass(frozen=True)
class ImportInfo:
    id: int
    path: str
    action: str
    rows_total: int
    created_at: str


@dataclass(frozen=True)
class ErrorGroupRow:
    action: str
    error_kind: str | None
    error_code: str | None
    http_status: int | None
    error_message: str | None
    count: int
    example_line: int
    example_file: str


@dataclass(frozen=True)
class ErrorRow:
    row_id: int
    file: str
    line_no: int
    action: str
    error_kind: str | None
    error_code: str | None
    http_status: int | None
    error_message: str | None
    tracking_id: str | None
    business_key: str | None


def _where_import(import_id: int | None) -> list[sa.ColumnElement[bool]]:
    return [] if import_id is None else [ledger_rows.c.import_id == import_id]


def status_counts(conn: sa.Connection, import_id: int | None = None) -> list[StatusCount]:
    """Row counts by import, action, status and error kind."""
    stmt = (
        sa.select(ledger_rows.c.import_id, ledger_rows.c.action, ledger_rows.c.status, ledger_rows.c.error_kind, sa.func.count())
        .where(*_where_import(import_id))
        .group_by(ledger_rows.c.import_id, ledger_rows.c.action, ledger_rows.c.status, ledger_rows.c.error_kind)
    )
    return [StatusCount(*row) for row in conn.execute(stmt)]


def list_imports(conn: sa.Connection, import_id: int | None = None) -> list[ImportInfo]:
    stmt = sa.select(imports.c.id, imports.c.path, imports.c.action, imports.c.rows_total, imports.c.created_at)
    if import_id is not None:
        stmt = stmt.where(imports.c.id == import_id)
    return [ImportInfo(*row) for row in conn.execute(stmt.order_by(imports.c.id))]


def count_retries(conn: sa.Connection, import_id: int | None = None) -> tuple[int, int]:
    """(attempts that were retried or throttled, of which throttled): outcome ``retry``/``throttled``."""
    throttled = sa.func.coalesce(sa.func.sum(sa.case((attempts.c.outcome == "throttled", 1), else_=0)), 0)
    stmt = (
        sa.select(sa.func.count(), throttled)
        .select_from(attempts)
        .where(attempts.c.outcome.in_(("retry", "throttled")))
    )
    if import_id is not None:
        stmt = stmt.join(ledger_rows, ledger_rows.c.id == attempts.c.row_id).where(ledger_rows.c.import_id == import_id)
    total, of_which_throttled = conn.execute(stmt).one()
    return int(total), int(of_which_throttled)


def error_groups(conn: sa.Connection, import_id: int | None = None) -> list[ErrorGroupRow]:
    """Failed and invalid rows grouped by (action, kind, code, http status, message), most frequent first."""
    first = sa.func.min(ledger_rows.c.id)
    grouped = (
        sa.select(
            ledger_rows.c.action, ledger_rows.c.error_kind, ledger_rows.c.error_code, ledger_rows.c.http_status,
            ledger_rows.c.error_message, sa.func.count().label("n"), first.label("first_id"),
        )
        .where(ledger_rows.c.status.in_((RowStatus.FAILED.value, RowStatus.INVALID.value)), *_where_import(import_id))
        .group_by(ledger_rows.c.action, ledger_rows.c.error_kind, ledger_rows.c.error_code, ledger_rows.c.http_status, ledger_rows.c.error_message)
        .subquery()
    )
    ex = ledger_rows.alias("ex")
    stmt = (
        sa.select(
            grouped.c.action, grouped.c.error_kind, grouped.c.error_code, grouped.c.http_status,
            grouped.c.error_message, grouped.c.n, ex.c.line_no, imports.c.path,
        )
        .join(ex, ex.c.id == grouped.c.first_id)
        .join(imports, imports.c.id == ex.c.import_id)
        .order_by(grouped.c.n.desc(), grouped.c.first_id)
    )
    return [ErrorGroupRow(*row) for row in conn.execute(stmt)]


def iter_error_rows(conn: sa.Connection, import_id: int | None = None) -> Iterator[ErrorRow]:
    """Every failed or invalid row (for row_errors.csv), in ledger order; streamed."""
    stmt = (
        sa.select(
            ledger_rows.c.id, imports.c.path, ledger_rows.c.line_no, ledger_rows.c.action, ledger_rows.c.error_kind,
            ledger_rows.c.error_code, ledger_rows.c.http_status, ledger_rows.c.error_message, ledger_rows.c.tracking_id,
            ledger_rows.c.business_key,
        )
        .join(imports, imports.c.id == ledger_rows.c.import_id)
        .where(ledger_rows.c.status.in_((RowStatus.FAILED.value, RowStatus.INVALID.value)), *_where_import(import_id))
        .order_by(ledger_rows.c.id)
    )
    for row in conn.execute(stmt):
        yield ErrorRow(*row)
