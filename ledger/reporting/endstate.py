"""The end state files of ``ledger report`` (and of every ``ledger work``), from one pass over the
current rows of one read snapshot:

- ``entities.csv`` — one line per person / workspace / site, one column per step (:mod:`.entities`);
- ``fixup/<file>.fixup.csv`` — per source file with problems, its problem lines (:mod:`.fixup`);
- ``report.html`` — progress per step and per site, errors by cause, the entities (:mod:`.html`);
- ``plan.csv`` — when a dry run left previews: what each row would do, as a chain (:mod:`.plan`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.reporting.causes import cause_groups
from ledger.reporting.entities import EntityBuilder, EntityTable, entity_of, write_entities_csv
from ledger.reporting.fixup import FixupCollector, FixupFile, payload_of
from ledger.reporting.html import Page, render_html
from ledger.reporting.dry_run import PlanCollector
from ledger.store import queries as q

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ledger.reporting.report import Summary

FIXUP_DIR = "fixup"


@dataclass(frozen=True)
class EndState:
    table: EntityTable
    entities_csv: Path
    report_html: Path
    fixups: tuple[FixupFile, ...] = ()
    plan_csv: Path | None = None
    plan_rows: int = 0
    entity_counts: dict[str, dict[str, int]] = field(default_factory=dict)


def write_end_state(conn: sa.Connection, out_dir: Path, summary: Summary, import_id: int | None = None) -> EndState:
    """Write the files above into ``out_dir`` (stale fix-up files of an earlier report are removed)."""
    sources = q.import_sources(conn)
    files = {i: s.path for i, s in sources.items()}
    entities = EntityBuilder()
    fixups = FixupCollector(sources)
    plans = PlanCollector(sources) if q.has_previews(conn, import_id) else None
    for row in q.iter_current_rows(conn, import_id):
        payload = payload_of(row)
        who = entity_of(row, payload)
        file = files.get(row.import_id, "")
        entities.add(row, file, who)
        fixups.add(row, payload)
        if plans is not None:
            plans.add(row, file, who)
    table = entities.table()
    entities_csv = out_dir / "entities.csv"
    write_entities_csv(table, entities_csv)
    fixup_dir = out_dir / FIXUP_DIR
    for old in fixup_dir.glob("*.fixup.csv") if fixup_dir.is_dir() else ():
        old.unlink()
    written = tuple(fixups.write(fixup_dir))
    plan_csv, plan_rows = None, 0
    if plans is not None:
        plan_csv = out_dir / "plan.csv"
        plan_rows = plans.write(plan_csv)
    elif (out_dir / "plan.csv").exists():
        (out_dir / "plan.csv").unlink()  # a plan of an earlier dry run would describe rows that ran since
    page = Page(
        title="Migration report" + (f" (import {import_id})" if import_id is not None else ""),
        summary=summary, table=table, causes=cause_groups(table), fixups=written,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    report_html = out_dir / "report.html"
    report_html.write_text(render_html(page), encoding="utf-8")
    return EndState(table, entities_csv, report_html, written, plan_csv, plan_rows, table.counts())


def render_end_state(end: EndState) -> list[str]:
    """The lines ``ledger report`` prints about these files, with how to import each fix-up file back."""
    counts = ", ".join(f"{kind} {per['total']} ({per.get('complete', 0)} complete)" for kind, per in end.entity_counts.items())
    lines = [f"wrote {end.entities_csv} ({counts or 'no entities'}) and {end.report_html}"]
    if end.plan_csv is not None:
        lines.append(f"wrote {end.plan_csv} ({end.plan_rows} rows: what the dry run says each would do)")
    for f in end.fixups:
        how = "" if f.layout == "original" else " (rebuilt from the ledger: the source file is gone or changed)"
        lines.append(f"wrote {f.path}: {f.lines} lines of {Path(f.source).name} to correct{how}; then:")
        lines.extend(f"  {cmd}" for cmd in f.commands)
    return lines
