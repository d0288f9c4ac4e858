"""the report counts entities from one index: ix (entity_key, action) gains status and site_key; the
entities view (one row per person / workspace / site, the complete listing for sqlite3)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copy of ledger.store.schema.ENTITIES_VIEW at this revision (tests compare them)
ENTITIES_VIEW = """
CREATE VIEW entities AS
SELECT substr(entity_key, 1, instr(entity_key, ':') - 1) AS kind, entity_key, min(site_key) AS site_key,
       CASE WHEN max(status IN ('failed', 'invalid')) THEN 'failed'
            WHEN max(status = 'blocked') THEN 'blocked'
            WHEN max(status IN ('pending', 'running')) THEN 'pending'
            ELSE 'complete' END AS state,
       count(*) AS steps, group_concat(action || ' ' || status, ', ') AS statuses
FROM ledger
WHERE entity_key IS NOT NULL AND status != 'superseded'
GROUP BY entity_key
"""


def upgrade() -> None:
    op.drop_index(op.f('ix_ledger_entity_key_action'), table_name='ledger')
    op.create_index(op.f('ix_ledger_entity_key_action_status_site_key'), 'ledger',
                    ['entity_key', 'action', 'status', 'site_key'], unique=False)
    op.execute(ENTITIES_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS entities")
    op.drop_index(op.f('ix_ledger_entity_key_action_status_site_key'), table_name='ledger')
    op.create_index(op.f('ix_ledger_entity_key_action'), 'ledger', ['entity_key', 'action'], unique=False)
