"""Small parsers for command-line values (shared by the CLI and tests)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``"15m"`` → 900.0; ``"30s"``, ``"2h"``, ``"1d"``, ``"45"`` (seconds). ValueError otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h)")
    return float(m.group(1)) * _UNIT_S[m.group(2).lower()]
