"""``plan.csv``: what a dry run says each row would do, read as a chain.

``ledger work --dry-run`` leaves every row pending with ``{"dry_run": true, "would": "change" |
"skip" | "fail", "planned": {…}, …}`` in its result (``ledger.work.rows``): each row is previewed
against the tenant as it is now. A row whose prerequisite (as the claim finds them,
``ledger.store.chains``: a row of an import it was made ``--after``, matched by entity, site or
all rows; and a user's create row for the user's other steps) would change first is shown ``after <step>`` instead of its own ``fail``/``skip``: its preview ran against a
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

from ledger.entities import CREATE_PERSON_ACTIONS
from ledger.importing.normalize import format_value
from ledger.models import DepMatch
from ledger.reporting.entities import RowEntity, kind_of
from ledger.store.queries import CurrentRow, ImportSource

#: prerequisite rows named in a row's ``after`` cell (the rest are counted)
MAX_AFTER = 3
PLAN_FIELDS = ("row_id", "file", "line_no", "action", "kind", "entity", "site", "would", "after", "changes", "detail")


@dataclass
class PlanRow:
    row_id: int
    import_id: int
    line_no: int
    action: str
    file: str
    who: RowEntity
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

    @property
    def ref(self) -> str:
        return f"{self.action} ({Path(self.file).name} line {self.line_no})"


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


def plan_row(row: CurrentRow, file: str, who: RowEntity) -> PlanRow:
    result: dict[str, Any] = {}
    if row.result:
        loaded = json.loads(row.result)
        result = loaded if isinstance(loaded, dict) else {}
    plan = PlanRow(row.row_id, row.import_id, row.line_no, row.action, file, who, would=f"done: {row.status}")
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
    """Collects every current row (:meth:`add`, in import order), links prerequisites as the claim
    does (``ledger.store.chains``), writes plan.csv."""

    def __init__(self, sources: Mapping[int, ImportSource]) -> None:
        self.sources = sources
        self.rows: list[PlanRow] = []
        self.previewed = 0
        self._all: dict[int, list[PlanRow]] = {}  # import id → its rows
        self._by_entity: dict[int, dict[str, list[PlanRow]]] = {}  # import id → entity_key → rows
        self._by_site: dict[int, dict[str, list[PlanRow]]] = {}  # import id → site_key → rows
        self._creates: dict[str, list[PlanRow]] = {}  # entity_key → create rows of that person
        self._changing: dict[tuple[int, str | None], list[PlanRow]] = {}

    def add(self, row: CurrentRow, file: str, who: RowEntity) -> None:
        plan = plan_row(row, file, who)
        self.previewed += plan.would in ("change", "skip", "fail")
        changing: list[PlanRow] = []
        source = self.sources.get(row.import_id)
        for dep, match in source.depends_on if source else ():
            changing += self._changing_prerequisites(dep, match, row)
        if row.entity_key and row.action.startswith("user.") and row.action not in CREATE_PERSON_ACTIONS:
            changing += [p for p in self._creates.get(row.entity_key, ()) if p.changing]
        unique = list({id(p): p for p in changing}.values())
        plan.after = [p.ref for p in unique[:MAX_AFTER]]
        if len(unique) > MAX_AFTER:
            plan.after.append(f"{unique[MAX_AFTER].action} (and {len(unique) - MAX_AFTER} more rows)")
        if plan.after and plan.would in ("fail", "skip"):
            plan.detail = f"previewed before its prerequisite ran: would {plan.would}" + (
                f": {plan.detail}" if plan.detail else ""
            )
        self._index(plan, row)

    def _index(self, plan: PlanRow, row: CurrentRow) -> None:
        self.rows.append(plan)
        self._all.setdefault(row.import_id, []).append(plan)
        if row.entity_key:
            self._by_entity.setdefault(row.import_id, {}).setdefault(row.entity_key, []).append(plan)
            if row.action in CREATE_PERSON_ACTIONS:
                self._creates.setdefault(row.entity_key, []).append(plan)
        if row.site_key:
            self._by_site.setdefault(row.import_id, {}).setdefault(row.site_key, []).append(plan)

    def _changing_prerequisites(self, dep: int, match: str, row: CurrentRow) -> list[PlanRow]:
        """The rows of import ``dep`` that ``row`` waits for (``match``: entity, site or all) and that
        would change. The lists of a site or a whole import are computed once (an import's rows all
        come before the rows of the imports made after it)."""
        if match == DepMatch.ENTITY:
            rows = self._by_entity.get(dep, {}).get(row.entity_key or "", [])
            return [p for p in rows if p.changing]
        site = row.site_key if match == DepMatch.SITE else None
        key = (dep, site)
        if key not in self._changing:
            rows = self._by_site.get(dep, {}).get(site, []) if site else self._all.get(dep, [])
            self._changing[key] = [p for p in rows if p.changing]
        return self._changing[key]

    def write(self, path: Path) -> int:
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(PLAN_FIELDS)
            for p in self.rows:
                kind = p.who.entity.kind if p.who.entity else kind_of(p.action)
                out.writerow([
                    p.row_id, p.file, p.line_no, p.action, kind, p.who.name, p.who.site, p.shown,
                    "; ".join(p.after), p.changes, p.detail,
                ])
        return len(self.rows)
