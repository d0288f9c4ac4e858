"""The end state per entity: each person, workspace and site with the status of each of its steps.

An *entity* is what the operator migrates: a person (user actions), a workspace (workspace actions)
or a site (location actions; users and workspaces also name their site). A *step* is an action.
:class:`EntityBuilder` folds current rows (those of the entities that need attention,
``ledger.store.entity_queries.iter_attention_rows``) into one :class:`EntityState` per entity;
:func:`write_entities_csv` writes ``entities.csv``, the entities that need the operator (a step failed,
invalid, blocked or running). Of several current rows of one entity and step, the newest import's
row is the current one (a later import of the same step for the same entity replaces the earlier).
An entity's site is the least ``site_key`` of its current rows (named as that row writes it), the rule
the SQL counts of :mod:`ledger.reporting.tallies` use too.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.entities import PERSON, SITE, WORKSPACE, entity_kind
from ledger.importing.csvsource import header_key
from ledger.models import RowStatus
from ledger.store.queries import CurrentRow

#: entity kinds, in the order entities.csv lists them
KINDS = (SITE, PERSON, WORKSPACE)

#: statuses that stop an entity (the first such step's error is the entity's blocking error)
PROBLEM = ("failed", "invalid", "blocked")
DONE = (RowStatus.SUCCEEDED.value, RowStatus.SKIPPED.value, RowStatus.NOTHING_TO_DO.value)  # nothing_to_do: no step needed


@dataclass(frozen=True)
class Entity:
    kind: str  # site | person | workspace
    key: str  # the ledger's entity_key (ledger.entities), e.g. "person:ana@x.com", "site:hq"


@dataclass(frozen=True)
class RowEntity:
    """Which entity a row acts on (the ledger's keys) and how its file names it (for people to read)."""

    entity: Entity | None  # None: the row's key columns are empty (an invalid line)
    name: str  # the email, workspace name @ site, or site name, as written
    site_key: str | None
    site: str  # the site as written


@dataclass(frozen=True)
class Step:
    """The current row of one entity for one action."""

    action: str
    status: str
    file: str
    line_no: int
    row_id: int
    import_id: int
    error: str  # "" unless failed/invalid/blocked
    error_kind: str | None = None
    error_code: str | None = None
    http_status: int | None = None


@dataclass
class EntityState:
    entity: Entity
    name: str = ""
    site: str = ""
    site_key: str | None = None
    steps: dict[str, Step] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """complete | failed | blocked | pending: the worst of its steps."""
        statuses = {s.status for s in self.steps.values()}
        for worst in ("failed", "invalid", "blocked"):
            if worst in statuses:
                return "failed" if worst == "invalid" else worst
        return "complete" if statuses <= set(DONE) else "pending"

    @property
    def needs_attention(self) -> bool:
        """Failed, blocked, or a step running (in progress, or held by a run that died): entities.csv."""
        return self.state in ("failed", "blocked") or any(s.status == RowStatus.RUNNING for s in self.steps.values())

    def first_error(self, order: Iterable[str]) -> str:
        """The first step (in ``order``) that stops the entity: ``action: error (file line N)``."""
        for action in order:
            step = self.steps.get(action)
            if step is not None and step.status in PROBLEM:
                return f"{action}: {step.status}: {step.error} ({Path(step.file).name} line {step.line_no})"
        return ""


@dataclass(frozen=True)
class EntityTable:
    steps: tuple[str, ...]  # actions in chain order (the order they were first imported)
    entities: tuple[EntityState, ...]

    def needing_attention(self) -> EntityTable:
        return EntityTable(self.steps, tuple(e for e in self.entities if e.needs_attention))


# --- which entity a row concerns -------------------------------------------------------------------


def kind_of(action: str) -> str:
    return entity_kind(action) or action.split(".", 1)[0]


def _values(payload: Mapping[str, Any]) -> dict[str, str]:
    """Column → trimmed text, keyed like the importer matches headers (raw cells of invalid rows too)."""
    out: dict[str, str] = {}
    for k, v in payload.items():
        if isinstance(v, (str, int)) and not isinstance(v, bool):
            text = str(v).strip()
            if text:
                out.setdefault(header_key(str(k)), text)
    return out


def _first(values: Mapping[str, str], *names: str) -> str:
    return next((values[n] for n in names if values.get(n)), "")


def entity_of(row: CurrentRow, payload: Mapping[str, Any]) -> RowEntity:
    """The entity of a row: its ``entity_key``/``site_key`` (set at import, ``ledger.entities``: what
    "the same entity" means everywhere), and the names its columns give them, as written."""
    v = _values(payload)
    kind = kind_of(row.action)
    site = _first(v, "location_name", "location_id", "target_location_id")
    if kind == SITE:
        site = name = _first(v, "name", "location_name", "location_id")
    elif kind == PERSON:
        name = v.get("email", "").lower() or _first(v, "person_id").rstrip("=")
    elif kind == WORKSPACE:
        ws = _first(v, "workspace_name", "display_name")
        name = f"{ws} @ {site}" if ws and site else ws or _first(v, "workspace_id").rstrip("=")
    else:
        name = _first(v, "email", "name", "display_name")
    entity = Entity(kind, row.entity_key) if row.entity_key else None
    return RowEntity(entity, name, row.site_key, site)


# --- building the table ------------------------------------------------------------------------------


class EntityBuilder:
    """Folds current rows (:meth:`add`, in import and line order) into one state per entity."""

    def __init__(self) -> None:
        self._first_import: dict[str, int] = {}
        self._table: dict[Entity, EntityState] = {}

    def add(self, row: CurrentRow, file: str, who: RowEntity) -> None:
        """A row whose key columns are empty (an invalid line) is an entity of its own, named by its
        file and line, so that it is not lost from the table."""
        self._first_import.setdefault(row.action, row.import_id)
        entity, name = who.entity, who.name
        if entity is None:
            name = f"{Path(file).name} line {row.line_no}" + (f" ({who.name})" if who.name else "")
            entity = Entity(kind_of(row.action), f"line:{file}:{row.line_no}")  # one per line of a file
        state = self._table.get(entity)
        if state is None:
            state = self._table[entity] = EntityState(entity, name)
        if who.site_key and (state.site_key is None or who.site_key < state.site_key):
            state.site_key, state.site = who.site_key, who.site
        earlier = state.steps.get(row.action)
        if earlier is None or (earlier.import_id, earlier.line_no) < (row.import_id, row.line_no):
            state.steps[row.action] = _step(row, file)

    def table(self, steps: Sequence[str] = ()) -> EntityTable:
        """The entities, sorted; ``steps``: the step columns in order (default: the steps of the rows
        added, in the order they were first imported; steps of the rows not in ``steps`` go last)."""
        first = self._first_import
        steps = (*steps, *sorted((a for a in first if a not in steps), key=lambda a: (first[a], a)))
        rank = {k: i for i, k in enumerate(KINDS)}
        ordered = sorted(
            self._table.values(), key=lambda e: (rank.get(e.entity.kind, len(KINDS)), e.entity.kind, e.site, e.name)
        )
        return EntityTable(steps, tuple(ordered))


def _step(row: CurrentRow, file: str) -> Step:
    if row.status not in PROBLEM:
        return Step(row.action, row.status, file, row.line_no, row.row_id, row.import_id, "")
    return Step(
        row.action, row.status, file, row.line_no, row.row_id, row.import_id, row.error_message or "",
        row.error_kind, row.error_code, row.http_status,
    )


ENTITY_FIELDS = ("kind", "entity", "site", "state")


def write_entities_csv(table: EntityTable, path: Path) -> int:
    """``entities.csv``: the entities of ``table`` (those that need attention), each with kind, entity,
    site, state, one column per step (its current status; empty when the entity has no such step) and
    the first blocking error. Returns the number of entities."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow([*ENTITY_FIELDS, *table.steps, "first_error"])
        for e in table.entities:
            cells = [e.steps[a].status if a in e.steps else "" for a in table.steps]
            out.writerow([e.entity.kind, e.name, e.site, e.state, *cells, e.first_error(table.steps)])
    return len(table.entities)
