"""Value normalisers, one per :class:`ledger.spec.ColType`.

Each takes a non-empty, already trimmed cell and returns the value's normal form, or raises
``ValueError`` with a short reason (the importer turns it into
``column 'email': not a valid email address ('foo@')``). :func:`format_value` is the inverse: it
renders a normal form back as CSV cell text, and ``parse(format(x)) == x`` for every normal form
(tested with Hypothesis in ``tests/test_normalize.py``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from ledger.spec import Column, ColType

TRUE_WORDS = frozenset({"true", "1", "sí", "si", "yes", "y", "verdadero"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "falso"})

_EMAIL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
_PHONE_NOISE = re.compile(r"[\s\-.()/]")
_SCIENTIFIC = re.compile(r"^\+?\d+(?:[.,]\d+)?[eE]\+?\d+$")
_B64 = re.compile(r"[A-Za-z0-9+/_-]+")
E164_MIN_DIGITS, E164_MAX_DIGITS = 7, 15
#: without a leading '+', a number must be this long to be taken as country code + number
BARE_MIN_DIGITS = 10
EXTENSION_MAX_DIGITS = 10


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def norm_string(value: str) -> str:
    return value.strip()


def norm_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean ({_short(value)!r}; use TRUE or FALSE)")


def norm_e164(value: str) -> str:
    text = _PHONE_NOISE.sub("", value)
    if _SCIENTIFIC.match(text):
        raise ValueError(f"number in scientific notation ({_short(value)!r}; format the column as text)")
    if text.startswith("00") and not text.startswith("000"):
        text = "+" + text[2:]  # 0034… is how Spain (and most of the world) dials +34…
    digits = text[1:] if text.startswith("+") else text
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"not an E.164 phone number ({_short(value)!r})")
    if digits.startswith("0"):
        raise ValueError(f"not an E.164 phone number ({_short(value)!r}; start with the country code, e.g. +34)")
    if not E164_MIN_DIGITS <= len(digits) <= E164_MAX_DIGITS:
        raise ValueError(f"not an E.164 phone number ({_short(value)!r}; {len(digits)} digits)")
    if not text.startswith("+") and len(digits) < BARE_MIN_DIGITS:
        # '935678901' is a national number: restoring '+' would make it another country's number
        raise ValueError(f"no country code ({_short(value)!r}; write it as +34… or with its country code)")
    return "+" + digits


def norm_email(value: str) -> str:
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ValueError(f"not a valid email address ({_short(value)!r})")
    return email


@functools.lru_cache(maxsize=4096)  # the same licence/location ids repeat on every row
def norm_webex_id(value: str) -> str:
    text = value.strip().rstrip("=")
    if not _B64.fullmatch(text):
        raise ValueError(f"not a Webex id ({_short(value)!r})")
    std = text.replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"not a Webex id ({_short(value)!r})") from None
    if not decoded.startswith(b"ciscospark://"):
        raise ValueError(f"not a Webex id ({_short(value)!r}; it does not decode to ciscospark://…)")
    return text


def norm_int(value: str) -> int:
    text = value.strip()
    if not re.fullmatch(r"[+-]?\d+", text) or not text.isascii():
        raise ValueError(f"not a whole number ({_short(value)!r})")
    return int(text)


def norm_extension(value: str) -> str:
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"not an extension ({_short(value)!r}; digits only)")
    if len(text) > EXTENSION_MAX_DIGITS:
        raise ValueError(f"not an extension ({_short(value)!r}; more than {EXTENSION_MAX_DIGITS} digits)")
    return text


def make_enum(choices: Iterable[str]) -> Callable[[str], str]:
    canon = {c.upper(): c for c in choices}
    shown = ", ".join(canon.values())

    def norm_enum(value: str) -> str:
        key = value.strip().upper().replace(" ", "_").replace("-", "_")
        try:
            return canon[key]
        except KeyError:
            raise ValueError(f"not one of {shown} ({_short(value)!r})") from None

    return norm_enum


def split_list(value: str) -> list[str]:
    """``"a, b,,a"`` → ``["a", "b"]``: trimmed, empties dropped, duplicates removed keeping order."""
    return list(dict.fromkeys(p for p in (s.strip() for s in value.split(",")) if p))


def make_list(item: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def norm_list(value: str) -> list[Any]:
        return list(dict.fromkeys(item(p) for p in split_list(value)))

    return norm_list


def _cached_list(item: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    """A list normaliser memoised on the whole cell (the same id lists repeat row after row).
    Returns a fresh list each time so callers may keep or change it."""
    cached = functools.lru_cache(maxsize=1024)(lambda value: tuple(make_list(item)(value)))

    def norm_list(value: str) -> list[Any]:
        return list(cached(value))

    return norm_list


_SCIENTIFIC_IN_LIST = re.compile(r"\d[eE]\+?\d")


def norm_e164_list(value: str) -> list[str]:
    """A comma list of numbers. Excel's scientific notation (``3,49E+10``, whose decimal comma
    would split the cell) gets the same "format the column as text" message as a single cell."""
    if _SCIENTIFIC_IN_LIST.search(value):
        raise ValueError(f"number in scientific notation ({_short(value)!r}; format the column as text)")
    return _norm_e164_items(value)


_norm_e164_items = make_list(norm_e164)
norm_list = make_list(norm_string)
norm_id_list = _cached_list(norm_webex_id)

NORMALIZERS: dict[ColType, Callable[[str], Any]] = {
    ColType.STRING: norm_string,
    ColType.BOOL: norm_bool,
    ColType.E164: norm_e164,
    ColType.E164_LIST: norm_e164_list,
    ColType.EMAIL: norm_email,
    ColType.WEBEX_ID: norm_webex_id,
    ColType.ID_LIST: norm_id_list,
    ColType.LIST: norm_list,
    ColType.INT: norm_int,
    ColType.EXTENSION: norm_extension,
}


def normalizer_for(column: Column) -> Callable[[str], Any]:
    """The parse function for ``column`` (enums bound to their choices)."""
    if column.type is ColType.ENUM:
        return make_enum(column.choices)
    return NORMALIZERS[column.type]


def format_value(value: Any) -> str:
    """A normal form back as cell text: booleans as TRUE/FALSE, lists comma-joined."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, list):
        return ",".join(format_value(v) for v in value)
    return str(value)
