"""Read-only SQL for ``report``/``status``/the end-of-run summary (SQLAlchemy Core).

Each function runs one query on a connection the caller opened with :func:`snapshot` (one read
transaction that never takes the write lock, on a read-only or a write engine), and returns plain
frozen records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from ledger.store import dialect
from ledger.store.chains import FIRST_BLOCKER
from ledger.store.schema import RETRIED, attempts, import_deps, imports, ledger_rows, runs
from ledger.models import RowStatus

STATUSES = tuple(s.value for s in RowStatus)

#: ``with snapshot(engine) as conn:`` one consistent read of the ledger, holding no lock against writers
snapshot = dialect.reading


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
    """Row counts by import, action, status and error kind. The error kind is told apart only for
    failed and invalid rows (None for the others: a pending row's last error is not a failure), so the
    counts come from the ``(status, import_id)`` index alone and the error kinds from the failed and
    invalid rows only: a ledger of 210,000 pending rows is counted without reading a row."""
    actions = dict(conn.execute(sa.select(imports.c.id, imports.c.action)).all())  # an import's rows: its action
    by_status = (
        sa.select(ledger_rows.c.import_id, ledger_rows.c.status, sa.func.count())
        .where(*_where_import(import_id))
        .group_by(ledger_rows.c.status, ledger_rows.c.import_id)
    )
    failing = (RowStatus.FAILED.value, RowStatus.INVALID.value)
    by_kind = (
        sa.select(ledger_rows.c.import_id, ledger_rows.c.status, ledger_rows.c.error_kind, sa.func.count())
        .where(ledger_rows.c.status.in_(failing), *_where_import(import_id))
        .group_by(ledger_rows.c.status, ledger_rows.c.import_id, ledger_rows.c.error_kind)
    )
    out = [StatusCount(i, actions[i], st, None, n) for i, st, n in conn.execute(by_status) if st not in failing]
    out.extend(StatusCount(i, actions[i], st, kind, n) for i, st, kind, n in conn.execute(by_kind))
    return out


def invalid_lines(conn: sa.Connection, import_id: int | None = None) -> int:
    """How many lines of the source files the invalid rows come from (a line imported for five steps
    is five invalid rows, one line to correct)."""
    lines = (
        sa.select(imports.c.path, imports.c.sha256, ledger_rows.c.line_no)
        .join(imports, imports.c.id == ledger_rows.c.import_id)
        .where(ledger_rows.c.status == RowStatus.INVALID.value, *_where_import(import_id))
        .distinct()
        .subquery()
    )
    return int(conn.execute(sa.select(sa.func.count()).select_from(lines)).scalar() or 0)


def list_imports(conn: sa.Connection, import_id: int | None = None) -> list[ImportInfo]:
    stmt = sa.select(imports.c.id, imports.c.path, imports.c.action, imports.c.rows_total, imports.c.created_at)
    if import_id is not None:
        stmt = stmt.where(imports.c.id == import_id)
    return [ImportInfo(*row) for row in conn.execute(stmt.order_by(imports.c.id))]


def count_retries(conn: sa.Connection, import_id: int | None = None) -> tuple[int, int]:
    """(attempts that were retried or throttled, of which throttled): outcome ``retry``/``throttled``,
    read from the partial index that holds only those (the condition is the index's own text, so SQLite
    uses it: bound values would not match it)."""
    throttled = sa.func.coalesce(sa.func.sum(sa.case((attempts.c.outcome == "throttled", 1), else_=0)), 0)
    stmt = sa.select(sa.func.count(), throttled).select_from(attempts).where(sa.text(f"attempts.{RETRIED}"))
    if import_id is not None:
        stmt = stmt.join(ledger_rows, ledger_rows.c.id == attempts.c.row_id).where(ledger_rows.c.import_id == import_id)
    total, of_which_throttled = conn.execute(stmt).one()
    return int(total), int(of_which_throttled)


def error_groups(
    conn: sa.Connection, import_id: int | None = None, statuses: tuple[RowStatus, ...] = (RowStatus.FAILED, RowStatus.INVALID)
) -> list[ErrorGroupRow]:
    """Failed and invalid rows (or those of ``statuses``) grouped by (action, kind, code, http status,
    message), most frequent first."""
    first = sa.func.min(ledger_rows.c.id)
    grouped = (
        sa.select(
            ledger_rows.c.action, ledger_rows.c.error_kind, ledger_rows.c.error_code, ledger_rows.c.http_status,
            ledger_rows.c.error_message, sa.func.count().label("n"), first.label("first_id"),
        )
        .where(ledger_rows.c.status.in_([st.value for st in statuses]), *_where_import(import_id))
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


# --- the current state, row by row (entities.csv, fix-up files, report.html, plan.csv) -------------

@dataclass(frozen=True)
class CurrentRow:
    """One ledger row of the current state (superseded rows excluded), with its import's file."""

    row_id: int
    import_id: int
    line_no: int
    action: str
    status: str
    error_kind: str | None
    error_code: str | None
    http_status: int | None
    error_message: str | None
    business_key: str | None
    location_key: str | None
    payload: str  # JSON: the normalised row (an invalid row: its raw cells by header name)
    result: str | None  # JSON
    entity_key: str | None  # the person / workspace / site the row acts on (ledger.entities)
    site_key: str | None  # the site it concerns


@dataclass(frozen=True)
class ImportSource:
    """Where an import's rows came from (fix-up files are written in that file's layout)."""

    id: int
    path: str
    sha256: str
    action: str
    global_path: str | None
    profile_sha256: str | None
    depends_on: tuple[tuple[int, str], ...]  # (import id, how rows match: models.DepMatch)


def current_columns() -> tuple[sa.ColumnElement[object], ...]:
    """The columns of a :class:`CurrentRow`, in its order."""
    c = ledger_rows.c
    return (
        c.id, c.import_id, c.line_no, c.action, c.status, c.error_kind, c.error_code, c.http_status,
        c.error_message, c.business_key, c.location_key, c.payload, c.result, c.entity_key, c.site_key,
    )


def iter_current_rows(conn: sa.Connection, import_id: int | None = None) -> Iterator[CurrentRow]:
    """Every row of the current state, in import and line order; streamed (plan.csv after a dry run)."""
    stmt = (
        sa.select(*current_columns())
        .where(ledger_rows.c.status != RowStatus.SUPERSEDED.value, *_where_import(import_id))
        .order_by(ledger_rows.c.import_id, ledger_rows.c.line_no)
    )
    for row in conn.execute(stmt):
        yield CurrentRow(*row)


def import_sources(conn: sa.Connection, import_id: int | None = None) -> dict[int, ImportSource]:
    """Every import (or one) with its file, fingerprint, global.csv and the imports it waits for."""
    deps: dict[int, list[tuple[int, str]]] = {}
    stmt_deps = sa.select(import_deps.c.import_id, import_deps.c.depends_on_import_id, import_deps.c.match)
    for imp, dep, match in conn.execute(stmt_deps):
        deps.setdefault(imp, []).append((dep, match))
    stmt = sa.select(
        imports.c.id, imports.c.path, imports.c.sha256, imports.c.action, imports.c.global_path,
        imports.c.profile_sha256,
    ).order_by(imports.c.id)
    if import_id is not None:
        stmt = stmt.where(imports.c.id == import_id)
    return {r.id: ImportSource(*r, depends_on=tuple(sorted(deps.get(r.id, ())))) for r in conn.execute(stmt)}


def has_previews(conn: sa.Connection, import_id: int | None = None) -> bool:
    """Whether a pending row holds a dry run's preview (``result.dry_run``): then plan.csv is written.
    Only a dry run leaves previews, so the rows are looked at only when the runs table has one."""
    if not conn.execute(sa.select(sa.exists().where(runs.c.dry_run == sa.true()))).scalar():
        return False
    stmt = sa.select(
        sa.exists().where(
            ledger_rows.c.status == RowStatus.PENDING.value,
            sa.func.json_extract(ledger_rows.c.result, "$.dry_run") == 1,
            *_where_import(import_id),
        )
    )
    return bool(conn.execute(stmt).scalar())


# --- blocked rows (blocked_rows.csv) -------------------------------------------------------------

@dataclass(frozen=True)
class BlockedRow:
    """A blocked row with the prerequisite it waits on now: the first failing one, found as
    ``ledger.store.chains`` finds it (None fields when none fails any more: the next claim unblocks it)."""

    row_id: int
    file: str
    line_no: int
    action: str
    entity_key: str | None
    business_key: str | None
    error_message: str | None  # "blocked by import N line L (action, row R, status): its error"
    waits_on_row: int | None
    waits_on_file: str | None
    waits_on_line: int | None
    waits_on_action: str | None
    waits_on_status: str | None
    waits_on_error: str | None


def iter_blocked_rows(conn: sa.Connection, import_id: int | None = None) -> Iterator[BlockedRow]:
    """Every blocked row (for blocked_rows.csv), in ledger order, with its failing prerequisite; streamed."""
    where = "" if import_id is None else " AND l.import_id = :import_id"
    stmt = sa.text(
        "SELECT l.id, i.path, l.line_no, l.action, l.entity_key, l.business_key, l.error_message, "
        "b.id, bi.path, b.line_no, b.action, b.status, coalesce(b.error_message, b.error_code) "
        "FROM ledger AS l JOIN imports AS i ON i.id = l.import_id "
        f"LEFT JOIN ledger AS b ON b.id = ({FIRST_BLOCKER}) LEFT JOIN imports AS bi ON bi.id = b.import_id "
        f"WHERE l.status = 'blocked'{where} ORDER BY l.id"
    )
    for row in conn.execute(stmt, {"import_id": import_id}):
        yield BlockedRow(*row)
