"""a partial index of the retried attempts (outcome retry/throttled): the summary counts them without
reading every attempt

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 14:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copy of ledger.store.schema.RETRIED at this revision
RETRIED = "outcome IN ('retry', 'throttled')"


def upgrade() -> None:
    op.create_index(op.f('ix_attempts_outcome'), 'attempts', ['outcome'], unique=False, sqlite_where=sa.text(RETRIED))


def downgrade() -> None:
    op.drop_index(op.f('ix_attempts_outcome'), table_name='attempts')
