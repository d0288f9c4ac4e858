"""Unconditional ("always") call forwarding, shared by users and workspaces.

Two ways to write it, both held to the Webex contract (PUT ``/people/{id}/features/callForwarding``:
every field of the body is optional, ``ledger/sandbox/contract.json``):

- **write first** (:func:`always_target`; users, a row's first attempt): PUT ``callForwarding.always``
  alone — what the row sets, nothing read. A PUT of an absolute value is idempotent, and a read would
  cost the same request the write does (no list endpoint carries a person's forwarding).
- **read, then write the difference** (:func:`forwarding_changes`, :func:`with_always`; dry runs,
  re-checked rows, workspaces, and after Webex refused the short body): the settings are read, ``always``
  changed and the FULL object sent back exactly as read otherwise (wxc_sdk's model needs the full object:
  v21 built only ``always`` and failed with a ValidationError before writing anything).

Destination: the row's ``destination``, else ``53`` + ``extension`` (the operators' prefix to reach
the legacy PBX). Quirk of the operators' sample: their ``destination`` is ``53`` + the extension
*without its leading 8* (extension ``80347245`` → ``530347245``), not the default rule's
``5380347245``; when a row gives ``destination`` it is used verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxc_sdk.person_settings.forwarding import CallForwardingAlways, PersonForwardingSetting

from ledger.actions.permissions import as_bool
from ledger.errors import RowFailure

LEGACY_PREFIX = "53"
# Webex's answer when the forwarding settings cannot be written (errors[0] of the 400)
FORWARDING_BUSY_CODE = 4003
FORWARDING_BUSY_TEXT = "UserCallForwardingBusy"


def forward_destination(payload: Mapping[str, Any]) -> str:
    """The row's destination, else 53 + extension; RowFailure when neither is given."""
    destination = str(payload.get("destination") or "").strip()
    if destination:
        return destination
    extension = str(payload.get("extension") or "").strip()
    if extension:
        return LEGACY_PREFIX + extension
    raise RowFailure(
        "no destination and no extension: cannot build the forward destination", code="missing_destination"
    )


def _same_destination(a: str | None, b: str | None) -> bool:
    """Equal once spaces, dashes and a leading + are ignored (Webex may echo either form)."""

    def norm(x: str | None) -> str:
        return "".join(ch for ch in (x or "") if ch not in " -\t").lstrip("+")

    return norm(a) == norm(b)


def always_target(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What the row sets in ``callForwarding.always``: ``{"enabled": False}`` (``enabled`` FALSE) or
    ``{"enabled": True, "destination": …}``; RowFailure when an enabled forward has no destination."""
    if as_bool(payload.get("enabled")) is False:
        return {"enabled": False}
    return {"enabled": True, "destination": forward_destination(payload)}


def forwarding_changes(current: PersonForwardingSetting, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What the row changes in ``callForwarding.always`` ({} when it already holds)."""
    wanted = always_target(payload)
    always = current.call_forwarding.always
    if not wanted["enabled"]:
        return {"always": wanted} if always.enabled else {}
    if always.enabled and _same_destination(always.destination, wanted["destination"]):
        return {}
    return {"always": wanted}


def with_always(current: PersonForwardingSetting, wanted: Mapping[str, Any]) -> PersonForwardingSetting:
    """The full settings to PUT: ``current`` with ``callForwarding.always`` set from ``wanted`` (a
    ``changes["always"]``); the ``always`` fields ``wanted`` leaves out, and all else, stay as read."""
    now = current.call_forwarding.always
    desired = current.model_copy(deep=True)
    desired.call_forwarding.always = CallForwardingAlways(
        enabled=wanted["enabled"],
        destination=wanted.get("destination", now.destination or ""),
        destination_voicemail_enabled=wanted.get(
            "destination_voicemail_enabled", bool(now.destination_voicemail_enabled)
        ),
        ring_reminder_enabled=wanted.get("ring_reminder_enabled", bool(now.ring_reminder_enabled)),
    )
    return desired


def is_forwarding_busy(exc: RowFailure) -> bool:
    """Webex's 4003 ``UserCallForwardingBusy`` (v21 fell back to an undocumented endpoint on it)."""
    return str(exc.code) == str(FORWARDING_BUSY_CODE) and FORWARDING_BUSY_TEXT.lower() in str(exc).lower()


def forwarding_busy_failure(exc: RowFailure, who: str) -> RowFailure:
    """The row error for Webex's 4003 on a forwarding PUT. v21 then retried on the flat
    ``telephony/config/{people|workspaces}/{id}/callForwarding`` path, which is not in the public Webex
    contract (and takes another body): no fallback — the operator is told what to check."""
    return RowFailure(
        f"Webex refused to change call forwarding of {who} (4003 UserCallForwardingBusy): its forwarding "
        f"cannot be changed right now, and the public API has no other way to set it; check {who}'s Webex "
        "Calling licence and its call forwarding in Control Hub, then `ledger retry` the row",
        code=FORWARDING_BUSY_CODE,
        http_status=exc.http_status,
        tracking_id=exc.tracking_id,
    )
