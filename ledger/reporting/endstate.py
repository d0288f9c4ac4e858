"""The end state files of ``ledger report`` (and of every ``ledger work``), from one read snapshot:
SQL counts for everything (:mod:`.tallies`) and one pass over the current rows of the entities that
need attention (``ledger.store.entity_queries``), so the cost follows the problems, not the ledger's size:

- ``entities.csv`` — one line per person / workspace / site that needs attention (a step failed,
  invalid, blocked or running), one column per step (:mod:`.entities`); every entity is counted in
  ``run_summary.json`` and listed by the ledger's ``entities`` view;
- ``fixup/<file>.fixup.csv`` — per source file with problems, its problem lines (:mod:`.fixup`);
- ``report.html`` — entities by state, progress per step and per site, errors by cause, the entities
  that need attention (:mod:`.html`);
- ``plan.csv`` — when a dry run left previews: what each row would do, as a chain (:mod:`.dry_run`;
  one line per row, so this one file reads every current row).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.reporting.causes import cause_groups
from ledger.reporting.dry_run import PlanCollector
from ledger.reporting.entities import KINDS, EntityBuilder, EntityTable, entity_of, write_entities_csv
from ledger.reporting.fixup import FixupCollector, FixupFile, payload_of
from ledger.reporting.html import Page, render_html
from ledger.reporting.tallies import Tallies, tally
from ledger.store import entity_queries as eq
from ledger.store import queries as q

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ledger.reporting.report import Summary

FIXUP_DIR = "fixup"


@dataclass(frozen=True)
class EndState:
    table: EntityTable  # the entities that need attention (entities.csv)
    entities_csv: Path
    report_html: Path
    fixups: tuple[FixupFile, ...] = ()
    plan_csv: Path | None = None
    plan_rows: int = 0
    entity_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # every entity: {kind: {state: n}}
    tallies: Tallies | None = None


def write_end_state(conn: sa.Connection, out_dir: Path, summary: Summary, import_id: int | None = None) -> EndState:
    """Write the files above into ``out_dir`` (stale fix-up files of an earlier report are removed)."""
    sources = q.import_sources(conn)
    files = {i: s.path for i, s in sources.items()}
    steps = tuple(dict.fromkeys(s.action for s in sources.values() if s.action in summary.actions))
    entities = EntityBuilder()
    fixups = FixupCollector(sources)
    for row in eq.iter_attention_rows(conn, import_id):
        payload = payload_of(row)
        entities.add(row, files.get(row.import_id, ""), entity_of(row, payload))
        fixups.add(row, payload)
    read = entities.table(steps)  # the entities of those rows: counted as they are, listed if they need attention
    tallies = _tallies(conn, read, summary, steps, import_id)
    table = read.needing_attention()
    entities_csv = out_dir / "entities.csv"
    write_entities_csv(table, entities_csv)
    fixup_dir = out_dir / FIXUP_DIR
    for old in fixup_dir.glob("*.fixup.csv") if fixup_dir.is_dir() else ():
        old.unlink()
    written = tuple(fixups.write(fixup_dir))
    plan_csv, plan_rows = _write_plan(conn, out_dir, sources, import_id)
    page = Page(
        title="Migration report" + (f" (import {import_id})" if import_id is not None else ""),
        summary=summary, table=table, tallies=tallies, causes=cause_groups(table), fixups=written,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    report_html = out_dir / "report.html"
    report_html.write_text(render_html(page), encoding="utf-8")
    return EndState(table, entities_csv, report_html, written, plan_csv, plan_rows, tallies.kinds, tallies)


def _tallies(
    conn: sa.Connection, table: EntityTable, summary: Summary, steps: tuple[str, ...], import_id: int | None
) -> Tallies:
    """Every entity counted (SQL) and merged with those of ``table``; the sites named as written."""
    totals = eq.entity_totals(conn, KINDS, import_id)
    keys = {t.site_key for t in totals if t.site_key} | {e.site_key for e in table.entities if e.site_key}
    names = {key: entity_of(row, payload_of(row)).site for key, row in eq.site_rows(conn, keys).items()}
    return tally(totals, table, names, summary.actions, steps)


def _write_plan(
    conn: sa.Connection, out_dir: Path, sources: Mapping[int, q.ImportSource], import_id: int | None
) -> tuple[Path | None, int]:
    """plan.csv while a dry run's previews are in the ledger (every current row: a line each);
    otherwise a plan of an earlier dry run is removed (it would describe rows that ran since)."""
    plan_csv = out_dir / "plan.csv"
    if not q.has_previews(conn, import_id):
        plan_csv.unlink(missing_ok=True)
        return None, 0
    files = {i: s.path for i, s in sources.items()}
    plans = PlanCollector(sources)
    for row in q.iter_current_rows(conn, import_id):
        file = files.get(row.import_id, "")
        plans.add(row, file, entity_of(row, payload_of(row)))
    return plan_csv, plans.write(plan_csv)


def render_end_state(end: EndState) -> list[str]:
    """The lines ``ledger report`` prints about these files, with how to import each fix-up file back."""
    counts = ", ".join(f"{kind} {per['total']} ({per.get('complete', 0)} complete)" for kind, per in end.entity_counts.items())
    listed = len(end.table.entities)
    lines = [
        f"wrote {end.entities_csv} ({listed} {'entity that needs' if listed == 1 else 'entities that need'} attention; "
        f"all entities: {counts or 'none'}) and {end.report_html}"
    ]
    if end.plan_csv is not None:
        lines.append(f"wrote {end.plan_csv} ({end.plan_rows} rows: what the dry run says each would do)")
    for f in end.fixups:
        how = "" if f.layout == "original" else " (rebuilt from the ledger: the source file is gone or changed)"
        lines.append(f"wrote {f.path}: {f.lines} lines of {Path(f.source).name} to correct{how}; then:")
        lines.extend(f"  {cmd}" for cmd in f.commands)
    return lines
