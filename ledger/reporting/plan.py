"""``plan.csv``: what a dry run says each row would do, read as a chain.

``ledger work --dry-run`` leaves every row pending with ``{"dry_run": true, "would": "change" |
"skip" | "fail", "planned": {…}, …}`` in its result (``ledger.work.rows``): each row is previewed
against the tenant as it is now. A row whose prerequisite (a row of an import it was imported
``--after``, for the same entity — or its site, or any row when neither can be told) would change
first is shown ``after <step>`` instead of its own ``fail``/``skip``: its preview ran against a
state its prerequisite is about to change (a licence row for a user the create row has not made
yet fails ``unknown user`` in the preview). The chain is followed: a row after a row that is
itself ``after`` something is ``after`` too.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.importing.normalize import format_value
from ledger.reporting.entities import Entity
from ledger.store.queries import CurrentRow, ImportSource

#: prerequisite rows named in a row's ``after`` cell (the rest are counted)
MAX_AFTER = 3
PLAN_FIELDS = ("row_id", "file", "line_no", "action", "kind", "entity", "site", "would", "after", "changes", "detail")


@dataclass
class PlanRow:
    row: CurrentRow
    file: str
    entity: Entity | None
    site: str
    would: str  # change | skip | fail | not previewed | running | done: <status>
    changes: str = ""
    detail: str = ""
    after: list[str] = field(default_factory=list)  # prerequisite steps that would change first

    @property
    def changing(self) -> bool:
        return self.would == "change" or bool(self.after)

    @property
    def shown(self) -> str:
        if self.after and self.would in ("fail", "skip"):
            return "after " + ", ".join(dict.fromkeys(a.split(" ", 1)[0] for a in self.after))
        return self.would


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "value": data}


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else format_value(value)


def describe_changes(planned: Mapping[str, Any] | None, before: Mapping[str, Any] | None) -> str:
    """``field: before → after`` for each planned field (``field = after`` when the action did not
    report the value before)."""
    old = _flatten(before or {})
    parts = []
    for name, value in _flatten(planned or {}).items():
        if name in old:
            parts.append(f"{name}: {_text(old[name]) or '(empty)'} → {_text(value)}")
        else:
            parts.append(f"{name} = {_text(value)}")
    return "; ".join(parts)


def plan_row(row: CurrentRow, file: str, entity: Entity | None, site: str) -> PlanRow:
    result: dict[str, Any] = {}
    if row.result:
        loaded = json.loads(row.result)
        result = loaded if isinstance(loaded, dict) else {}
    plan = PlanRow(row, file, entity, site, would=f"done: {row.status}")
    if row.status == "pending" and result.get("dry_run"):
        plan.would = str(result.get("would") or "fail")
        plan.changes = describe_changes(result.get("planned"), result.get("before"))
        plan.detail = str(result.get("error") or result.get("reason") or "")
    elif row.status == "pending":
        plan.would = "not previewed"
    elif row.status == "running":
        plan.would = "running"
    elif row.status in ("failed", "invalid", "blocked"):
        plan.detail = row.error_message or ""
    return plan


class PlanCollector:
    """Collects every current row (:meth:`add`, in import order), links prerequisites, writes plan.csv."""

    def __init__(self, sources: Mapping[int, ImportSource]) -> None:
        self.sources = sources
        self.rows: list[PlanRow] = []
        self.previewed = 0
        # import id → rows by entity, by site-entity key, and all
        self._by_entity: dict[int, dict[Entity, list[PlanRow]]] = {}
        self._all: dict[int, list[PlanRow]] = {}
        self._changing: dict[int, list[PlanRow]] = {}
        self._kinds: dict[int, set[str]] = {}

    def add(self, row: CurrentRow, file: str, entity: Entity | None, site: str) -> None:
        plan = plan_row(row, file, entity, site)
        self.previewed += plan.would in ("change", "skip", "fail")
        source = self.sources.get(row.import_id)
        for dep in source.depends_on if source else ():
            pres = self._prerequisites(dep, entity, site)
            changing = self._changing_in(dep) if pres is None else [p for p in pres if p.changing]
            for pre in changing[:MAX_AFTER]:
                plan.after.append(f"{pre.row.action} ({Path(pre.file).name} line {pre.row.line_no})")
            if len(changing) > MAX_AFTER:
                plan.after.append(f"{changing[0].row.action} (and {len(changing) - MAX_AFTER} more rows)")
        if plan.after and plan.would in ("fail", "skip"):
            plan.detail = f"previewed before its prerequisite ran: would {plan.would}" + (
                f": {plan.detail}" if plan.detail else ""
            )
        self.rows.append(plan)
        self._all.setdefault(row.import_id, []).append(plan)
        if entity is not None:
            self._by_entity.setdefault(row.import_id, {}).setdefault(entity, []).append(plan)

    def _changing_in(self, dep: int) -> list[PlanRow]:
        """The changing rows of a whole import (computed once: an import's rows all come before the
        rows of the imports made --after it)."""
        if dep not in self._changing:
            self._changing[dep] = [p for p in self._all.get(dep, []) if p.changing]
        return self._changing[dep]

    def _prerequisites(self, dep: int, entity: Entity | None, site: str) -> list[PlanRow] | None:
        """The rows of import ``dep`` this row waits for: the same entity; else its site; else all
        (None)."""
        by_entity = self._by_entity.get(dep, {})
        if entity is not None and entity in by_entity:
            return by_entity[entity]
        if site and Entity("site", site) in by_entity:
            return by_entity[Entity("site", site)]
        kinds = self._kinds.get(dep)
        if kinds is None:
            kinds = self._kinds[dep] = {e.kind for e in by_entity}
        if entity is not None and entity.kind in kinds:
            return []  # the same kind of entity, but not this one: nothing to wait for
        if site and "site" in kinds:
            return []  # sites, but not this row's site
        return None

    def write(self, path: Path) -> int:
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(PLAN_FIELDS)
            for p in self.rows:
                e = p.entity
                out.writerow([
                    p.row.row_id, p.file, p.row.line_no, p.row.action, e.kind if e else "", e.key if e else "",
                    p.site, p.shown, "; ".join(p.after), p.changes, p.detail,
                ])
        return len(self.rows)
