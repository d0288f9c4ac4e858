"""row status nothing_to_do: a row whose optional cells are empty ends at import, with no request

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 11:10:00.000000
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = "nothing_to_do"


def _statuses(conn: sa.Connection) -> list[str]:
    """The status list of the ledger's CHECK constraint as this database has it."""
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger'").scalar_one()
    found = re.search(r"ck_ledger_status\s+CHECK\s*\(\s*status IN \(([^)]*)\)", sql)
    assert found is not None, "the ledger table has no status CHECK constraint"
    return [v.strip().strip("'") for v in found.group(1).split(",")]


def _set_statuses(statuses: list[str]) -> None:
    """Rebuild the ledger's status CHECK (batch mode rebuilds the table: the views naming it go and
    come back unchanged)."""
    conn = op.get_bind()
    views = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'view'").all()
    for name, _sql in views:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_status'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_ledger_status'), f"status IN ({', '.join(repr(s) for s in statuses)})"
        )
    for _name, sql in views:
        op.execute(sql)


def upgrade() -> None:
    statuses = _statuses(op.get_bind())
    _set_statuses([*statuses, NEW] if NEW not in statuses else statuses)


def downgrade() -> None:
    # a row with nothing to do was "skipped" before this revision (no request, final, not an error)
    op.execute(f"UPDATE ledger SET status = 'skipped' WHERE status = '{NEW}'")
    _set_statuses([s for s in _statuses(op.get_bind()) if s != NEW])
