"""structlog configuration, called once by the CLI. (Placeholder until the foundation lands.)"""

from __future__ import annotations

from pathlib import Path


def configure_logging(db_path: Path) -> None:
    return None
