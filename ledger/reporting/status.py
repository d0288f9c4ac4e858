"""`ledger status`: a line per import (counts, % done), then every live run, every dead run still
marked running, and the last run."""

from __future__ import annotations

from pathlib import Path

from ledger.reporting.report import Summary


def render_status(s: Summary) -> str:
    """One screen: a line per import with its counts and % done, then the last run."""
    if not s.imports:
        return "no imports yet: `ledger import FILE --action NAME`"
    width = max(len("action"), *(len(i.action) for i in s.imports))
    lines = [f"{'id':>4}  {'action':<{width}} {'done':>6}  counts  file"]
    for i in s.imports:
        counts = " ".join(f"{k} {v}" for k, v in i.counts.items())
        done = "   n/a" if i.percent_done is None else f"{i.percent_done:>5.1f}%"
        lines.append(f"{i.id:>4}  {i.action:<{width}} {done}  {counts}  {Path(i.path).name}")
    lines.extend(_blocked_lines(s))
    lines.extend(_run_lines(s))
    return "\n".join(lines)


def _blocked_lines(s: Summary) -> list[str]:
    """Blocked rows apart: how many, and the steps they wait on (the largest causes first)."""
    if not s.blocked:
        return []
    lines = [
        f"blocked {s.blocked} (not failed: each waits on a failed or invalid earlier step of the same entity and "
        "runs by itself once that step succeeds; `ledger report` writes blocked_rows.csv)"
    ]
    for g in s.blocked_by:
        lines.append(f"  {g.count:>6} × {g.action}: {g.message}")
    return lines


def _run_lines(s: Summary) -> list[str]:
    """Every live run, every dead run still marked running (and why), then the last run if it is
    neither: what `ledger status` says about runs."""
    lines = []
    for run in s.live_runs:
        lines.append(f"run {run.id}: running (pid {run.pid} on {run.host}, started {run.started_at}, "
                     f"last heartbeat {run.heartbeat_at or run.started_at})")
    for run, why in s.dead_runs:
        lines.append(
            f"run {run.id}: dead (pid {run.pid} on {run.host} {why}; it was marked running): `ledger work` "
            "reclaims its rows"
        )
    shown = {r.id for r in s.live_runs} | {r.id for r, _ in s.dead_runs}
    run = s.last_run
    if run is None:
        lines.append("no run yet: `ledger work`")
    elif run.id not in shown:
        when = run.finished_at or run.heartbeat_at or run.started_at
        lines.append(f"last run {run.id}: {run.status} (started {run.started_at}, last seen {when})")
    return lines
