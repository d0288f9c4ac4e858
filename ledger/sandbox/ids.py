"""Webex-style identifiers: base64 of ``ciscospark://us/<TYPE>/<uuid>`` without ``=`` padding."""

from __future__ import annotations

import base64
import binascii
import uuid as _uuid


def encode(kind: str, ident: str) -> str:
    raw = f"ciscospark://us/{kind}/{ident}".encode()
    return base64.b64encode(raw).decode().rstrip("=")


def new_uuid(rng=None) -> str:
    if rng is None:
        return str(_uuid.uuid4())
    return str(_uuid.UUID(int=rng.getrandbits(128), version=4))


def make_id(kind: str, ident: str | None = None) -> str:
    return encode(kind, ident or new_uuid())


def decode(value: str) -> tuple[str, str] | None:
    """Return (TYPE, tail) for a Webex id (padding optional), or None."""
    if not value:
        return None
    v = value.strip().rstrip("=")
    try:
        raw = base64.b64decode(v + "=" * (-len(v) % 4), validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not raw.startswith("ciscospark://"):
        return None
    parts = raw.split("/")
    # ciscospark://us/TYPE/tail  -> ['ciscospark:', '', 'us', 'TYPE', 'tail']
    # ciscospark://urn:TEAM:us-west-2_r/PLACE/uuid also exists
    if len(parts) < 5:
        return None
    return parts[-2], parts[-1]


def key(value: str | None) -> str:
    """Canonical lookup key for an id: the tail (uuid) lower-cased; raw uuids map to themselves."""
    if not value:
        return ""
    v = str(value).strip()
    d = decode(v)
    if d is not None:
        return d[1].lower()
    return v.rstrip("=").lower()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and key(a) == key(b)
