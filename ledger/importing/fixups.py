"""Reading a fix-up file back (``ledger import report/fixup/X.fixup.csv --action …``).

The ``ledger_errors`` column (:data:`ledger.spec.LEDGER_ERRORS_COLUMN`) is never row data: the
validator ignores it silently. Its cells name the rows each line replaces, one reference per step,
``<action> (import N line L): <status>: <error>`` joined with `` | `` (written by
:func:`ledger.reporting.fixup.line_error`); :func:`line_refs` reads the ones of the imported action.
"""

from __future__ import annotations

import re
from pathlib import Path

from ledger.importing.csvsource import CsvSource, header_key
from ledger.spec import LEDGER_ERRORS_COLUMN

_REF = re.compile(r"(?:^|\| )([a-z][\w.]*) \(import (\d+) line (\d+)\): ")


def replaced_rows(cell: str, action: str) -> list[tuple[int, int]]:
    """(import, line) of each reference to a row of ``action`` in a ``ledger_errors`` cell."""
    return [(int(imp), int(line)) for name, imp, line in _REF.findall(cell or "") if name == action]


def line_refs(path: Path, action: str, encoding: str | None = None) -> list[tuple[int, int, int]]:
    """(line of this file, earlier import, its line) for each row of ``action`` a line replaces;
    [] for a file without a ``ledger_errors`` column."""
    out: list[tuple[int, int, int]] = []
    with CsvSource(path, encoding=encoding) as src:
        at = next((i for i, h in enumerate(src.header) if header_key(h) == LEDGER_ERRORS_COLUMN), None)
        if at is None:
            return out
        for line_no, cells in src:
            if at < len(cells):
                out.extend((line_no, imp, line) for imp, line in replaced_rows(cells[at], action))
    return out
