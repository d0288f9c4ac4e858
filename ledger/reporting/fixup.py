"""Fix-up files: for each source file with problems, its problem lines in the file's own layout.

A fix-up file has the source file's header and delimiter and, for every line of it that has a
failed, invalid or blocked row in the current state (any action imported from that file), the
original cells — plus one last column, ``ledger_errors``, listing every step's error for that line.
The operator edits the cells and imports the file back (``ledger import FIXUP --action …``); the
importer ignores the ``ledger_errors`` column without a word (:data:`ledger.spec.LEDGER_ERRORS_COLUMN`).

The original cells come from the source file itself when it is still there unchanged (same
sha256 as imported); otherwise they are rebuilt from what the ledger kept (an invalid row's raw
cells, a valid row's normalised values) and the layout is the action's columns (``layout`` says so).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import InputError
from ledger.importing.csvsource import BOM, CsvSource, header_key, sha256_file
from ledger.importing.normalize import format_value
from ledger.spec import LEDGER_ERRORS_COLUMN
from ledger.store.queries import CurrentRow, ImportSource

PROBLEM = ("failed", "invalid", "blocked")


@dataclass(frozen=True)
class FixupFile:
    path: Path
    source: str  # the file the lines came from
    lines: int
    layout: str  # "original" (the source file's own cells) | "rebuilt" (file gone or changed)
    commands: tuple[str, ...]  # how to import it back, one per action with problems


@dataclass
class _Line:
    # the ledger's copy of the line's cells, merged over its rows (used when the file is gone)
    cells: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class _Group:
    """The problem lines of one source file (one path and content, any number of imports)."""

    path: str
    sha256: str
    lines: dict[int, _Line] = field(default_factory=dict)
    imports: dict[int, ImportSource] = field(default_factory=dict)
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)  # an import's --profile, as its rows hold it


def line_error(action: str, import_id: int, line_no: int, status: str, message: str | None) -> str:
    """One step's error in a ``ledger_errors`` cell; ``action (import N line L)`` is how an import of
    the corrected line finds the row it replaces (:func:`ledger.importing.fixups.replaced_rows`)."""
    return f"{action} (import {import_id} line {line_no}): {status}: {message or '(no message)'}"


class FixupCollector:
    """Collects problem rows (:meth:`add`, in import/line order) and writes the fix-up files."""

    def __init__(self, sources: Mapping[int, ImportSource]) -> None:
        self.sources = sources
        self._groups: dict[tuple[str, str], _Group] = {}

    def add(self, row: CurrentRow, payload: Mapping[str, Any]) -> None:
        if row.status not in PROBLEM:
            return
        src = self.sources[row.import_id]
        group = self._groups.get((src.path, src.sha256))
        if group is None:
            group = self._groups[(src.path, src.sha256)] = _Group(src.path, src.sha256)
        group.imports[src.id] = src
        if isinstance(payload.get("profile"), dict):
            group.profiles.setdefault(src.id, payload["profile"])
        line = group.lines.setdefault(row.line_no, _Line())
        if row.status == "invalid":  # the raw cells as the file had them win over normalised values
            line.cells.update(payload)
        else:
            for name, value in payload.items():
                line.cells.setdefault(name, value)
        line.errors.append(line_error(row.action, row.import_id, row.line_no, row.status, row.error_message))

    def write(self, out_dir: Path) -> list[FixupFile]:
        """One file per source file with problems, in ``out_dir`` (created when needed)."""
        written: list[FixupFile] = []
        taken: set[str] = set()
        for group in self._groups.values():
            out_dir.mkdir(parents=True, exist_ok=True)
            src = Path(group.path)
            name = f"{src.stem}.fixup.csv"
            if name in taken:
                name = f"{src.stem}.import{min(group.imports)}.fixup.csv"
            taken.add(name)
            target = out_dir / name
            layout = _write_group(group, target)
            written.append(FixupFile(target, group.path, len(group.lines), layout, _commands(group, target)))
        return written


def _commands(group: _Group, target: Path) -> tuple[str, ...]:
    """How to import the fix-up file back, one command per action. An import made with --profile gets
    that profile again: written beside the fix-up file from the rows' copy (the ledger keeps no path)."""
    out = []
    for src in sorted(group.imports.values(), key=lambda s: s.id):
        cmd = f"ledger import {target} --action {src.action}"
        if src.global_path:
            cmd += f" --global {src.global_path}"
        if src.profile_sha256 and src.id in group.profiles:
            profile = target.with_name(f"{target.name.removesuffix('.fixup.csv')}.import{src.id}.profile.json")
            profile.write_text(json.dumps(group.profiles[src.id], indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            cmd += f" --profile {profile}"
        elif src.profile_sha256:  # only invalid rows: the ledger has no copy of the profile
            cmd += " --profile <the same profile file>"
        if cmd not in out:
            out.append(cmd)
    return tuple(out)


def _write_group(group: _Group, target: Path) -> str:
    original = _read_original(group)
    if original is not None:
        header, delimiter, encoding, cells = original
        layout = "original"
    else:
        header, cells = _rebuild(group)
        delimiter, encoding, layout = ",", "utf-8", "rebuilt"
    drop = {i for i, h in enumerate(header) if header_key(h) == LEDGER_ERRORS_COLUMN}
    # the source's own encoding: a Spanish Excel opens the fix-up file as it opened the source (its
    # cells came from that encoding; an error text character it lacks becomes '?', the column is ignored)
    with target.open("w", newline="", encoding=encoding, errors="replace") as fh:
        out = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        out.writerow([h for i, h in enumerate(header) if i not in drop] + [LEDGER_ERRORS_COLUMN])
        for line_no in sorted(group.lines):
            row = cells[line_no]
            row = row + [""] * (len(header) - len(row))
            kept = [c for i, c in enumerate(row) if i not in drop]
            out.writerow(kept + [" | ".join(group.lines[line_no].errors)])
    return layout


def _read_original(group: _Group) -> tuple[list[str], str, str, dict[int, list[str]]] | None:
    """The source file's header, delimiter, encoding to write (``utf-8-sig`` for a BOM) and the problem
    lines' cells; None when the file is gone, unreadable or no longer the content that was imported."""
    path = Path(group.path)
    try:
        if sha256_file(path) != group.sha256:
            return None
        with path.open("rb") as fh:
            bom = fh.read(3) == BOM
        cells: dict[int, list[str]] = {}
        with CsvSource(path) as src:
            for line_no, row in src:
                if line_no in group.lines:
                    cells[line_no] = list(row)
            header, delimiter = list(src.header), src.delimiter
            encoding = "utf-8-sig" if bom else src.encoding
    except (OSError, InputError):
        return None
    if set(cells) != set(group.lines):
        return None
    return header, delimiter, encoding, cells


def _rebuild(group: _Group) -> tuple[list[str], dict[int, list[str]]]:
    """Header and cells from the ledger's copies: raw cells keep their header names; normalised
    values are written back as cell text under their column names (one column per header key)."""
    header: list[str] = []
    where: dict[str, int] = {}
    rows: dict[int, dict[int, str]] = {}
    for line_no, line in group.lines.items():
        row: dict[int, str] = {}
        for name, value in line.cells.items():
            text = _cell(value)
            if text is None:
                continue
            key = header_key(name)
            if key not in where:
                where[key] = len(header)
                header.append(name)
            row.setdefault(where[key], text)
        rows[line_no] = row
    cells = {n: [row.get(i, "") for i in range(len(header))] for n, row in rows.items()}
    return header, cells


def _cell(value: Any) -> str | None:
    """A stored value as cell text; None for values that are not cells (a --profile object)."""
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return None
    return format_value(value)


def payload_of(row: CurrentRow) -> dict[str, Any]:
    data = json.loads(row.payload)
    return data if isinstance(data, dict) else {}


__all__: Sequence[str] = ("FixupCollector", "FixupFile", "line_error", "payload_of")
