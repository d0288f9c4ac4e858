"""Is the run that holds these rows dead? (dead-run reclaim, before a run claims anything).

A run on this host is dead when its pid is gone, a zombie, or now belongs to a newer process (pid
reuse, compared with the process start time). A run on another host cannot be probed: it is dead
only after ``dead_after_s`` without a heartbeat. A run that may be alive is never stolen from.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ledger.store.engine import parse_utc
from ledger.store.claims import RunInfo


def _parse_ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_utc(text).timestamp()
    except ValueError:
        return None


def process_start_time(pid: int) -> float | None:
    """Unix start time of ``pid`` (Linux /proc), None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[19])
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is dead for us
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return True


def dead_reason(run: RunInfo, *, host: str, dead_after_s: float, now: float | None = None) -> str | None:
    """Why ``run`` (status running) is dead, or None when it may be alive (never steal from it)."""
    now = time.time() if now is None else now
    if run.host == host:
        if not pid_alive(run.pid):
            return "is not running any more"
        started = process_start_time(run.pid)
        run_started = _parse_ts(run.started_at)
        if started is not None and run_started is not None and started > run_started + 2:
            return f"is gone (pid {run.pid} now belongs to a newer process)"
        return None
    beat = _parse_ts(run.heartbeat_at or run.started_at)
    if beat is not None and now - beat > dead_after_s:
        return f"sent no heartbeat for {now - beat:.0f}s"
    return None
