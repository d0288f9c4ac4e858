"""How a Webex error becomes a row's outcome: the generic ladder (:func:`translate`: row / transient /
throttled / systemic) and the naming of known row errors (:func:`name_row_error`). Used by every
executor through ``BaseExecutor.call``/``webex`` (``ledger.actions.base``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import requests
from wxc_sdk.rest import RestError

from ledger.actions.client import ForeignHostError
from ledger.errors import ActionError, AuthFailure, RowFailure, SystemicFailure, Throttled, TransientFailure
from ledger.work.ports import THROTTLE_STATUSES, parse_retry_after

TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})


def rest_error_parts(exc: RestError) -> dict[str, Any]:
    """The safe, useful parts of a RestError (never the request, its headers or the URL)."""
    response = exc.response
    detail = exc.detail
    tracking = response.headers.get("TrackingID") if response is not None else None
    if not isinstance(detail, str) and detail is not None:
        tracking = getattr(detail, "tracking_id", None) or tracking
    description = (detail or "")[:300] if isinstance(detail, str) else exc.description
    return {
        "http_status": response.status_code if response is not None else None,
        "code": exc.code or None,
        "description": description or (response.reason if response is not None else ""),
        "tracking_id": tracking,
        "retry_after": parse_retry_after(response.headers.get("Retry-After")) if response is not None else None,
    }


def translate(exc: BaseException, what: str, *, ambiguous_write: bool = False) -> ActionError:
    """The generic ladder: SDK/HTTP exception → row / transient / throttled / systemic.

    Actions may catch a RowFailure/ActionError first for their own codes; this is the default.
    ``ambiguous_write``: the call was a write, so a timeout/5xx leaves its effect unknown.
    """
    if isinstance(exc, ActionError):
        return exc
    if isinstance(exc, RestError):
        p = rest_error_parts(exc)
        status = p["http_status"] or 0
        msg = f"{what}: HTTP {status}" + (f" {p['code']}" if p["code"] else "") + f" {p['description']}".rstrip()
        kw = {"code": p["code"], "http_status": status, "tracking_id": p["tracking_id"]}
        if status == 401:
            return AuthFailure(f"{what}: Webex rejected the access token (HTTP 401)", **kw)
        if status in THROTTLE_STATUSES:
            return Throttled(msg, retry_after=p["retry_after"], **kw)
        if status in TRANSIENT_STATUSES or status >= 500:
            return TransientFailure(msg, ambiguous=ambiguous_write, retry_after=p["retry_after"], **kw)
        if status == 403:
            why = "forbidden: the token lacks a scope or admin role, or this resource is outside its reach"
            return SystemicFailure(f"{msg} ({why})", **kw)
        return RowFailure(msg, **kw)
    if isinstance(exc, ForeignHostError):
        return SystemicFailure(str(exc))
    if isinstance(exc, requests.Timeout):
        return TransientFailure(f"{what}: timed out", ambiguous=ambiguous_write, code="timeout")
    if isinstance(exc, requests.ConnectionError):
        return TransientFailure(f"{what}: connection error", ambiguous=ambiguous_write, code="connection")
    if isinstance(exc, ValueError):  # pydantic ValidationError is a ValueError: bad data or response
        return RowFailure(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return TransientFailure(f"{what}: {type(exc).__name__}", ambiguous=ambiguous_write)


# Webex error descriptions worth naming in ``detail["reason"]`` (searched case-insensitively, first
# match wins); executors may put their own patterns first (``BaseExecutor.row_texts``).
KNOWN_ROW_TEXTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.I), reason)
    for pattern, reason in (
        (r"extension\b.*\b(already|in use)", "extension_in_use"),
        (r"number\b.*\bnot (found|available)|not available|not in the location", "number_not_available"),
        (r"number\b.*\b(already|in use|assigned)", "number_in_use"),
        (r"not a (valid )?(webex )?calling (user|location)|not enabled for webex calling", "not_calling"),
        (r"already in use", "already_in_use"),
    )
)


def name_row_error(
    exc: ActionError,
    texts: tuple[tuple[re.Pattern[str], str], ...] = (),
    codes: Mapping[int, str] | None = None,
) -> ActionError:
    """Give a known Webex row error a readable reason (``detail["reason"]``) and, for the Webex
    error ``codes`` given, an explanation in its message; anything else is returned unchanged."""
    if not isinstance(exc, RowFailure):
        return exc
    code = int(exc.code) if exc.code and str(exc.code).isdigit() else None
    text = str(exc).lower()
    label = next((name for pattern, name in (*texts, *KNOWN_ROW_TEXTS) if pattern.search(text)), None)
    explained = (codes or {}).get(code) if code is not None else None
    if explained and explained.lower() not in text:
        exc = RowFailure(
            f"{exc} ({explained})", code=exc.code, http_status=exc.http_status, tracking_id=exc.tracking_id,
            detail=exc.detail,
        )
    if label and "reason" not in exc.detail:
        exc.detail = {**exc.detail, "reason": label}
    return exc
