"""``ledger import``: stream a CSV through the validator into the ledger, in one transaction.

Whole-file problems raise :class:`ledger.errors.InputError` (``FILE: …``) and nothing is
written; row problems become ``invalid`` rows with their line numbers. Importing the same file for
the same action (and the same global.csv and profile) again adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

import sqlalchemy as sa
import structlog

from ledger.entities import row_keys
from ledger.importing.chaining import link_import
from ledger.store import chains
from ledger.importing.fixups import line_refs
from ledger.spec import LEDGER_ERRORS_COLUMN
from ledger.store import imports as store
from ledger.store.fixups import supersede_fixed_lines
from ledger.importing.csvsource import CsvSource, header_key, sha256_file
from ledger.store.engine import utcnow
from ledger.errors import InputError
from ledger.models import ErrorKind, RowStatus, rows
from ledger.spec import ActionSpec, Registry
from ledger.importing.validate import InvalidRow, RowValidator

log = structlog.get_logger("ledger.import")

#: how many invalid rows ``ledger import`` shows (all are in the ledger and the report)
SHOW_INVALID = 5
#: rows checked for duplicate business keys at a time (only their cells are kept until then)
KEY_CHUNK = 500


@dataclass(frozen=True)
class ImportResult:
    import_id: int
    path: str
    action: str
    rows_total: int
    rows_valid: int
    rows_invalid: int
    already_imported: bool = False
    after_ignored: tuple[int, ...] = ()  # --after given for a file that was already imported
    ignored_columns: tuple[str, ...] = ()
    rows_nothing: int = 0  # rows with nothing to do (their optional cells are empty): final, no request
    rows_pending: int | None = None  # pending once linked (None: rows_valid - rows_nothing)
    rows_blocked: int = 0  # blocked at import: a prerequisite of the same entity already failed
    rows_done: int = 0  # lines a row already did (same action, entity and data): not executed again
    notes: tuple[str, ...] = ()  # one line each: how the file was read (e.g. as Windows-1252)
    # one line each: how the rows chain to their prerequisites, what they superseded or blocked
    links: tuple[str, ...] = ()
    # header columns this action ignores that another action of its family reads: (column, that action)
    family_columns: tuple[tuple[str, str], ...] = ()
    first_invalid: tuple[tuple[int, str], ...] = field(default_factory=tuple)  # (line_no, message)


def read_global(path: Path, encoding: str | None = None, notes: list[str] | None = None) -> dict[str, str]:
    """global.csv: a header and exactly one data row → ``{column: value}``; how it was read (e.g. as
    Windows-1252) is appended to ``notes``."""
    with CsvSource(path, encoding=encoding) as src:
        if src.note and notes is not None:
            notes.append(src.note)
        rows = list(src)
        header = [header_key(h) for h in src.header]
    if len(rows) != 1:
        raise InputError(f"{path}: a global.csv must have exactly one data row (found {len(rows)})")
    line_no, cells = rows[0]
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        raise InputError(f"{path}: line {line_no}: more cells than header columns")
    return {h: c for h, c in zip(header, cells, strict=False) if h}


class ImportOptions(TypedDict, total=False):
    """The keyword options of :func:`import_file` (those of :func:`import_into`)."""

    global_path: Path | None
    profile: dict[str, Any] | None
    after: Sequence[int]
    encoding: str | None
    registry: Registry | None


def import_file(engine: sa.Engine, spec: ActionSpec, path: Path, **options: Unpack[ImportOptions]) -> ImportResult:
    """Import ``path`` for ``spec`` (see the module docstring) in one transaction. ``profile`` is
    already parsed (:func:`ledger.importing.validate.parse_profile`) and is stored under
    ``payload["profile"]`` of every row. ``encoding`` forces the files' encoding (default: UTF-8, else
    Windows-1252 with a note); ``registry`` (the actions) lets the result name ignored columns that
    sibling actions read."""
    with engine.begin() as conn:
        return import_into(conn, spec, path, **options)


def import_into(
    conn: sa.Connection,
    spec: ActionSpec,
    path: Path,
    *,
    global_path: Path | None = None,
    profile: dict[str, Any] | None = None,
    after: Sequence[int] = (),
    encoding: str | None = None,
    registry: Registry | None = None,
) -> ImportResult:
    """:func:`import_file` inside the caller's transaction (``ledger import --plan`` runs every step in one)."""
    path = Path(path)
    if profile is not None and not spec.accepts_profile:
        raise InputError(f"{path}: action {spec.name!r} does not accept --profile")
    notes: list[str] = []
    global_values = read_global(global_path, encoding, notes) if global_path is not None else None
    with CsvSource(path, encoding=encoding) as src:
        sha, global_sha, profile_sha = _fingerprints(path, global_path, profile)
        validator = RowValidator(
            spec,
            src.header,
            source=str(path),
            global_values=global_values,
            global_source=str(global_path),
            profile=profile,
            delimiter=src.delimiter,
        )
        same = _same_import(conn, spec, path, (sha, global_sha, profile_sha), after)
        if same is not None:
            return same
        missing = store.missing_imports(conn, after)
        if missing:
            raise InputError(f"--after {', '.join(map(str, missing))}: no such import (see `ledger status`)")
        import_id = store.create_import(
            conn,
            path=str(path.resolve()),
            sha256=sha,
            action=spec.name,
            global_path=None if global_path is None else str(Path(global_path).resolve()),
            global_sha256=global_sha,
            profile_sha256=profile_sha,
        )
        settled = _load_rows(conn, src, validator, import_id, spec.name)
        total, invalid, nothing = settled.total, settled.invalid, settled.nothing
        if total == 0:
            raise InputError(f"{path}: no data rows (header only)")
        store.finish_import(conn, import_id, total=total, valid=total - invalid, invalid=invalid)
        fixed = _replace_fixed_lines(conn, src, spec, import_id)
        deps, chain_notes = link_import(conn, spec, import_id, after)
        chain_notes = fixed + chain_notes
        now = store.status_counts(conn, import_id)  # what linking made of the new rows
    family = _family_columns(registry, spec, validator.ignored_columns)
    log.info(
        "import_finished", import_id=import_id, path=str(path), action=spec.name, rows=total,
        valid=total - invalid, invalid=invalid, nothing_to_do=nothing, encoding=src.encoding,
        global_path=None if global_path is None else str(global_path), profile=profile is not None,
        after={d: m.value for d, m in deps.items()},
    )
    return ImportResult(
        import_id, str(path), spec.name, total, total - invalid, invalid,
        ignored_columns=tuple(c for c in validator.ignored_columns if c not in dict(family)),
        first_invalid=tuple(settled.shown), rows_nothing=nothing, notes=(*([src.note] if src.note else []), *notes),
        rows_pending=now.get(RowStatus.PENDING.value, 0), rows_blocked=now.get(RowStatus.BLOCKED.value, 0),
        rows_done=now.get(RowStatus.SUPERSEDED.value, 0),
        links=tuple(chain_notes),
        family_columns=family,
    )


def _replace_fixed_lines(conn: sa.Connection, src: CsvSource, spec: ActionSpec, import_id: int) -> list[str]:
    """A fix-up file (its ``ledger_errors`` column): its lines supersede the rows they were written
    for (:mod:`ledger.importing.fixups`); the line to print about it."""
    if not any(header_key(h) == LEDGER_ERRORS_COLUMN for h in src.header):
        return []
    refs = line_refs(src.path, spec.name, src.encoding)
    replaced = supersede_fixed_lines(conn, import_id, spec.name, refs)
    return [
        f"fix-up file: replaces {rows(n)} of import {imp} (the lines its ledger_errors column names)"
        for imp, n in sorted(replaced.items())
    ]


def _family_columns(registry: Registry | None, spec: ActionSpec, ignored: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The ignored header columns that another action of ``spec``'s family reads, with that action."""
    if registry is None:
        return ()
    elsewhere = registry.used_elsewhere(spec)
    return tuple(
        (col, elsewhere[header_key(col)])
        for col in ignored
        if header_key(col) in elsewhere and header_key(col) not in spec.globals_used
    )


def _same_import(
    conn: sa.Connection, spec: ActionSpec, path: Path, shas: tuple[str, str | None, str | None], after: Sequence[int]
) -> ImportResult | None:
    """The earlier import of the same file (and global.csv and profile) for the same action, if any."""
    sha, global_sha, profile_sha = shas
    earlier = store.find_import(conn, sha256=sha, action=spec.name, global_sha256=global_sha, profile_sha256=profile_sha)
    if earlier is None:
        return None
    log.info("import_skipped_same_file", import_id=earlier.id, path=str(path), action=spec.name)
    return ImportResult(
        earlier.id, earlier.path, earlier.action, earlier.rows_total, earlier.rows_valid,
        earlier.rows_invalid, already_imported=True, after_ignored=tuple(after),
    )


def _fingerprints(
    path: Path, global_path: Path | None, profile: dict[str, Any] | None
) -> tuple[str, str | None, str | None]:
    """sha256 of the file, of global.csv and of the normalised profile: what "the same import" means."""
    global_sha = sha256_file(global_path) if global_path is not None else None
    profile_sha = None
    if profile is not None:
        canonical = json.dumps(profile, sort_keys=True, separators=(",", ":"))
        profile_sha = hashlib.sha256(canonical.encode()).hexdigest()
    return sha256_file(path), global_sha, profile_sha


def _load_rows(
    conn: sa.Connection, src: CsvSource, validator: RowValidator, import_id: int, action: str
) -> _Settler:
    """Validate and insert every row. Memory does not grow with the file: rows go to SQLite
    :data:`store.INSERT_CHUNK` at a time, and duplicate keys are found through a TEMP table
    (:func:`store.earlier_lines`) every :data:`KEY_CHUNK` rows, the only rows whose cells are kept."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    stamp = utcnow()
    pending, invalid_status, invalid_kind = RowStatus.PENDING.value, RowStatus.INVALID.value, ErrorKind.INVALID.value
    nothing = RowStatus.NOTHING_TO_DO.value
    settle = _Settler(conn, validator, dumps)
    resolver = chains.load_resolver(conn)
    batch: list[tuple[Any, ...]] = []  # in store.ROW_FIELDS order (see there)
    held: list[Sequence[str]] = []  # the cells of the rows not yet checked for duplicate keys
    keys: list[tuple[str, int]] = []
    store.start_key_check(conn)
    for line_no, cells in src:
        checked = validator.validate(line_no, cells)
        if checked.dup_key is not None:
            keys.append((checked.dup_key, line_no))
        held.append(cells)
        if isinstance(checked, InvalidRow):  # its keys from the cells that did parse: it blocks its entity
            entity, site = row_keys(action, checked.partial or {}, resolver)
            batch.append((import_id, line_no, action, invalid_status, invalid_kind, None, checked.message,
                          checked.business_key, None, dumps(checked.raw), stamp, stamp, entity, site))
        else:
            resolver.learn(checked.payload, action)
            entity, site = row_keys(action, checked.payload, resolver)
            batch.append((import_id, line_no, action, pending if checked.nothing is None else nothing, None, None,
                          checked.nothing, checked.business_key, checked.location_key, dumps(checked.payload),
                          stamp, stamp, entity, site))
        if len(held) >= KEY_CHUNK:
            settle(batch, held, keys)
            held, keys = [], []
            if len(batch) >= store.INSERT_CHUNK:
                store.insert_rows(conn, batch)
                batch = []
    settle(batch, held, keys)
    store.insert_rows(conn, batch)
    store.end_key_check(conn)
    return settle


# positions in a ledger row tuple (store.ROW_FIELDS order) that settling a duplicate changes
_LINE, _STATUS, _KIND, _CODE, _MESSAGE, _LOCATION, _PAYLOAD = (
    store.ROW_FIELDS.index(f)
    for f in ("line_no", "status", "error_kind", "error_code", "error_message", "location_key", "payload")
)
#: error_code of a line whose key an earlier line of the same file had: it never blocks its entity
DUPLICATE = "duplicate"


class _Settler:
    """Settles the rows at the end of a batch whose keys are not checked yet: a line whose key an
    earlier line of the file had becomes invalid (``duplicate of line N (same …)``, after its own
    problems, raw cells as payload); then counts the rows and keeps the first invalid lines to show."""

    def __init__(self, conn: sa.Connection, validator: RowValidator, dumps: Callable[[Any], str]) -> None:
        self.conn, self.validator, self.dumps = conn, validator, dumps
        self.total = self.invalid = self.nothing = 0
        self.shown: list[tuple[int, str]] = []

    def __call__(
        self, batch: list[tuple[Any, ...]], held: Sequence[Sequence[str]], keys: Sequence[tuple[str, int]]
    ) -> None:
        start = len(batch) - len(held)
        earlier = store.earlier_lines(self.conn, keys)
        invalid = RowStatus.INVALID.value
        where = {batch[i][_LINE]: i for i in range(start, len(batch))} if earlier else {}
        for line_no, first in earlier.items():
            i = where[line_no]
            row = list(batch[i])
            problem = str(self.validator.duplicate_problem(first))
            row[_CODE] = DUPLICATE
            if row[_STATUS] == invalid:
                row[_MESSAGE] = f"{row[_MESSAGE]}; {problem}"
            else:
                row[_STATUS], row[_KIND], row[_MESSAGE] = invalid, ErrorKind.INVALID.value, problem
                row[_LOCATION], row[_PAYLOAD] = None, self.dumps(self.validator.raw(held[i - start]))
            batch[i] = tuple(row)
        bad = [row for row in batch[start:] if row[_STATUS] == invalid]
        self.nothing += sum(1 for row in batch[start:] if row[_STATUS] == RowStatus.NOTHING_TO_DO.value)
        self.total += len(held)
        self.invalid += len(bad)
        self.shown.extend((row[_LINE], row[_MESSAGE]) for row in bad[: SHOW_INVALID - len(self.shown)])
