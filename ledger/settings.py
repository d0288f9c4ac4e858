"""The settings of a `ledger work` run, and small parsers for command-line values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``"15m"`` → 900.0; ``"30s"``, ``"2h"``, ``"1d"``, ``"45"`` (seconds). ValueError otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h)")
    return float(m.group(1)) * _UNIT_S[m.group(2).lower()]


def clean_token(raw: str | None) -> tuple[str, str]:
    """The access token as Webex wants it, and a one-line note when it had to be cleaned.

    A token pasted from a request header (``Bearer eyJ…``) loses its prefix. The note never shows
    the token itself.
    """
    token = (raw or "").strip()
    if token[:7].lower() == "bearer ":
        return token[7:].strip(), "note: WEBEX_ACCESS_TOKEN started with 'Bearer '; the prefix was removed"
    return token, ""


@dataclass(frozen=True)
class WorkSettings:
    """Everything `ledger work` is asked to do (built once by the CLI)."""

    db_path: Path | str
    batch_size: int = 200
    concurrency: int = 4
    max_rate: float | None = None  # requests per minute, None = no cap
    dry_run: bool = False
    retry_profile: str = "default"
    import_id: int | None = None
    progress: bool | None = None  # live progress line; None = when stderr is a TTY
    heartbeat_s: float = 5.0  # the runs row's heartbeat period
    stop_grace_s: float = 10.0  # after SIGINT/SIGTERM, rows in flight may finish for this long
