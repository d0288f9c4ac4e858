"""Is the run that holds these rows dead? The one rule, used by `ledger work` (reclaim before it
claims anything), `ledger status`/`report` (running or silent) and `ledger release`.

A run on this host is dead when its pid is gone, a zombie, or now belongs to a newer process (pid
reuse, compared with the process start time). A run on another host cannot be probed: it is dead
only after ``dead_after_s`` (default :data:`DEAD_AFTER_S`, `ledger release --older-than`) without a
heartbeat. A run that may be alive is never stolen from (`ledger release --force` overrides this
with :func:`silent_for`).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import sqlalchemy as sa

from ledger.store.engine import parse_utc
from ledger.store.recovery import Reclaimed, release_stale
from ledger.store.runs import RunInfo

#: a run on another host without a heartbeat (every few seconds) for this long is dead
DEAD_AFTER_S = 900.0


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


def silent_for(run: RunInfo, now: float | None = None) -> float:
    """Seconds since the run's last heartbeat (or its start)."""
    beat = _parse_ts(run.heartbeat_at or run.started_at)
    return 0.0 if beat is None else (time.time() if now is None else now) - beat


def dead_reason(
    run: RunInfo, *, host: str, dead_after_s: float = DEAD_AFTER_S, now: float | None = None
) -> str | None:
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
    silent = silent_for(run, now)
    if silent > dead_after_s:
        return f"sent no heartbeat for {silent:.0f}s"
    return None


def release(engine: sa.Engine, *, older_than_s: float = DEAD_AFTER_S, force: bool = False) -> Reclaimed:
    """`ledger release`: give back the rows of runs dead by :func:`dead_reason` (another host's run:
    silent for more than ``older_than_s``), and rows whose run has ended. ``force``: also runs on this
    host whose process still exists, once silent for ``older_than_s`` (a hung process; its rows may
    then be worked twice)."""
    host = socket.gethostname()

    def is_dead(run: RunInfo) -> str | None:
        reason = dead_reason(run, host=host, dead_after_s=older_than_s)
        if reason is None and force and silent_for(run) > older_than_s:
            reason = f"sent no heartbeat for {silent_for(run):.0f}s (released with --force)"
        return reason

    return release_stale(engine, is_dead)
