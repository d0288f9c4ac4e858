"""SQL of the chains between rows: per-entity prerequisites, blocked rows, superseding fixes.

A row ``l`` has prerequisite rows ``p`` (see the README, "Chains per entity"):

- through ``import_deps`` (``ledger import --after N``, or a plan's ``depends_on``): the rows of
  import N with ``d.match`` = ``entity`` → the same ``entity_key``; ``site`` → the same ``site_key``
  (every row of N when ``l`` names no site); ``all`` → every row of N;
- implicitly, for a user's steps other than the create: the create rows (``user.create``,
  ``user.scim_create``) of the same person, whatever the imports: a user's later steps never run
  before that user's create step is final.

Superseded rows are never prerequisites; invalid rows that only repeat an earlier line's key
(``error_code = 'duplicate'``) never block. A row waits while a prerequisite is ``pending``/``running``;
it is ``blocked`` while one is ``failed``/``invalid``/``blocked``, and back to ``pending`` by itself
once none is (:func:`unblock`, run before every claim, after ``retry`` and after an import).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ledger.entities import CREATE_PERSON_ACTIONS, Resolver
from ledger.models import DepMatch
from ledger.store.engine import utcnow

WAITING = "('pending', 'running')"
#: a prerequisite in one of these (except a duplicate line) blocks its dependants
_FAILING = "p.status IN ('failed', 'invalid', 'blocked') AND p.error_code IS NOT 'duplicate'"
_CREATES = "(" + ", ".join(f"'{a}'" for a in CREATE_PERSON_ACTIONS) + ")"
BLOCKED_CODE = "prerequisite_failed"


def _prereq_exists(condition: str) -> str:
    """SQL: ``l`` has a prerequisite row ``p`` meeting ``condition`` (each branch walks an index)."""
    # CROSS JOIN fixes SQLite's join order: the few import_deps rows of l's import first, then p through
    # an index; left to itself the planner walked every pending row per candidate (a claim grew with
    # the ledger: 0.65 s at 21,000 rows, 5 s at 210,000 — bench/scale_bench.py)
    deps = "FROM import_deps AS d CROSS JOIN ledger AS p ON p.import_id = d.depends_on_import_id"
    return (
        f"(EXISTS (SELECT 1 {deps} AND p.entity_key = l.entity_key "
        f"WHERE d.import_id = l.import_id AND d.match = 'entity' AND {condition}) "
        f"OR EXISTS (SELECT 1 {deps} AND (l.site_key IS NULL OR p.site_key = l.site_key) "
        f"WHERE d.import_id = l.import_id AND d.match = 'site' AND {condition}) "
        f"OR EXISTS (SELECT 1 {deps} WHERE d.import_id = l.import_id AND d.match = 'all' AND {condition}) "
        f"OR (l.action LIKE 'user.%' AND l.action NOT IN {_CREATES} AND EXISTS (SELECT 1 FROM ledger AS p "
        f"WHERE p.entity_key = l.entity_key AND p.action IN {_CREATES} AND {condition})))"
    )


#: SQL conditions on a candidate row ``l`` (used by the claim in ``ledger.store.claims``)
WAITS = _prereq_exists(f"p.status IN {WAITING}")
BLOCKS = _prereq_exists(_FAILING)

# the first failing prerequisite of a row ``l``, for the blocked row's message and blocked_rows.csv
# (same branches as BLOCKS)
FIRST_BLOCKER = (
    "SELECT p.id FROM ledger AS p WHERE {failing} AND ("
    "p.import_id IN (SELECT d.depends_on_import_id FROM import_deps AS d WHERE d.import_id = l.import_id AND "
    "(d.match = 'all' OR (d.match = 'entity' AND p.entity_key = l.entity_key) OR "
    "(d.match = 'site' AND (l.site_key IS NULL OR p.site_key = l.site_key)))) "
    "OR (l.action LIKE 'user.%' AND l.action NOT IN {creates} AND p.entity_key = l.entity_key "
    "AND p.action IN {creates})) ORDER BY p.import_id, p.line_no LIMIT 1"
).format(failing=_FAILING, creates=_CREATES)

_BLOCK = sa.text(
    "UPDATE ledger AS l SET status = 'blocked', error_kind = NULL, error_code = :code, http_status = NULL, "
    "tracking_id = NULL, updated_at = :now, error_message = (SELECT CASE WHEN b.status = 'blocked' "
    # a blocked prerequisite already names the failing row at the root of the chain: name that one
    # (not 'blocked by … blocked by … blocked by …' with the root's error repeated down the chain)
    "AND b.error_message LIKE 'blocked by %' THEN b.error_message ELSE "
    "'blocked by import ' || b.import_id || ' line ' || b.line_no || ' (' || b.action || ', row ' || b.id || "
    "', ' || b.status || '): ' || coalesce(b.error_message, b.error_code, '') END "
    f"FROM ledger AS b WHERE b.id = ({FIRST_BLOCKER})) "
    f"WHERE l.status = 'pending' AND {BLOCKS}"
)
_UNBLOCK = sa.text(
    "UPDATE ledger AS l SET status = 'pending', error_code = NULL, error_message = NULL, updated_at = :now "
    f"WHERE l.status = 'blocked' AND NOT {BLOCKS}"
)
_MAX_CHAIN = 50  # chain depth bound for the block/unblock fixpoint (a plan has ≤ 6 steps per entity)


def block(conn: sa.Connection) -> int:
    """Pending rows with a failing prerequisite → ``blocked`` (naming it), down the whole chain."""
    total = 0
    for _ in range(_MAX_CHAIN):
        n = conn.execute(_BLOCK, {"code": BLOCKED_CODE, "now": utcnow()}).rowcount
        total += n
        if not n:
            break
    return total


def unblock(conn: sa.Connection) -> int:
    """Blocked rows none of whose prerequisites fails any more → ``pending``, down the whole chain."""
    total = 0
    for _ in range(_MAX_CHAIN):
        n = conn.execute(_UNBLOCK, {"now": utcnow()}).rowcount
        total += n
        if not n:
            break
    return total


# --- import: resolving ids, how a dependency matches -----------------------------------------------

_KNOWN_PAIRS = sa.text(
    "SELECT action, payload FROM ledger WHERE status != 'invalid' AND ("
    "(json_extract(payload, '$.person_id') IS NOT NULL AND json_extract(payload, '$.email') IS NOT NULL) OR "
    "(json_extract(payload, '$.location_id') IS NOT NULL AND (json_extract(payload, '$.name') IS NOT NULL "
    "OR json_extract(payload, '$.location_name') IS NOT NULL)))"
)
_CREATED_PEOPLE = sa.text(
    f"SELECT substr(entity_key, 8), json_extract(result, '$.person_id') FROM ledger WHERE action IN {_CREATES} "
    "AND status IN ('succeeded', 'skipped') AND entity_key LIKE 'person:%' AND entity_key NOT LIKE 'person:id:%' "
    "AND json_extract(result, '$.person_id') IS NOT NULL"
)


def _known_pairs(conn: sa.Connection) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for action, payload in conn.execute(_KNOWN_PAIRS):
        yield action, json.loads(payload)
    for email, person_id in conn.execute(_CREATED_PEOPLE):
        yield "user.create", {"email": email, "person_id": person_id}


def load_resolver(conn: sa.Connection) -> Resolver:
    """A resolver that reads the ledger's id ↔ email/name pairs at the first id it must resolve."""
    return Resolver(loader=lambda: _known_pairs(conn))


def import_action(conn: sa.Connection, import_id: int) -> str | None:
    return conn.execute(sa.text("SELECT action FROM imports WHERE id = :i"), {"i": import_id}).scalar()


@dataclass(frozen=True)
class KeyForms:
    """How the rows of one import name their entity / site: counts by form."""

    by_id: int = 0
    by_name: int = 0
    none: int = 0


def key_forms(conn: sa.Connection, import_id: int, column: str) -> KeyForms:
    """Counts of ``column`` (``entity_key`` or ``site_key``) values by id, by name, and NULL."""
    assert column in ("entity_key", "site_key")
    row = conn.execute(
        sa.text(
            f"SELECT coalesce(sum({column} LIKE '%:id:%'), 0), coalesce(sum({column} NOT LIKE '%:id:%'), 0), "
            f"coalesce(sum({column} IS NULL), 0) FROM ledger WHERE import_id = :i AND status != 'invalid'"
        ),
        {"i": import_id},
    ).one()
    return KeyForms(int(row[0]), int(row[1]), int(row[2]))


def add_deps(conn: sa.Connection, import_id: int, deps: Mapping[int, DepMatch]) -> None:
    for dep, match in deps.items():
        conn.execute(
            sa.text(
                "INSERT INTO import_deps (import_id, depends_on_import_id, match) VALUES (:i, :d, :m) "
                "ON CONFLICT DO NOTHING"
            ),
            {"i": import_id, "d": dep, "m": match.value},
        )


def deps_of(conn: sa.Connection, import_id: int) -> dict[int, DepMatch]:
    rows = conn.execute(
        sa.text("SELECT depends_on_import_id, match FROM import_deps WHERE import_id = :i"), {"i": import_id}
    )
    return {int(d): DepMatch(m) for d, m in rows}


# --- import: superseding earlier rows of the same action and entity ---------------------------------


@dataclass
class Superseded:
    """What importing import N did to earlier rows of the same action (reported by ``ledger import``)."""

    replaced: dict[int, int] = field(default_factory=dict)  # earlier import → its rows now superseded by N's
    already_done: dict[int, int] = field(default_factory=dict)  # earlier import → N's lines it had already done
    running: int = 0  # earlier rows held by a run: not superseded (they finish first)
    relinked: tuple[int, ...] = ()  # imports whose rows now also wait for N's rows
    inherited: tuple[int, ...] = ()  # prerequisites N takes over from the imports it replaces
    unblocked: int = 0


# the newest row of import :n for each entity: the first line of the file naming it (not a duplicate)
_NEW_ROWS = (
    "SELECT entity_key, min(id) AS id FROM ledger WHERE import_id = :n AND entity_key IS NOT NULL "
    "AND error_code IS NOT 'duplicate' GROUP BY entity_key"
)
_SUPERSEDE = sa.text(
    f"UPDATE ledger AS o SET status = 'superseded', updated_at = :now, superseded_by = (SELECT r.id FROM "
    f"({_NEW_ROWS}) AS r WHERE r.entity_key = o.entity_key) "
    "WHERE o.action = :action AND o.import_id != :n AND o.status IN ('pending', 'failed', 'invalid', 'blocked') "
    f"AND o.entity_key IN (SELECT entity_key FROM ({_NEW_ROWS})) "
    "RETURNING import_id"
)
# an earlier line of the same file (same path and line) that named no entity (e.g. its email was
# invalid): the corrected line at that place replaces it
_SUPERSEDE_LINE = sa.text(
    "UPDATE ledger AS o SET status = 'superseded', updated_at = :now, superseded_by = (SELECT r.id FROM ledger "
    "AS r WHERE r.import_id = :n AND r.line_no = o.line_no) "
    "WHERE o.action = :action AND o.import_id != :n AND o.entity_key IS NULL "
    "AND o.status IN ('pending', 'failed', 'invalid', 'blocked') "
    "AND o.import_id IN (SELECT e.id FROM imports AS e JOIN imports AS me ON me.id = :n WHERE e.path = me.path) "
    "AND EXISTS (SELECT 1 FROM ledger AS r WHERE r.import_id = :n AND r.line_no = o.line_no) "
    "RETURNING import_id"
)
_RUNNING_SAME = sa.text(
    f"SELECT count(*) FROM ledger AS o WHERE o.action = :action AND o.import_id != :n AND o.status = 'running' "
    f"AND o.entity_key IN (SELECT entity_key FROM ({_NEW_ROWS}))"
)
_DONE_SAME = sa.text(
    "SELECT r.id, r.payload, o.id, o.import_id, o.line_no, o.status, o.payload FROM ledger AS r "
    "JOIN ledger AS o ON o.entity_key = r.entity_key AND o.action = r.action AND o.import_id != r.import_id "
    "WHERE r.import_id = :n AND r.status = 'pending' AND o.status IN ('succeeded', 'skipped') ORDER BY r.id, o.id DESC"
)
_MARK_DONE = sa.text(
    "UPDATE ledger SET status = 'superseded', superseded_by = :by, updated_at = :now, "
    "error_message = :message WHERE id = :id AND status = 'pending'"
)


def supersede(conn: sa.Connection, import_id: int, action: str) -> Superseded:
    """Import ``import_id`` (of ``action``) replaces the earlier rows of the same action and entity.

    Each earlier ``pending``/``failed``/``invalid``/``blocked`` row becomes ``superseded`` (its
    ``superseded_by`` = the new row), and so does such a row of the same file and line that named no
    entity (an invalid email, corrected in place); a new line whose intent (same payload) an earlier row already
    carried out (``succeeded``/``skipped``) is itself ``superseded`` by that row and never executed.
    Imports that depended on a replaced import now also depend on this one (same match), and this one
    takes over the replaced import's own prerequisites; then blocked rows whose blocker is gone wait again.
    """
    out = Superseded()
    params = {"n": import_id, "action": action, "now": utcnow()}
    out.running = int(conn.execute(_RUNNING_SAME, params).scalar() or 0)
    for stmt in (_SUPERSEDE, _SUPERSEDE_LINE):
        for (old_import,) in conn.execute(stmt, params).all():
            out.replaced[old_import] = out.replaced.get(old_import, 0) + 1
    _mark_already_done(conn, import_id, out)
    replaced = sorted(out.replaced)
    if replaced:
        out.inherited = _inherit(conn, import_id, replaced)
        out.relinked = _relink(conn, import_id, replaced)
    out.unblocked = unblock(conn)
    return out


def _mark_already_done(conn: sa.Connection, import_id: int, out: Superseded) -> None:
    seen: set[int] = set()
    now = utcnow()
    for rid, payload, oid, o_import, o_line, o_status, o_payload in conn.execute(_DONE_SAME, {"n": import_id}).all():
        if rid in seen or json.loads(payload) != json.loads(o_payload):
            continue
        seen.add(rid)
        message = f"already done by import {o_import} line {o_line} ({o_status}, row {oid}); not executed again"
        conn.execute(_MARK_DONE, {"by": oid, "now": now, "message": message, "id": rid})
        out.already_done[o_import] = out.already_done.get(o_import, 0) + 1


def take_over(conn: sa.Connection, import_id: int, replaced: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Import ``import_id`` replaced rows of the imports ``replaced`` (a fix-up file's lines,
    ``ledger.store.fixups``): it takes over their prerequisites and their dependants wait for it too.
    Returns (inherited, relinked) import ids."""
    return _inherit(conn, import_id, replaced), _relink(conn, import_id, replaced)


def _inherit(conn: sa.Connection, import_id: int, replaced: Sequence[int]) -> tuple[int, ...]:
    mine = deps_of(conn, import_id)
    new: dict[int, DepMatch] = {}
    for old in replaced:
        for dep, match in deps_of(conn, old).items():
            if dep != import_id and dep not in mine and dep not in new:
                new[dep] = match
    add_deps(conn, import_id, new)
    return tuple(sorted(new))


def _relink(conn: sa.Connection, import_id: int, replaced: Sequence[int]) -> tuple[int, ...]:
    relinked: set[int] = set()
    for old in replaced:
        rows = conn.execute(
            sa.text("SELECT import_id, match FROM import_deps WHERE depends_on_import_id = :o AND import_id != :n"),
            {"o": old, "n": import_id},
        ).all()
        for dependant, match in rows:
            add_deps(conn, int(dependant), {import_id: DepMatch(match)})
            relinked.add(int(dependant))
    return tuple(sorted(relinked))


__all__ = [
    "BLOCKED_CODE",
    "BLOCKS",
    "WAITS",
    "KeyForms",
    "Superseded",
    "add_deps",
    "block",
    "deps_of",
    "import_action",
    "key_forms",
    "load_resolver",
    "supersede",
    "take_over",
    "unblock",
]
