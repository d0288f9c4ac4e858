"""ledger: resumable, auditable bulk operations against Webex Calling from a SQLite ledger."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
