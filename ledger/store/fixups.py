"""SQL for importing a fix-up file back: its lines replace the rows they were written for.

A fix-up file (``ledger report``, :mod:`ledger.reporting.fixup`) names, in each line's
``ledger_errors`` cell, the rows of that line with problems (``user.create (import 1 line 12): …``).
Importing it for an action supersedes those rows of that action — also when the correction changed
the entity (an invalid email fixed: the old row had no entity to be matched by), which the
per-entity superseding (:func:`ledger.store.chains.supersede`) cannot see.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from ledger.models import RowStatus
from ledger.store import chains
from ledger.store.engine import utcnow

_REPLACEABLE = (RowStatus.PENDING, RowStatus.FAILED, RowStatus.INVALID, RowStatus.BLOCKED)
_SUPERSEDE_LINE = sa.text(
    "UPDATE ledger SET status = 'superseded', updated_at = :now, "
    "superseded_by = (SELECT n.id FROM ledger AS n WHERE n.import_id = :n AND n.line_no = :new_line) "
    "WHERE import_id = :old_import AND line_no = :old_line AND action = :action AND import_id != :n "
    f"AND status IN ({', '.join(repr(s.value) for s in _REPLACEABLE)}) "
    "RETURNING import_id"
)


def supersede_fixed_lines(
    conn: sa.Connection, import_id: int, action: str, refs: Sequence[tuple[int, int, int]]
) -> dict[int, int]:
    """``refs``: (line of import ``import_id``, earlier import, its line). Each earlier row of
    ``action`` there that is still pending/failed/invalid/blocked becomes ``superseded`` by the new
    line's row; the new import takes over the replaced imports' chains. Returns {earlier import: rows}."""
    replaced: dict[int, int] = {}
    now = utcnow()
    for new_line, old_import, old_line in refs:
        params = {"now": now, "n": import_id, "new_line": new_line, "old_import": old_import,
                  "old_line": old_line, "action": action}
        for (imp,) in conn.execute(_SUPERSEDE_LINE, params).all():
            replaced[imp] = replaced.get(imp, 0) + 1
    if replaced:
        chains.take_over(conn, import_id, sorted(replaced))
    return replaced
