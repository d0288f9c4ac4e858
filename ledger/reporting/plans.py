"""What ``ledger import --plan`` and ``ledger plan init`` print."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.reporting.report import render_import

if TYPE_CHECKING:
    from ledger.importing.plan import PlanResult
    from ledger.importing.plan_v21 import WrittenPlan


def render_plan(result: PlanResult) -> str:
    """``ledger import --plan``: one block per step (its import as ``ledger import`` shows it)."""
    lines = [f"plan {result.plan}: {len(result.steps)} steps, one transaction"]
    for step, imported in result.steps:
        after = f" (after {', '.join(step.depends_on)})" if step.depends_on else ""
        lines.append(f"step {step.name}{after}:")
        lines.extend(f"  {line}" for line in render_import(imported).splitlines())
    lines.append("next: `ledger work` (each row runs once the same entity's earlier steps are final)")
    return "\n".join(lines)


def render_written_plan(written: WrittenPlan) -> str:
    lines = [f"wrote {written.path}: {len(written.active)} steps"]
    lines.extend(f"  left out (commented): {name}: {reason}" for name, reason in written.left_out)
    lines.append(f"next: `ledger import --plan {written.path}` and `ledger work`")
    return "\n".join(lines)
