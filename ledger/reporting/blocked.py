"""``blocked_rows.csv``: the rows waiting on a failed, invalid or blocked earlier step of the same
person, workspace or site, apart from ``row_errors.csv`` (blocked rows are not final: they run by
themselves once that step ends succeeded or skipped)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.store import queries as q

if TYPE_CHECKING:
    import sqlalchemy as sa

BLOCKED_ROWS_FIELDS = (
    "row_id", "file", "line_no", "action", "entity", "business_key",
    "waits_on_row", "waits_on_file", "waits_on_line", "waits_on_action", "waits_on_status", "waits_on_error",
    "error_message",
)


def write_blocked_rows(conn: sa.Connection, path: Path, import_id: int | None = None) -> int:
    """Write every blocked row (of one import, or all) with the prerequisite it waits on; → rows written."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(BLOCKED_ROWS_FIELDS)
        for row in q.iter_blocked_rows(conn, import_id):
            values = (
                row.row_id, row.file, row.line_no, row.action, row.entity_key, row.business_key,
                row.waits_on_row, row.waits_on_file, row.waits_on_line, row.waits_on_action, row.waits_on_status,
                row.waits_on_error, row.error_message,
            )
            out.writerow(["" if v is None else v for v in values])
            n += 1
    return n
