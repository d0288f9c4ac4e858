"""How a new import chains to the rows already in the ledger (``--after``, a plan's ``depends_on``,
fixes that supersede), decided once at import and explained in a line each.

Rules (README, "Chains per entity"): a dependency on an import of the same family (user → user,
workspace → workspace, location → location) matches rows of the **same entity**; a user or workspace
import depending on a location import matches the **same site**; anything else, or a file that
cannot name the prerequisite's entity (no location column; people named by id where the
prerequisite names them by email, or the reverse, with no row of the ledger giving both), waits for
**every** row of the prerequisite import, as ``--after`` always did, and the import says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from ledger.entities import SITE, entity_kind
from ledger.models import DepMatch, are, rows
from ledger.spec import ActionSpec
from ledger.store import chains

_NOUN = {"person": "person", "workspace": "workspace", "site": "site"}


def _forms_clash(mine: chains.KeyForms, theirs: chains.KeyForms) -> int:
    """How many of my rows name the entity in a form the prerequisite's rows never use (while they
    use the other one): those rows cannot find their prerequisite."""
    clash = 0
    if mine.by_id and theirs.by_name and not theirs.by_id:
        clash += mine.by_id
    if mine.by_name and theirs.by_id and not theirs.by_name:
        clash += mine.by_name
    return clash


def dependency_match(
    conn: sa.Connection, spec: ActionSpec, import_id: int, after: int
) -> tuple[DepMatch, str]:
    """How the rows of ``import_id`` (of ``spec``) find their prerequisite rows in import ``after``,
    and the line ``ledger import`` prints about it."""
    their_action = chains.import_action(conn, after) or "?"
    mine, theirs = entity_kind(spec.name), entity_kind(their_action)
    head = f"after import {after} ({their_action}): "
    if mine is not None and mine == theirs:
        clash = _forms_clash(chains.key_forms(conn, import_id, "entity_key"), chains.key_forms(conn, after, "entity_key"))
        if clash:
            return DepMatch.ALL, (
                f"{head}{rows(clash)} {_name(clash)} the {_NOUN[mine]} by id and import {after} by name/email (or the "
                f"reverse) and no row gives both: every row waits for all rows of import {after}"
            )
        return DepMatch.ENTITY, f"{head}each row waits for the same {_NOUN[mine]}'s row"
    if theirs == SITE and mine is not None:
        forms = chains.key_forms(conn, import_id, "site_key")
        if not spec.location_key or (forms.none and not forms.by_id and not forms.by_name):
            why = "column" if not spec.location_key else "value in any row"
            return DepMatch.ALL, (
                f"{head}{spec.name} names no location (no location_id/location_name {why}): every row waits "
                f"for all rows of import {after}"
            )
        clash = _forms_clash(forms, chains.key_forms(conn, after, "site_key"))
        if clash:
            return DepMatch.ALL, (
                f"{head}{rows(clash)} {_name(clash)} their site by id and import {after} by name (or the reverse) and no "
                f"row gives both: every row waits for all rows of import {after}"
            )
        extra = f"; rows that name no location wait for all its rows: {forms.none}" if forms.none else ""
        return DepMatch.SITE, f"{head}each row waits for its site's row{extra}"
    return DepMatch.ALL, (
        f"{head}{spec.name} rows cannot name the {their_action} rows' entity: every row waits for all rows "
        f"of import {after}"
    )


def link_import(
    conn: sa.Connection, spec: ActionSpec, import_id: int, after: Sequence[int]
) -> tuple[dict[int, DepMatch], list[str]]:
    """Record the dependencies of a new import, supersede what it replaces, block what must wait.
    Returns the dependencies and the lines to print."""
    deps: dict[int, DepMatch] = {}
    notes: list[str] = []
    for dep in dict.fromkeys(after):
        match, note = dependency_match(conn, spec, import_id, dep)
        deps[dep] = match
        notes.append(note)
    chains.add_deps(conn, import_id, deps)
    notes.extend(_superseded_notes(chains.supersede(conn, import_id, spec.name)))
    blocked = chains.block(conn)
    if blocked:
        notes.append(f"{rows(blocked)} {are(blocked)} blocked by a failed or invalid prerequisite of the same entity")
    return deps, notes


def _superseded_notes(s: chains.Superseded) -> list[str]:
    notes = [f"supersedes {rows(n, 'earlier row')} of import {imp} (same action and entity)" for imp, n in s.replaced.items()]
    notes += [
        f"{n} lines already done by import {imp} (same action, entity and data): not executed again"
        for imp, n in s.already_done.items()
    ]
    if s.running:
        notes.append(f"{rows(s.running, 'earlier row')} of the same entities {are(s.running)} running now: they are not superseded")
    if s.inherited:
        notes.append(f"takes over the prerequisites of the rows it replaces: imports {_ids(s.inherited)}")
    if s.relinked:
        notes.append(f"imports {_ids(s.relinked)} now wait for this import's rows of the same entity")
    if s.unblocked:
        notes.append(f"{rows(s.unblocked, 'blocked row')} wait again (their blocking row was replaced)")
    return notes


def _name(n: int) -> str:
    return "names" if n == 1 else "name"


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(map(str, ids))
