"""Webex ids: base64 of ``ciscospark://us/KIND/<uuid>``, sometimes without their ``=`` padding, sometimes
given as the bare UUID (``id_uuid``); compared padding-insensitively (``same_id``)."""

from __future__ import annotations

import base64


def strip_padding(webex_id: str | None) -> str:
    return (webex_id or "").strip().rstrip("=")


def same_id(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and strip_padding(a) == strip_padding(b)


def pad(webex_id: str) -> str:
    webex_id = strip_padding(webex_id)
    return webex_id + "=" * (-len(webex_id) % 4)


def decode_id(webex_id: str) -> str:
    """'ciscospark://us/LOCATION/<uuid>' (or '' when not a Webex id)."""
    try:
        return base64.b64decode(pad(webex_id)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""


def id_uuid(webex_id: str) -> str:
    decoded = decode_id(webex_id)
    return decoded.rsplit("/", 1)[-1] if decoded else webex_id
