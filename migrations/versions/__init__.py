"""The revisions, oldest first (``0001_…``); built into the wheel as ``ledger._migrations.versions``."""

from __future__ import annotations
