"""Apply an :class:`ActionSpec` to raw CSV rows: pure functions and one small stateful checker.

:class:`RowValidator` is built once per file from the header (and ``global.csv``'s values); it
rejects whole-file problems at construction (a required column absent) and then turns each raw
row into a :class:`ValidRow` (normalised payload, business key, location key) or an
:class:`InvalidRow` (the raw row and its problems). Each carries ``dup_key``, the exact business key
(``None`` when every key column is empty); finding the earlier line with the same key is the
importer's job (:func:`ledger.store.imports.earlier_lines`: no per-row memory), and
:meth:`RowValidator.duplicate_problem` is then the later line's last problem, naming the earlier one.

Precedence for a column's value: the row's cell, else global.csv's value, else the column default.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ledger.importing.csvsource import header_key
from ledger.importing.hints import header_hint
from ledger.errors import InputError
from ledger.importing.normalize import format_value, norm_bool, norm_string, normalizer_for
from ledger.spec import LEDGER_ERRORS_COLUMN, ActionSpec


@dataclass(frozen=True)
class Problem:
    column: str  # "" for a problem with the whole row
    reason: str

    def __str__(self) -> str:
        return f"column {self.column!r}: {self.reason}" if self.column else self.reason


class ValidRow(NamedTuple):  # a NamedTuple: immutable and cheap to build 21,000 times
    payload: dict[str, Any]
    business_key: str | None
    location_key: str | None
    dup_key: str | None = None  # the key columns' values, exactly (business_key joins them with '|')
    nothing: str | None = None  # "nothing to do: … empty": every spec.work column is empty (final, no request)


class InvalidRow(NamedTuple):
    raw: dict[str, str]
    problems: tuple[Problem, ...]
    business_key: str | None = None
    dup_key: str | None = None
    partial: dict[str, Any] | None = None  # the cells that did parse (for the row's entity keys)

    @property
    def message(self) -> str:
        return "; ".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class _Plan:
    name: str
    indexes: tuple[int, ...]  # header positions of the column and its aliases
    parse: Callable[[str], Any]
    fallback: Any  # global.csv value or default, already normalised; None when neither


def _describe(spec: ActionSpec, name: str) -> str:
    aliases = spec.column(name).aliases
    return f"{name!r}" + (f" (or {', '.join(repr(a) for a in aliases)})" if aliases else "")


def _plan_columns(
    spec: ActionSpec,
    positions: dict[str, int],
    globals_: dict[str, str],
    *,
    source: str,
    global_source: str,
    header: Sequence[str] = (),
) -> list[_Plan]:
    """Per column: where it is in the header, how to parse it, and its fallback (global.csv value,
    else default, normalised once). Raises InputError for whole-file problems of the header."""
    plans: list[_Plan] = []
    for col in spec.columns:
        names = (col.name, *col.aliases)
        parse = normalizer_for(col)
        fallback = None
        raw_fallback = next((globals_[n] for n in names if n in globals_), None)
        if raw_fallback is not None:
            try:
                fallback = parse(raw_fallback)
            except ValueError as exc:
                raise InputError(f"{global_source}: column {col.name!r}: {exc}") from None
        elif col.default is not None:
            fallback = parse(col.default)
        indexes = tuple(positions[n] for n in names if n in positions)
        if col.required and not indexes and fallback is None:
            raise InputError(
                f"{source}: required column {_describe(spec, col.name)} is missing from the header"
                + header_hint([col.name], header)
            )
        plans.append(_Plan(col.name, indexes, parse, fallback))
    for group in (*spec.one_of, *((spec.work,) if spec.work else ())):
        if not any(p.indexes or p.fallback is not None for p in plans if p.name in group):
            names = " or ".join(repr(n) for n in group)
            raise InputError(f"{source}: the header needs one of the columns {names}" + header_hint(group, header))
    return plans


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


class RowValidator:
    """Validates the rows of one file for one action (see the module docstring)."""

    def __init__(
        self,
        spec: ActionSpec,
        header: Sequence[str],
        *,
        source: str,
        global_values: dict[str, str] | None = None,
        global_source: str = "global.csv",
        profile: dict[str, Any] | None = None,
        delimiter: str = ",",
    ) -> None:
        self.spec = spec
        self._delimiter = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
        self.header = list(header)
        self._header_keys = [header_key(h) for h in header]
        self._profile = profile
        positions = {k: i for i, k in enumerate(self._header_keys) if k}
        globals_ = {header_key(k): v.strip() for k, v in (global_values or {}).items() if v and v.strip()}
        plans = _plan_columns(spec, positions, globals_, source=source, global_source=global_source, header=header)
        known = {n for col in spec.columns for n in (col.name, *col.aliases)}
        # global.csv values the executor needs that are not columns of the action (e.g. org_id)
        self._extras = {n: globals_[n] for n in spec.globals_used if n in globals_ and n not in known}
        self.ignored_columns = [
            h for h, k in zip(self.header, self._header_keys, strict=True)
            if k and k not in known and k != LEDGER_ERRORS_COLUMN  # a fix-up file's own column: ignored silently
        ]
        self._required = tuple(c.name for c in spec.columns if c.required)
        self._slow_rules = bool(spec.disjoint or spec.requires)
        self._work = spec.work
        self._nothing = f"nothing to do: {' and '.join(spec.work)} empty"
        self._key = spec.key
        self._single_key = spec.key[0] if len(spec.key) == 1 else None
        self._dup_reason = f"(same {'/'.join(spec.key)})"
        self._location_key = spec.location_key
        self._base: dict[str, Any] = dict(self._extras)
        self._base.update({p.name: p.fallback for p in plans if not p.indexes and p.fallback is not None})
        self._fast = tuple(
            (p.name, p.indexes, None if p.parse is norm_string else p.parse, p.fallback) for p in plans if p.indexes
        )
        self._width = len(self.header)
        # cheap pre-check for a repeated header line: the first named column's cell equals its name
        self._first_named = next((i for i, k in enumerate(self._header_keys) if k), self._width)
        self._first_key = self._header_keys[self._first_named] if self._first_named < self._width else None

    def validate(self, line_no: int, cells: Sequence[str]) -> ValidRow | InvalidRow:
        """The row at ``line_no`` as a ValidRow, or an InvalidRow listing every problem.

        (The hot loop of ``ledger import``: kept flat on purpose.)"""
        problems: list[Problem] = []
        # values that do not depend on the row: global.csv extras, fallbacks of columns not in the header
        payload: dict[str, Any] = self._base.copy()
        width = len(cells)
        for name, indexes, parse, fallback in self._fast:
            if len(indexes) == 1:  # the common case: the column (or one alias) is in the header
                i = indexes[0]
                cell = cells[i].strip() if i < width else ""
            else:
                cell = ""
                for i in indexes:
                    if i < width:
                        cell = cells[i].strip()
                        if cell:
                            break
            if cell:
                if parse is None:  # plain string: the trimmed cell is the normal form
                    payload[name] = cell
                    continue
                try:
                    value = parse(cell)
                except ValueError as exc:
                    problems.append(Problem(name, str(exc)))
                    continue
                if value != []:  # a list cell of only commas/spaces counts as empty
                    payload[name] = value
            elif fallback is not None:
                payload[name] = fallback
        if self._profile is not None:
            payload["profile"] = self._profile
        if width > self._width or (width > self._first_named and header_key(cells[self._first_named]) == self._first_key):
            problems[:0] = self._row_problems(cells)  # first: a shifted line explains the cell problems
        for name in self._required:
            if name not in payload and not any(p.column == name for p in problems):
                problems.append(Problem(name, "required, but empty"))
        for group in self.spec.one_of:
            if not any(c in payload for c in group) and not any(p.column in group for p in problems):
                problems.append(Problem(group[0], f"empty; give one of {', '.join(repr(c) for c in group)}"))
        if self._slow_rules:
            problems.extend(self._rule_problems(payload))
        business_key, dup_key = self._keys(payload)
        if problems:
            return InvalidRow(self.raw(cells), tuple(problems), business_key, dup_key, payload)
        location = None
        for c in self._location_key:
            if c in payload:
                location = format_value(payload[c])
                break
        nothing = None
        if self._work and not any(c in payload for c in self._work):
            nothing = self._nothing
        return ValidRow(payload, business_key, location, dup_key, nothing)

    def _keys(self, payload: dict[str, Any]) -> tuple[str | None, str | None]:
        """(business_key, dup_key): the key columns' values joined with '|' for people, and exactly."""
        if self._single_key is not None:  # the common case: one key column (e.g. email)
            if self._single_key not in payload:
                return None, None
            value = payload[self._single_key]
            key = (value if type(value) is str else format_value(value)) or None
            return key, key
        if not self._key:
            return None, None
        key_parts = [format_value(payload[c]) if c in payload else "" for c in self._key]
        business_key = "|".join(p for p in key_parts if p) or None
        if business_key is None:
            return None, None
        # exact: "a|b" + "" and "a" + "b|" must not be the same key
        return business_key, json.dumps(key_parts, ensure_ascii=False)

    def duplicate_problem(self, earlier: int) -> Problem:
        """The problem of a line whose key (``dup_key``) line ``earlier`` already had; it comes
        last, after the line's own problems."""
        return Problem("", f"duplicate of line {earlier} {self._dup_reason}")

    def raw(self, cells: Sequence[str]) -> dict[str, str]:
        raw = {h: c for h, c in zip(self.header, cells, strict=False) if h or c}
        raw.update({f"_extra_{i}": c for i, c in enumerate(cells[len(self.header) :], start=1) if c})
        return raw

    def _row_problems(self, cells: Sequence[str]) -> list[Problem]:
        out: list[Problem] = []
        if len(cells) > len(self.header) and any(c.strip() for c in cells[len(self.header) :]):
            out.append(Problem("", f"{len(cells)} cells but the header has {len(self.header)} (an unquoted {self._delimiter}?)"))
        if [header_key(c) for c in cells[: len(self._header_keys)]] == self._header_keys:
            out.append(Problem("", "this line repeats the header (two files pasted together?)"))
        return out

    def _rule_problems(self, payload: dict[str, Any]) -> list[Problem]:
        """The cross-column rules that need more than presence checks (disjoint, requires)."""
        out: list[Problem] = []
        for a, b in self.spec.disjoint:
            if a in payload and b in payload:
                other = set(payload[b])
                both = [v for v in payload[a] if v in other]
                if both:
                    shown = ", ".join(_show(format_value(v)) for v in both)
                    hint = f"; {self.spec.disjoint_help}" if self.spec.disjoint_help else ""
                    out.append(Problem(b, f"also in {a!r} (a value cannot be both added and removed: {shown}){hint}"))
        for col_name, needed in self.spec.requires:
            if col_name in payload and not any(c in payload for c in needed):
                out.append(Problem(col_name, f"needs one of {', '.join(repr(c) for c in needed)}"))
        return out


def _show(value: str) -> str:
    """A readable short form of a value: a Webex id shows the tail of what it decodes to."""
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
    except (binascii.Error, ValueError):
        return value if len(value) <= 40 else value[:39] + "…"
    tail = text.rsplit("/", 1)[-1]
    return tail.split(":", 1)[-1][:60]


# --- outgoing-permission profiles (ledger import --profile) ---------------------------------------

_PROFILE_BOOLS = ("use_custom_enabled", "use_custom_permissions")
# camelCase keys as Webex returns them, so a profile dumped from Webex can be imported as is
_CAMEL = {
    "useCustomEnabled": "use_custom_enabled",
    "useCustomPermissions": "use_custom_permissions",
    "callingPermissions": "calling_permissions",
    "callType": "call_type",
    "transferEnabled": "transfer_enabled",
}
_CALL_TYPE_HINTS = {
    "INTERNAL": "did you mean INTERNAL_CALL?",
    "MOBILE": "v21 used it; Webex has no such call type",
    "LOCAL": "not in the Webex API; NATIONAL covers calls within the country",
    "TOLL": "not in the Webex API; NATIONAL covers calls within the country",
}


def _snake(data: dict[str, Any]) -> dict[str, Any]:
    return {_CAMEL.get(k, k): v for k, v in data.items()}


def parse_profile(
    path: Path, *, call_types: Sequence[str], actions: Sequence[str]
) -> dict[str, Any]:
    """Read and normalise a ``--profile`` JSON file; InputError naming the file and the field.

    Format (snake_case or Webex's camelCase keys)::

        {"use_custom_enabled": true, "use_custom_permissions": true,
         "calling_permissions": [{"call_type": "INTERNATIONAL", "action": "BLOCK", "transfer_enabled": false}]}

    Returned normalised: snake_case keys, call types and actions upper-case, booleans as JSON booleans,
    optional keys only when given.
    """

    def bad(reason: str) -> InputError:
        return InputError(f"{path}: {reason}")

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise bad("file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise bad(f"cannot read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise bad("must be a JSON object with 'calling_permissions'")
    data = _snake(data)
    unknown = sorted(set(data) - {*_PROFILE_BOOLS, "calling_permissions"})
    if unknown:
        raise bad(f"unknown field(s) {', '.join(map(repr, unknown))}")
    out: dict[str, Any] = {}
    for name in _PROFILE_BOOLS:
        if name in data:
            out[name] = _json_bool(data[name], name, bad)
    perms = data.get("calling_permissions")
    if not isinstance(perms, list) or not perms:
        raise bad("'calling_permissions' must be a non-empty list")
    by_type: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(perms):
        entry = _profile_entry(item, f"calling_permissions[{i}]", call_types, actions, bad)
        if entry["call_type"] in by_type:
            raise bad(f"calling_permissions[{i}].call_type: {entry['call_type']} is given twice")
        by_type[entry["call_type"]] = entry
    out["calling_permissions"] = list(by_type.values())
    return out


def _profile_entry(
    item: Any, where: str, call_types: Sequence[str], actions: Sequence[str], bad: Callable[[str], InputError]
) -> dict[str, Any]:
    item = _snake(item) if isinstance(item, dict) else item
    if not isinstance(item, dict) or set(item) - {"call_type", "action", "transfer_enabled"}:
        raise bad(f"{where}: must be an object with call_type, action and transfer_enabled")
    raw_type = item.get("call_type")
    hint = _CALL_TYPE_HINTS.get(raw_type.strip().upper()) if isinstance(raw_type, str) else None
    if hint:
        raise bad(f"{where}.call_type: {raw_type!r} is not a Webex call type ({hint})")
    entry: dict[str, Any] = {
        "call_type": _json_choice(raw_type, call_types, f"{where}.call_type", bad),
        "action": _json_choice(item.get("action"), actions, f"{where}.action", bad),
    }
    if "transfer_enabled" in item:
        entry["transfer_enabled"] = _json_bool(item["transfer_enabled"], f"{where}.transfer_enabled", bad)
    return entry


def _json_bool(value: Any, where: str, bad: Callable[[str], InputError]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return norm_bool(value)
        except ValueError:
            pass
    raise bad(f"{where}: must be true or false")


def _json_choice(value: Any, choices: Sequence[str], where: str, bad: Callable[[str], InputError]) -> str:
    if isinstance(value, str) and value.strip().upper() in choices:
        return value.strip().upper()
    raise bad(f"{where}: must be one of {', '.join(choices)} (got {value!r})")
