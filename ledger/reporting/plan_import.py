"""What ``ledger import --plan`` and ``ledger plan init`` print."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ledger.reporting.report import columns_by_reader, render_import

if TYPE_CHECKING:
    from ledger.importing.plan import PlanResult, UnreadColumns
    from ledger.importing.plan_v21 import WrittenPlan


def render_plan(result: PlanResult) -> str:
    """``ledger import --plan``: one block per step (its import as ``ledger import`` shows it)."""
    lines = [f"plan {result.plan}: {len(result.steps)} steps, one transaction"]
    told: set[str] = set()  # how a file was read (e.g. as Windows-1252): once, at its first step
    for step, imported in result.steps:
        after = f" (after {', '.join(step.depends_on)})" if step.depends_on else ""
        lines.append(f"step {step.name}{after}:")
        notes = tuple(n for n in imported.notes if n not in told)
        told.update(imported.notes)
        lines.extend(f"  {line}" for line in render_import(dataclasses.replace(imported, notes=notes)).splitlines())
    for unread in result.unread:
        lines.extend(render_unread(unread))
    lines.append("next: `ledger work` (each row runs once the same entity's earlier steps are final)")
    return "\n".join(lines)


def render_unread(unread: UnreadColumns) -> list[str]:
    """One file's columns that no step of the plan reads: a warning for those another action reads."""
    lines = [f"{unread.source.name} (steps {', '.join(unread.steps)}):"]
    if unread.family:
        shown = columns_by_reader(unread.family)
        lines.append(f"  warning: no step of the plan reads these columns, which other actions read: {shown}")
    if unread.ignored:
        lines.append(f"  ignored columns (no step of the plan reads them): {', '.join(unread.ignored)}")
    return lines


def render_written_plan(written: WrittenPlan) -> str:
    lines = [f"wrote {written.path}: {len(written.active)} steps"]
    lines.extend(f"  left out (commented): {name}: {reason}" for name, reason in written.left_out)
    lines.append(f"next: `ledger import --plan {written.path}` and `ledger work`")
    return "\n".join(lines)
