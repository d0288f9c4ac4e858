"""Summaries and reports: built from ``ledger.store.queries`` queries, rendered as text/JSON/CSV.

Public API used by other commands:

- :func:`summary` ``(engine, import_id=None) -> Summary`` and :func:`render_summary` (also printed
  at the end of ``ledger work``);
- :func:`write_report` (``ledger report``); ``ledger status`` is rendered by :mod:`ledger.reporting.status`;
- :func:`render_import` (``ledger import``).

Counting rules (documented in the README): ``processed`` = rows the worker brought to a final state
(succeeded + skipped + failed); ``failed_row`` = failed rows of kind ``row``; ``failed_systemic`` =
failed rows of kind ``systemic`` OR ``transient`` (retries exhausted); ``retries`` = attempts with
outcome ``retry`` or ``throttled`` (``throttled``: those after a 429/423); ``duration_s`` = summed
wall time of the runs. The action tables (``ledger actions``, README) are in :mod:`ledger.reporting.action_docs`.
"""

from __future__ import annotations

import csv
import socket
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.reporting.blocked import write_blocked_rows
from ledger.reporting.causes import ErrorGroup, group_errors
from ledger.reporting.endstate import EndState, render_end_state, write_end_state
from ledger.store import queries as q
from ledger.store.engine import parse_utc
from ledger.store.runs import RunInfo, list_runs
from ledger.work.liveness import dead_reason
from ledger.errors import InputError
from ledger.models import ErrorKind, RowStatus, RunStatus, are, rows

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ledger.importing.importer import ImportResult

ROW_ERRORS_FIELDS = (
    "row_id", "file", "line_no", "action", "error_kind", "error_code", "http_status", "error_message",
    "tracking_id", "business_key",
)


@dataclass(frozen=True)
class ImportSummary:
    id: int
    path: str
    action: str
    total: int
    counts: Mapping[str, int]  # status → rows
    # final rows (succeeded, skipped, failed, nothing to do) of the rows that can be worked (invalid
    # and superseded rows left out); None when the import has no such row
    percent_done: float | None
    created_at: str


@dataclass(frozen=True)
class Summary:
    status: str  # empty | running | done | pending | interrupted | failed_systemic
    total: int
    processed: int
    succeeded: int
    skipped: int
    failed_row: int
    failed_systemic: int
    invalid: int
    pending: int
    running: int
    retries: int
    duration_s: float
    throttled: int = 0  # of the retries, those after a 429/423 (the run paused; no try was spent)
    blocked: int = 0  # waiting on a failed/invalid/blocked prerequisite of the same entity (not final)
    invalid_lines: int = 0  # the source lines the invalid rows come from (one line, one row per step)
    superseded: int = 0  # replaced by a newer row or already done: history, not in `total`
    nothing_to_do: int = 0  # ended at import: their optional cells are empty, no request needed
    live_runs: tuple[RunInfo, ...] = ()  # runs alive now (the one liveness rule)
    dead_runs: tuple[tuple[RunInfo, str], ...] = ()  # runs still marked running that are dead, and why
    error_kinds: Mapping[str, int] = field(default_factory=dict)
    top_errors: tuple[ErrorGroup, ...] = ()
    blocked_by: tuple[ErrorGroup, ...] = ()  # blocked rows grouped by the failed step they wait on
    imports: tuple[ImportSummary, ...] = ()
    actions: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    last_run: RunInfo | None = None
    next_steps: tuple[str, ...] = ()
    import_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_run_status"] = self.last_run.status if self.last_run else None
        return data


# --- building -----------------------------------------------------------------------------------


def _duration(runs: list[RunInfo], now: datetime) -> float:
    total = 0.0
    for run in runs:
        end = run.finished_at or (None if run.status == RunStatus.RUNNING else run.heartbeat_at)
        stop = parse_utc(end) if end else now
        total += max(0.0, (stop - parse_utc(run.started_at)).total_seconds())
    return round(total, 3)


def summary(engine: sa.Engine, import_id: int | None = None, *, now: datetime | None = None) -> Summary:
    """Counts, top errors, per-import/per-action progress and next steps, in one read transaction."""
    with q.snapshot(engine) as conn:
        return _summary_on(conn, import_id, now)


def _summary_on(conn: sa.Connection, import_id: int | None, now: datetime | None) -> Summary:
    counts = q.status_counts(conn, import_id)
    infos = q.list_imports(conn, import_id)
    runs = list_runs(conn)
    retries, throttled = q.count_retries(conn, import_id)
    errors = q.error_groups(conn, import_id)
    waits = q.error_groups(conn, import_id, (RowStatus.BLOCKED,))
    if import_id is not None and not infos:
        raise InputError(f"--import {import_id}: no such import (see `ledger status`)")
    by_status: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    per_import: dict[int, Counter[str]] = defaultdict(Counter)
    per_action: dict[str, Counter[str]] = defaultdict(Counter)
    failed_row = failed_sys = 0
    for c in counts:
        by_status[c.status] += c.count
        per_import[c.import_id][c.status] += c.count
        if c.status == RowStatus.SUPERSEDED:
            continue  # history: per-action counts and error kinds are of the current state
        per_action[c.action][c.status] += c.count
        if c.error_kind and c.status in (RowStatus.FAILED, RowStatus.INVALID):
            kinds[c.error_kind] += c.count  # a pending row keeps its last error: not a failure
        if c.status == RowStatus.FAILED:
            if c.error_kind in (ErrorKind.SYSTEMIC, ErrorKind.TRANSIENT):
                failed_sys += c.count
            else:
                failed_row += c.count
    imports = tuple(_import_summary(i, per_import[i.id]) for i in infos)
    now = now or datetime.now(UTC)
    running = [(r, _dead_reason(r, now)) for r in runs if r.status == RunStatus.RUNNING]
    live = [r for r, reason in running if reason is None]
    silent = [(r, reason) for r, reason in running if reason is not None]
    last = runs[-1] if runs else None
    superseded = by_status.pop(RowStatus.SUPERSEDED, 0)  # history: the current state is the other rows
    total = sum(by_status.values())
    s = Summary(
        status=_overall_status(by_status, live, total, runs),
        total=total,
        processed=by_status[RowStatus.SUCCEEDED] + by_status[RowStatus.SKIPPED] + by_status[RowStatus.FAILED],
        succeeded=by_status[RowStatus.SUCCEEDED],
        skipped=by_status[RowStatus.SKIPPED],
        failed_row=failed_row,
        failed_systemic=failed_sys,
        invalid=by_status[RowStatus.INVALID],
        invalid_lines=q.invalid_lines(conn, import_id) if by_status[RowStatus.INVALID] else 0,
        pending=by_status[RowStatus.PENDING],
        running=by_status[RowStatus.RUNNING],
        blocked=by_status[RowStatus.BLOCKED],
        superseded=superseded,
        nothing_to_do=by_status[RowStatus.NOTHING_TO_DO],
        live_runs=tuple(live),
        dead_runs=tuple(silent),
        retries=retries,
        throttled=throttled,
        duration_s=_duration(runs, now),
        error_kinds=dict(sorted(kinds.items())),
        top_errors=group_errors(errors),
        blocked_by=group_errors(waits),
        imports=imports,
        actions={a: {st: c[st] for st in q.STATUSES if c[st]} for a, c in sorted(per_action.items())},
        last_run=last,
        import_id=import_id,
    )
    return _with_next_steps(s, live, silent, now)


def _import_summary(info: q.ImportInfo, counts: Counter[str]) -> ImportSummary:
    total = sum(n for st, n in counts.items() if st != RowStatus.SUPERSEDED)
    workable = total - counts[RowStatus.INVALID]
    final = sum(counts[s] for s in (RowStatus.SUCCEEDED, RowStatus.SKIPPED, RowStatus.FAILED, RowStatus.NOTHING_TO_DO))
    return ImportSummary(
        id=info.id, path=info.path, action=info.action, total=total,
        counts={st: counts[st] for st in q.STATUSES if counts[st]},
        percent_done=round(100.0 * final / workable, 1) if workable else None,
        created_at=info.created_at,
    )


def _dead_reason(run: RunInfo, now: datetime) -> str | None:
    """The one liveness rule (``ledger.work.liveness``), as `ledger work` and `ledger release` apply it."""
    return dead_reason(run, host=socket.gethostname(), now=now.timestamp())


def _overall_status(by_status: Counter[str], live: list[RunInfo], total: int, runs: list[RunInfo]) -> str:
    if total == 0:
        return "empty"
    if live:
        return "running"
    if by_status[RowStatus.PENDING] == 0 and by_status[RowStatus.RUNNING] == 0:
        return "done"
    if runs and runs[-1].status in (RunStatus.INTERRUPTED, RunStatus.FAILED_SYSTEMIC):
        return str(runs[-1].status)
    return "pending"


def _with_next_steps(
    s: Summary, live: list[RunInfo], silent: list[tuple[RunInfo, str]], now: datetime
) -> Summary:
    scope = f" --import {s.import_id}" if s.import_id is not None else ""
    steps: list[str] = []
    for run, reason in silent:
        steps.append(
            f"run {run.id} (pid {run.pid} on {run.host}) {reason} (crashed?): `ledger work` reclaims its rows, "
            "or `ledger release` now"
        )
    if s.running and not live and not silent:
        steps.append(f"`ledger release`: {rows(s.running)} {are(s.running)} held by a run that is gone")
    if s.failed_systemic:
        steps.append(
            f"`ledger retry --status failed --kind transient{scope}` (and `--kind systemic`) then `ledger work`: "
            f"{rows(s.failed_systemic)} failed for temporary or service-wide reasons"
        )
    if s.failed_row:
        steps.append(
            f"fix the data of the {rows(s.failed_row, 'failed row')} (row_errors.csv), then "
            f"`ledger retry --status failed --kind row{scope}` and `ledger work`"
        )
    if s.invalid and s.invalid_lines not in (0, s.invalid):  # a line imported for several steps
        steps.append(
            f"correct the {s.invalid_lines} invalid lines of the files ({s.invalid} invalid rows: one per step "
            "reading the line), listed in row_errors.csv and the fix-up files, and import the corrected file"
        )
    elif s.invalid:
        steps.append(f"correct the {s.invalid} invalid lines listed in row_errors.csv and import the corrected file")
    if s.blocked:
        steps.append(
            f"{rows(s.blocked)} {are(s.blocked)} blocked by a failed or invalid earlier step of the same person, workspace or "
            "site (blocked_rows.csv names it): fix that step; they run by themselves after it"
        )
    if s.pending and not live:
        steps.append(f"`ledger work{scope}` to process the {rows(s.pending, 'pending row')}")
    if live:
        steps.append(f"run {live[-1].id} is in progress; `ledger status` shows its progress")
    if not steps:
        steps.append("nothing left to do" if s.total else "`ledger import FILE --action NAME` to load rows")
    return Summary(**{**s.__dict__, "next_steps": tuple(steps)})


# --- rendering ------------------------------------------------------------------------------------


def render_summary(s: Summary) -> str:
    """The actionable text summary (``ledger report``, end of ``ledger work``)."""
    lines = [
        f"ledger: {s.total} rows — status {s.status}" + (f" (import {s.import_id})" if s.import_id else ""),
        f"  succeeded {s.succeeded}, skipped {s.skipped}, failed {s.failed_row + s.failed_systemic} "
        f"(row {s.failed_row}, transient/systemic {s.failed_systemic}), invalid {s.invalid}, "
        + (f"nothing to do {s.nothing_to_do}, " if s.nothing_to_do else "")
        + f"blocked {s.blocked}, pending {s.pending}, running {s.running}"
        + (f" (+ {s.superseded} superseded rows kept for history)" if s.superseded else ""),
        f"  retries {s.retries}" + (f" ({s.throttled} after a 429/423)" if s.throttled else "")
        + f", run time {s.duration_s:.1f}s"
        + (f", last run {s.last_run.id}: {run_state(s, s.last_run)}" if s.last_run else ", no run yet"),
    ]
    if s.error_kinds:
        lines.append("  error kinds: " + ", ".join(f"{k} {n}" for k, n in s.error_kinds.items()))
    for title, groups in (("top errors:", s.top_errors), ("blocked rows, by the step they wait on:", s.blocked_by)):
        lines.extend([title] if groups else [])
        for g in groups:
            tag = "/".join(str(x) for x in (g.error_kind, g.http_status, g.error_code) if x is not None)
            lines.append(
                f"  {g.count:>6} × {g.action} [{tag.replace('/', ' ', 1)}] {g.message} "
                f"(e.g. {Path(g.example_file).name} line {g.example_line})"
            )
    lines.append("next:")
    lines.extend(f"  - {step}" for step in s.next_steps)
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportFiles:
    summary: Summary
    summary_json: Path
    row_errors_csv: Path
    error_rows: int
    end_state: EndState | None = None
    blocked_csv: Path | None = None
    blocked_rows: int = 0


def default_report_dir(db_path: Path) -> Path:
    return Path(db_path).resolve().parent / "report"


def write_report(engine: sa.Engine, out_dir: Path, import_id: int | None = None) -> ReportFiles:
    """Write ``run_summary.json``, ``row_errors.csv``, ``blocked_rows.csv`` and the end state files
    (``entities.csv``, ``report.html``, the fix-up files, ``plan.csv`` after a dry run: :mod:`ledger.reporting.endstate`)
    into ``out_dir`` (created), all from the same snapshot of the ledger (one read transaction)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_json = out_dir / "run_summary.json"
    errors_csv = out_dir / "row_errors.csv"
    n = 0
    with q.snapshot(engine) as conn:
        s = _summary_on(conn, import_id, None)
        with errors_csv.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(ROW_ERRORS_FIELDS)
            for row in q.iter_error_rows(conn, import_id):
                out.writerow(["" if v is None else v for v in (getattr(row, f) for f in ROW_ERRORS_FIELDS)])
                n += 1
        blocked = write_blocked_rows(conn, out_dir / "blocked_rows.csv", import_id)
        end = write_end_state(conn, out_dir, s, import_id)
    data = s.to_json()
    data["entities"] = end.entity_counts  # {kind: {"total": n, state: n}}: the end state of every entity
    data["entities_listed"] = len(end.table.entities)  # those in entities.csv: the ones that need attention
    summary_json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ReportFiles(s, summary_json, errors_csv, n, end, out_dir / "blocked_rows.csv", blocked)


def render_report(files: ReportFiles) -> str:
    return render_summary(files.summary) + "\n" + render_files(files)


def render_files(files: ReportFiles) -> str:
    """The files ``write_report`` wrote, with how to import each fix-up file back."""
    lines = [f"wrote {files.summary_json} and {files.row_errors_csv} ({rows(files.error_rows, 'failed/invalid row')})"]
    if files.blocked_csv is not None:
        lines.append(f"wrote {files.blocked_csv} ({rows(files.blocked_rows, 'blocked row')}, with the step each waits on)")
    if files.end_state is not None:
        lines.extend(render_end_state(files.end_state))
    return "\n".join(lines)


def run_state(s: Summary, run: RunInfo) -> str:
    """A run's status as stored, except that a dead run still marked running is ``dead``."""
    return "dead" if any(r.id == run.id for r, _ in s.dead_runs) else str(run.status)


def render_import(result: ImportResult) -> str:
    if result.already_imported:
        note = (
            f" (--after {', '.join(map(str, result.after_ignored))} not applied to the earlier import)"
            if result.after_ignored
            else ""
        )
        return (
            f"{result.path}: already imported as import {result.import_id} for {result.action} "
            f"({result.rows_total} rows); nothing added{note}"
        )
    nothing = f", {result.rows_nothing} nothing to do (optional cells empty)" if result.rows_nothing else ""
    blocked = f", {result.rows_blocked} blocked" if result.rows_blocked else ""
    done = f", {result.rows_done} already done" if result.rows_done else ""
    pending = result.rows_valid - result.rows_nothing if result.rows_pending is None else result.rows_pending
    lines = [*result.notes]
    lines.append(
        f"import {result.import_id}: {result.path} → {result.action}: {rows(result.rows_total)}, "
        f"{pending} pending{blocked}{done}{nothing}, {result.rows_invalid} invalid"
    )
    if result.family_columns:
        shown = columns_by_reader(result.family_columns)
        lines.append(f"  warning: {result.action} does not read these columns, which other actions read: {shown}")
    if result.ignored_columns:
        lines.append(f"  ignored columns (not used by {result.action}): {', '.join(result.ignored_columns)}")
    lines.extend(f"  {link}" for link in result.links)
    for line_no, message in result.first_invalid:
        lines.append(f"  line {line_no}: {message}")
    if result.rows_invalid > len(result.first_invalid):
        lines.append(f"  … {rows(result.rows_invalid - len(result.first_invalid), 'more invalid row')}: see `ledger report`")
    return "\n".join(lines)


def columns_by_reader(columns: Iterable[tuple[str, str]]) -> str:
    """``(column, action that reads it)`` pairs as ``a, b (user.create); c (user.licenses)``."""
    by_action: dict[str, list[str]] = {}
    for column, other in columns:
        by_action.setdefault(other, []).append(column)
    return "; ".join(f"{', '.join(cols)} ({other})" for other, cols in by_action.items())


def render_released(n: int, older_than_s: float, *, force: bool = False) -> str:
    if force:
        return f"released {rows(n)} held by runs silent for more than {older_than_s:g}s, alive or not (now pending)"
    return f"released {rows(n)} held by dead runs (now pending)"


def render_retried(n: int) -> str:
    return f"{rows(n)} back to pending" + ("; run `ledger work`" if n else "")
