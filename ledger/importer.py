"""``ledger import``: stream a CSV through the validator into the ledger, in one transaction.

Whole-file problems raise :class:`ledger.errors.InputError` (``FILE: …``) and nothing is
written; row problems become ``invalid`` rows with their line numbers. Importing the same file for
the same action (and the same global.csv and profile) again adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog

from ledger import store
from ledger.csvsource import CsvSource, header_key, sha256_file
from ledger.db.engine import utcnow
from ledger.errors import InputError
from ledger.models import ErrorKind, RowStatus
from ledger.spec import ActionSpec
from ledger.validate import InvalidRow, RowValidator, ValidRow

log = structlog.get_logger("ledger.import")

#: how many invalid rows ``ledger import`` shows (all are in the ledger and the report)
SHOW_INVALID = 5


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
    first_invalid: tuple[tuple[int, str], ...] = field(default_factory=tuple)  # (line_no, message)


def read_global(path: Path) -> dict[str, str]:
    """global.csv: a header and exactly one data row → ``{column: value}``."""
    with CsvSource(path) as src:
        rows = list(src)
        header = [header_key(h) for h in src.header]
    if len(rows) != 1:
        raise InputError(f"{path}: a global.csv must have exactly one data row (found {len(rows)})")
    line_no, cells = rows[0]
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        raise InputError(f"{path}: line {line_no}: more cells than header columns")
    return {h: c for h, c in zip(header, cells, strict=False) if h}


def import_file(
    engine: sa.Engine,
    spec: ActionSpec,
    path: Path,
    *,
    global_path: Path | None = None,
    profile: dict[str, Any] | None = None,
    after: Sequence[int] = (),
) -> ImportResult:
    """Import ``path`` for ``spec`` (see the module docstring). ``profile`` is already parsed
    (:func:`ledger.validate.parse_profile`) and is stored under ``payload["profile"]`` of every row."""
    path = Path(path)
    if profile is not None and not spec.accepts_profile:
        raise InputError(f"{path}: action {spec.name!r} does not accept --profile")
    global_values = read_global(global_path) if global_path is not None else None
    with CsvSource(path) as src:
        sha, global_sha, profile_sha = _fingerprints(path, global_path, profile)
        validator = RowValidator(
            spec,
            src.header,
            source=str(path),
            global_values=global_values,
            global_source=str(global_path),
            profile=profile,
        )
        with engine.begin() as conn:
            earlier = store.find_import(
                conn, sha256=sha, action=spec.name, global_sha256=global_sha, profile_sha256=profile_sha
            )
            if earlier is not None:
                log.info("import_skipped_same_file", import_id=earlier.id, path=str(path), action=spec.name)
                return ImportResult(
                    earlier.id, earlier.path, earlier.action, earlier.rows_total, earlier.rows_valid,
                    earlier.rows_invalid, already_imported=True, after_ignored=tuple(after),
                )
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
            store.add_import_deps(conn, import_id, after)
            total, invalid, shown = _load_rows(conn, src, validator, import_id, spec.name)
            if total == 0:
                raise InputError(f"{path}: no data rows (header only)")
            store.finish_import(conn, import_id, total=total, valid=total - invalid, invalid=invalid)
    log.info(
        "import_finished", import_id=import_id, path=str(path), action=spec.name, rows=total,
        valid=total - invalid, invalid=invalid, global_path=None if global_path is None else str(global_path),
        profile=profile is not None, after=list(after),
    )
    return ImportResult(
        import_id, str(path), spec.name, total, total - invalid, invalid,
        ignored_columns=tuple(validator.ignored_columns), first_invalid=tuple(shown),
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
) -> tuple[int, int, list[tuple[int, str]]]:
    """Validate and insert every row, :data:`store.INSERT_CHUNK` lines at a time: the memory used
    does not grow with the file (duplicate keys are found through a TEMP table, not a dict)."""
    loader = _ChunkLoader(conn, validator, import_id, action)
    store.start_key_check(conn)
    chunk: list[tuple[int, Sequence[str] | None, ValidRow | InvalidRow]] = []
    for line_no, cells in src:
        checked = validator.validate(line_no, cells)
        # the cells of a valid row are kept until its chunk is checked for duplicates (raw payload)
        chunk.append((line_no, cells if checked.dup_key is not None and type(checked) is ValidRow else None,
                      checked))
        if len(chunk) >= store.INSERT_CHUNK:
            loader.load(chunk)
            chunk = []
    loader.load(chunk)
    store.end_key_check(conn)
    return loader.total, loader.invalid, loader.shown


class _ChunkLoader:
    """Turns checked rows into ledger rows, chunk by chunk: flags duplicate keys, counts, inserts."""

    def __init__(self, conn: sa.Connection, validator: RowValidator, import_id: int, action: str) -> None:
        self.conn, self.validator, self.import_id, self.action = conn, validator, import_id, action
        self.dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self.stamp = utcnow()
        self.total = self.invalid = 0
        self.shown: list[tuple[int, str]] = []

    def load(self, chunk: Sequence[tuple[int, Sequence[str] | None, ValidRow | InvalidRow]]) -> None:
        if not chunk:
            return
        keys = [(c.dup_key, line_no) for line_no, _, c in chunk if c.dup_key is not None]
        earlier = store.earlier_lines(self.conn, keys)  # type: ignore[arg-type]  # None filtered out
        pending, invalid_status, invalid_kind = RowStatus.PENDING.value, RowStatus.INVALID.value, ErrorKind.INVALID.value
        import_id, action, stamp, dumps = self.import_id, self.action, self.stamp, self.dumps
        batch: list[tuple[Any, ...]] = []
        # tuples in store.ROW_FIELDS order: import_id, line_no, action, status, error_kind, error_message,
        # business_key, location_key, payload, created_at, updated_at
        for line_no, cells, checked in chunk:
            if earlier and line_no in earlier:
                checked = self.validator.duplicate(checked, cells or (), earlier[line_no])
            if type(checked) is InvalidRow:
                self.invalid += 1
                message = checked.message
                if len(self.shown) < SHOW_INVALID:
                    self.shown.append((line_no, message))
                batch.append((import_id, line_no, action, invalid_status, invalid_kind, message,
                              checked.business_key, None, dumps(checked.raw), stamp, stamp))
            else:
                batch.append((import_id, line_no, action, pending, None, None,
                              checked.business_key, checked.location_key, dumps(checked.payload), stamp, stamp))
        self.total += len(chunk)
        store.insert_rows(self.conn, batch)
