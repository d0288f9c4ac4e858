"""Totals for everything: entities per kind and state, progress per site and per step.

Built without a Python object per row or per entity, so ``ledger report`` costs about the same on
210,000 rows as on 21,000 (issue 14):

- entities: SQL counts every entity with a key per kind and site, and how many are *open* (a current
  row not final) — ``ledger.store.entity_queries.entity_totals``; those not open are complete. The
  entities that need attention (a current row failed, invalid, blocked or running) and the invalid
  lines that name no entity are the :class:`~ledger.reporting.entities.EntityTable` of
  ``entities.csv``: their state is theirs (failed, blocked, pending); the other open entities are
  pending. Both readings put an entity at the least ``site_key`` of its current rows.
- steps: the current rows of each step by state (``Summary.actions``, counted in SQL). One row per
  entity and step, except while an earlier row of the same step is still running.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.reporting.entities import DONE, KINDS, EntityState, EntityTable
from ledger.store.entity_queries import EntityTotal

STATES = ("complete", "failed", "blocked", "pending")
NO_SITE = "(no site)"


@dataclass(frozen=True)
class Progress:
    """Entities (or steps of entities) by state: one line of a progress table."""

    name: str
    total: int = 0
    complete: int = 0
    failed: int = 0
    blocked: int = 0
    pending: int = 0

    @property
    def percent(self) -> float:
        return round(100.0 * self.complete / self.total, 1) if self.total else 100.0


@dataclass(frozen=True)
class Tallies:
    kinds: dict[str, dict[str, int]]  # {kind: {"total": n, state: n}} (states with n > 0): run_summary.json
    sites: tuple[Progress, ...]  # per site, its entities by state; entities of no known site last
    steps: tuple[Progress, ...]  # per step (in step order), its current rows by state


def step_state(status: str) -> str:
    if status in DONE:
        return "complete"
    if status in ("failed", "invalid"):
        return "failed"
    return "blocked" if status == "blocked" else "pending"


class _Counter:
    """{group: {"total" | state: n}}, added to and taken from."""

    def __init__(self) -> None:
        self.by: dict[str | None, dict[str, int]] = {}

    def add(self, group: str | None, state: str, n: int = 1) -> None:
        per = self.by.setdefault(group, {"total": 0})
        per["total"] += n
        per[state] = per.get(state, 0) + n


def _keyed_kind(e: EntityState) -> str | None:
    """The kind SQL counted the entity under (its key's prefix); None when SQL did not count it."""
    kind = e.entity.key.split(":", 1)[0]
    return kind if kind in KINDS and not e.entity.key.startswith("line:") else None


def tally(
    totals: Iterable[EntityTotal], table: EntityTable, site_names: Mapping[str, str],
    step_counts: Mapping[str, Mapping[str, int]], steps: Sequence[str],
) -> Tallies:
    """Merge the SQL counts with the entities of ``table`` (see the module docstring).
    ``site_names``: site key → the site as written; ``step_counts``: step → {row status: rows}."""
    kinds, sites = _Counter(), _Counter()
    for t in totals:
        for counter, group in ((kinds, t.kind), (sites, t.site_key)):
            counter.add(group, "complete", t.entities - t.open)
            counter.add(group, "pending", t.open)
    for e in table.entities:
        kind = _keyed_kind(e)
        if kind is not None:  # counted open by SQL: as pending, now as its own state
            kinds.add(kind, "pending", -1)
            sites.add(e.site_key, "pending", -1)
        kinds.add(kind or e.entity.kind, e.state)
        sites.add(e.site_key, e.state)
    order = {k: i for i, k in enumerate(KINDS)}
    per_kind = {
        k: {s: n for s, n in per.items() if n or s == "total"}
        for k, per in sorted(kinds.by.items(), key=lambda kv: (order.get(kv[0] or "", len(KINDS)), kv[0] or ""))
        if per["total"]
    }
    site_rows = [
        _progress(site_names.get(key) or key.split(":", 1)[-1] if key else NO_SITE, per)
        for key, per in sites.by.items() if per["total"]
    ]
    site_rows.sort(key=lambda p: (p.name == NO_SITE, p.name))
    step_rows = []
    for action in steps:
        per: dict[str, int] = {"total": 0}
        for status, n in step_counts.get(action, {}).items():
            per["total"] += n
            per[step_state(status)] = per.get(step_state(status), 0) + n
        step_rows.append(_progress(action, per))
    return Tallies(per_kind, tuple(site_rows), tuple(step_rows))


def _progress(name: str, per: Mapping[str, int]) -> Progress:
    return Progress(name, per["total"], *(per.get(s, 0) for s in STATES))
