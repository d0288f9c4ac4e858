"""Read-only SQL for the end state per entity (``entities.csv``, ``report.html``, ``run_summary.json``).

The report's cost must not grow with the rows that need nothing from the operator, so the entities
are read two ways, in the caller's :func:`ledger.store.queries.snapshot`:

- :func:`entity_totals`: every person, workspace and site counted in SQL — per kind and site, how many
  and how many are *open* (a current row not yet final: pending, running, failed, invalid, blocked) —
  from the ``(entity_key, action, status, site_key)`` index alone (rev 0005), never reading a row;
- :func:`iter_attention_rows`: the current rows of the entities that need attention (a current row
  failed, invalid, blocked or running) and of invalid lines that name no entity: what
  ``entities.csv`` lists, the fix-up files and the errors by cause are built from.

An entity's site is the least ``site_key`` of its current rows (both here and in
``ledger.reporting.entities``), so the two readings add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from ledger.models import RowStatus
from ledger.store.queries import CurrentRow, current_columns
from ledger.store.schema import imports, ledger_rows

#: a current row in one of these puts its entity in entities.csv
ATTENTION = (RowStatus.FAILED.value, RowStatus.INVALID.value, RowStatus.BLOCKED.value, RowStatus.RUNNING.value)
#: final statuses: an entity whose current rows are all in these is complete
DONE = (RowStatus.SUCCEEDED.value, RowStatus.SKIPPED.value, RowStatus.NOTHING_TO_DO.value)


@dataclass(frozen=True)
class EntityTotal:
    kind: str  # person | workspace | site
    site_key: str | None  # the entities' site (the least site_key of each one's current rows)
    entities: int
    open: int  # of them, those with a current row that is not final (the rest are complete)


def _current(import_id: int | None) -> list[sa.ColumnElement[bool]]:
    where = [ledger_rows.c.status != RowStatus.SUPERSEDED.value]
    return where if import_id is None else [*where, ledger_rows.c.import_id == import_id]


def entity_totals(conn: sa.Connection, kinds: Sequence[str], import_id: int | None = None) -> list[EntityTotal]:
    """Entities with a key (``ledger.entity_key``) of each kind, by site: how many, how many open.
    One range of the index per kind (keys are ``<kind>:…``), grouped per entity in index order."""
    l = ledger_rows.c
    out: list[EntityTotal] = []
    for kind in kinds:
        per_entity = (
            sa.select(
                sa.func.min(l.site_key).label("site_key"),
                sa.func.max(l.status.not_in(DONE), type_=sa.Integer).label("open"),
            )
            .where(l.entity_key >= f"{kind}:", l.entity_key < f"{kind};", *_current(import_id))  # ';' follows ':'
            .group_by(l.entity_key)
            .subquery()
        )
        stmt = sa.select(per_entity.c.site_key, sa.func.count(), sa.func.sum(per_entity.c.open)).group_by(
            per_entity.c.site_key
        )
        out.extend(EntityTotal(kind, site, int(n), int(n_open or 0)) for site, n, n_open in conn.execute(stmt))
    return out


def iter_attention_rows(conn: sa.Connection, import_id: int | None = None) -> Iterator[CurrentRow]:
    """Every current row of an entity that has a current row failed, invalid, blocked or running, and
    every current row with no entity key (an invalid line whose key cells are empty); in import and
    line order, streamed."""
    l = ledger_rows.c
    needing = sa.select(l.entity_key).where(l.status.in_(ATTENTION), l.entity_key.is_not(None), *_current(import_id))
    keyed = sa.select(*current_columns()).where(l.entity_key.in_(needing), *_current(import_id))
    keyless = sa.select(*current_columns()).where(l.entity_key.is_(None), *_current(import_id))
    both = sa.union_all(keyed, keyless).subquery()
    stmt = sa.select(both).order_by(both.c.import_id, both.c.line_no)
    for row in conn.execute(stmt):
        yield CurrentRow(*row)


def site_rows(conn: sa.Connection, site_keys: Iterable[str]) -> dict[str, CurrentRow]:
    """A row naming each site, for its name as written: the site's own row (a ``location.*`` import's)
    when there is one, else the earliest. One index probe per site and import (``(import_id, site_key)``)."""
    keys = sorted(set(site_keys))
    best: dict[str, tuple[bool, int]] = {}
    for start in range(0, len(keys), 500):  # a few hundred bound values a statement
        for key, is_own, row_id in conn.execute(_site_probe(keys[start:start + 500])):
            if row_id is not None and (key not in best or (not is_own, row_id) < (not best[key][0], best[key][1])):
                best[key] = (bool(is_own), row_id)
    if not best:
        return {}
    rows = conn.execute(sa.select(*current_columns()).where(ledger_rows.c.id.in_([r for _, r in best.values()])))
    by_id = {r[0]: CurrentRow(*r) for r in rows}
    return {key: by_id[row_id] for key, (_, row_id) in best.items()}


def _site_probe(keys: list[str]) -> sa.Select[tuple[str, bool, int | None]]:
    """(site key, import is a location.* one, its first row naming the site) for every site and import."""
    sites = sa.union_all(*(sa.select(sa.literal(k, sa.Text).label("key")) for k in keys)).subquery("site_keys")
    first = (
        sa.select(sa.func.min(ledger_rows.c.id))
        .where(ledger_rows.c.import_id == imports.c.id, ledger_rows.c.site_key == sites.c.key)
        .scalar_subquery()
    )
    return sa.select(sites.c.key, imports.c.action.like("location.%"), first).select_from(sites.join(imports, sa.true()))
