"""The ledger file: the only package that imports SQLAlchemy or holds SQL (one small function per operation).

``engine`` opens the file (permissions, automatic migration); ``dialect`` is everything
SQLite-specific (PRAGMAs, ``BEGIN IMMEDIATE``, the read-only URI, the key table; what PostgreSQL would
need instead); ``schema`` is the one schema source (alembic's ``migrations/`` match it).
By command: ``imports`` (`ledger import`), ``claims`` and ``runs`` (`ledger work`: claim, record,
heartbeat, cooldowns), ``chains`` (prerequisites between rows, blocked rows), ``fixups``,
``recovery`` (`ledger retry`, `ledger release` and the worker's dead-run reclaim), ``queries``
(read-only: `ledger report`, `ledger status`).
"""
from __future__ import annotations
