"""Errors grouped by cause: the same error on many rows (with row-specific values elided) is one cause."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.models import ErrorKind
from ledger.reporting.entities import PROBLEM, EntityTable, Step
from ledger.store import queries as q

INVALID = ErrorKind.INVALID.value
#: how many causes the summaries list (top errors; blocked rows by the step they wait on)
TOP_ERRORS = 10

_VALUE_IN_PARENS = re.compile(r"\((?:'[^']*'|\"[^\"]*\")[^)]*\)")
_ROW_VALUES = (
    (re.compile(r"\bline \d+\b"), "line N"),
    (re.compile(r"\brow \d+\b"), "row N"),  # "blocked by import 1 line 4 (user.create, row 3, failed)"
    (re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\bY2lzY29zcGFyazovL[A-Za-z0-9+/_-]+=*"), "<id>"),  # base64 of "ciscospark://"
    (re.compile(r"\+\d{6,15}\b"), "<number>"),
)


def error_template(message: str | None) -> str:
    """An error message with its row-specific values (quoted values, emails, ids, numbers, line
    references) elided, so that the same error on many rows is counted as one."""
    text = _VALUE_IN_PARENS.sub("(…)", message or "(no message)")
    for pattern, placeholder in _ROW_VALUES:
        text = pattern.sub(placeholder, text)
    return text


@dataclass(frozen=True)
class Cause:
    count: int
    action: str
    status: str  # failed | invalid | blocked
    error_kind: str | None
    http_status: int | None
    error_code: str | None
    message: str  # the error with row-specific values elided
    example: str  # "file line N"


def cause_groups(table: EntityTable) -> list[Cause]:
    """The problem steps of the current state grouped by cause, most frequent first (then in step order)."""
    return group_steps(s for e in table.entities for s in e.steps.values() if s.status in PROBLEM)


def group_steps(steps: Iterable[Step]) -> list[Cause]:
    counts: dict[tuple[str, str, str | None, int | None, str | None, str], int] = {}
    examples: dict[tuple[str, str, str | None, int | None, str | None, str], str] = {}
    for s in steps:
        key = (s.action, s.status, s.error_kind, s.http_status, s.error_code, error_template(s.error))
        counts[key] = counts.get(key, 0) + 1
        examples.setdefault(key, f"{Path(s.file).name} line {s.line_no}")
    causes = [Cause(n, *key, examples[key]) for key, n in counts.items()]
    causes.sort(key=lambda c: -c.count)
    return causes


@dataclass(frozen=True)
class ErrorGroup:
    count: int
    action: str
    error_kind: str | None
    error_code: str | None
    http_status: int | None
    message: str  # with row-specific values elided
    example_line: int
    example_file: str


def group_errors(rows: list[q.ErrorGroupRow]) -> tuple[ErrorGroup, ...]:
    """Ledger error groups merged by cause (the message's row values elided), the TOP_ERRORS largest."""
    merged: dict[tuple[Any, ...], list[Any]] = {}
    steps: dict[tuple[Any, ...], list[str]] = {}
    for r in rows:  # most frequent first, then earliest: the first seen example is kept
        # an invalid line is the file's problem, not the step's: a plan imports it for several steps
        # (one group, not one per step)
        action = "" if r.error_kind == INVALID else r.action
        key = (action, r.error_kind, r.error_code, r.http_status, error_template(r.error_message))
        if key in merged:
            merged[key][0] += r.count
        else:
            merged[key] = [r.count, r.example_line, r.example_file]
        if r.action not in steps.setdefault(key, []):
            steps[key].append(r.action)
    groups = [ErrorGroup(n, _steps(steps[k]), *k[1:], line, file) for k, (n, line, file) in merged.items()]
    groups.sort(key=lambda g: -g.count)
    return tuple(groups[:TOP_ERRORS])


def _steps(actions: list[str]) -> str:
    """The action of a group, or the first of several and how many more (an invalid line's steps)."""
    return actions[0] if len(actions) == 1 else f"{actions[0]} (+{len(actions) - 1} steps)"
