"""How an action declares its input: columns, types and cross-column rules.

Pure data, no I/O and no Webex imports: ``ledger import`` validates rows against an
:class:`ActionSpec` without loading the SDK, and the README's action table is generated from it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import StrEnum


#: the column ``ledger report`` adds to a fix-up file (every step's error for the line); an import
#: ignores it without listing it among the ignored columns, so a fix-up file imports back as it is
LEDGER_ERRORS_COLUMN = "ledger_errors"


class ColType(StrEnum):
    STRING = "string"
    BOOL = "boolean"  # TRUE/FALSE/true/false/1/0/sí/si/yes/no
    E164 = "e164"  # phone number, normalised to +E.164 (leading + restored)
    E164_LIST = "e164_list"  # quoted comma list of numbers: "+34..., +34..."
    EMAIL = "email"  # lower-cased, validated
    WEBEX_ID = "webex_id"  # base64 ciscospark:// id, stored without '=' padding
    ID_LIST = "id_list"  # quoted comma list of Webex ids
    LIST = "list"  # quoted comma list of strings
    INT = "int"
    EXTENSION = "extension"  # digits, leading zeros kept, stored as text
    ENUM = "enum"  # one of Column.choices (case-insensitive, stored upper-case)


@dataclass(frozen=True)
class Column:
    name: str
    type: ColType = ColType.STRING
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    default: str | None = None  # applied (before normalising) when the cell is empty
    aliases: tuple[str, ...] = ()  # other header names accepted for this column


@dataclass(frozen=True)
class ActionSpec:
    """Everything ``ledger import`` and the README need to know about an action."""

    name: str  # e.g. "user.create"
    summary: str
    columns: tuple[Column, ...]
    aliases: tuple[str, ...] = ()  # v21 script names, e.g. "usuarios_alta_people"
    # groups of columns of which at least one must be non-empty, e.g. ("person_id", "email")
    one_of: tuple[tuple[str, ...], ...] = ()
    # pairs of list columns that must not share a value, e.g. ("add_license_ids", "remove_license_ids")
    disjoint: tuple[tuple[str, str], ...] = ()
    # what the operator should do when a `disjoint` pair shares a value (e.g. which v21 alias to use)
    disjoint_help: str = ""
    # columns that give a row something to do: the header needs one of them, and a row where all are
    # empty ends `nothing_to_do` at import (final, not an error, no request), e.g. legacy_phone_number
    work: tuple[str, ...] = ()
    # (column, (columns...)): when `column` is non-empty, at least one of `columns` must be too
    requires: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # columns forming the business key: the same key twice in one file is invalid on the later line
    key: tuple[str, ...] = ()
    # columns naming the location a row concerns (for ordering across imports; first non-empty wins)
    location_key: tuple[str, ...] = ()
    # values taken from global.csv (merged under every row)
    globals_used: tuple[str, ...] = ("org_id",)
    # rows executed together in one Webex call (1 = one row per call)
    bulk_size: int = 1
    # "module:Class" of the executor (imported only by `ledger work`)
    executor: str = ""
    read_only: bool = False
    # accepts `ledger import --profile FILE` (an outgoing-permission profile, stored under payload["profile"])
    accepts_profile: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def family(self) -> str:
        """``user`` for ``user.licenses``: actions of one family read the same files."""
        return self.name.split(".", 1)[0]

    def header_names(self) -> frozenset[str]:
        """Every header name this action reads: its columns and their aliases."""
        return frozenset(n for c in self.columns for n in (c.name, *c.aliases))

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class Registry:
    specs: tuple[ActionSpec, ...]
    _by_name: dict[str, ActionSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for spec in self.specs:
            for key in (spec.name, *spec.aliases):
                if key in self._by_name:
                    raise ValueError(f"duplicate action name or alias: {key}")
                self._by_name[key] = spec

    def get(self, name: str) -> ActionSpec | None:
        return self._by_name.get(name.strip())

    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def suggest(self, name: str) -> list[str]:
        """The action names or aliases closest to a mistyped ``name`` (for "did you mean")."""
        return difflib.get_close_matches(name.strip(), list(self._by_name), n=3, cutoff=0.6)

    def used_elsewhere(self, spec: ActionSpec) -> dict[str, str]:
        """Header name → the first other action of ``spec``'s family that reads it but ``spec`` does not."""
        mine = spec.header_names()
        out: dict[str, str] = {}
        for other in self.specs:
            if other.family == spec.family and other is not spec:
                for name in sorted(other.header_names() - mine):
                    out.setdefault(name, other.name)
        return out
