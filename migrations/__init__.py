"""alembic's scripts for the ledger schema; built into the wheel as ``ledger._migrations``."""

from __future__ import annotations
