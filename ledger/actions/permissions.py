"""Outgoing-call permissions, shared by users, workspaces and locations (entity-agnostic).

The target comes from the row's columns (``call_type``, ``action``, ``transfer_enabled``,
``use_custom_enabled``, ``use_custom_permissions``) and/or from a profile file named at import
(stored under ``payload["profile"]``)::

    {"use_custom_enabled": true,
     "use_custom_permissions": true,
     "calling_permissions": [
        {"call_type": "INTERNAL_CALL", "action": "ALLOW", "transfer_enabled": true},
        {"call_type": "INTERNATIONAL", "action": "BLOCK", "transfer_enabled": false}]}

camelCase keys (``useCustomEnabled``, ``callingPermissions``, ``callType``, ``transferEnabled``) are
accepted too, so a profile dumped from Webex can be reused. The profile is the base; the row's own
columns, when non-empty, override it (``call_type`` overrides that one call type's entry).

Held to the Webex contract (ledger/sandbox/contract.json, from the generated models of the Webex
Calling spec), not to wxc_sdk 1.41's model, which serialises every call type it knows (``LOCAL`` and
``TOLL`` too) and the location's non-existent use-custom flags:

- Call types are the documented ones (:data:`ledger.actions.catalog.CALL_TYPES`); ``LOCAL``/``TOLL``
  (wxc_sdk 1.41, v21 profiles) are refused at import and here with a message naming NATIONAL.
- The settings are read and written as plain JSON: a person/workspace PUT carries
  ``callingPermissions`` (required for a person) plus only the flags that change; a location has
  ``callingPermissions`` only (``flags=False``), so its use-custom columns/profile keys are ignored.
- A call type Webex enforces (``isCallTypeRestrictionEnabled``: "cannot be changed") is left alone
  and named in the result (:func:`locked_call_types`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.actions.catalog import CALL_TYPES as DOCUMENTED_CALL_TYPES
from ledger.actions.catalog import PERMISSION_ACTIONS
from ledger.errors import RowFailure

CALL_TYPES = frozenset(DOCUMENTED_CALL_TYPES)
ACTIONS = frozenset(PERMISSION_ACTIONS)
# names seen in v21 profile files / wxc_sdk 1.41 that are not documented call types, with the hint shown
V21_CALL_TYPE_HINTS = {
    "INTERNAL": "did you mean INTERNAL_CALL?",
    "MOBILE": "v21 profiles used it; Webex has no such call type",
    "LOCAL": "not in the Webex API; NATIONAL covers calls within the country",
    "TOLL": "not in the Webex API; NATIONAL covers calls within the country",
}
FLAGS = (("use_custom_enabled", "useCustomEnabled"), ("use_custom_permissions", "useCustomPermissions"))


@dataclass(frozen=True)
class Permission:
    action: str
    transfer_enabled: bool | None  # None: keep the current value (or action == ALLOW when there is none)


@dataclass(frozen=True)
class PermissionTarget:
    """What a row asks for; ``None`` / absent entries leave the current value untouched."""

    use_custom_enabled: bool | None = None
    use_custom_permissions: bool | None = None
    calling_permissions: Mapping[str, Permission] = field(default_factory=dict)  # CALL_TYPE → wanted

    @property
    def empty(self) -> bool:
        return self.use_custom_enabled is None and self.use_custom_permissions is None and not self.calling_permissions


def as_bool(value: Any) -> bool | None:
    """A normalised boolean cell (bool, or the importer's text forms); None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "y", "si", "sí", "x"}:
        return True
    if text in {"false", "0", "no", "n"}:
        return False
    raise RowFailure(f"not a boolean: {value!r} (use TRUE or FALSE)", code="invalid_value")


def check_call_type(value: Any) -> str:
    call_type = str(value or "").strip().upper()
    if call_type in CALL_TYPES:
        return call_type
    hint = V21_CALL_TYPE_HINTS.get(call_type)
    known = ", ".join(sorted(CALL_TYPES))
    raise RowFailure(
        f"unknown call type {call_type!r}" + (f" ({hint})" if hint else "") + f"; Webex call types: {known}",
        code="invalid_call_type",
    )


def check_action(value: Any) -> str:
    action = str(value or "").strip().upper()
    if action in ACTIONS:
        return action
    raise RowFailure(
        f"unknown permission action {action!r} (one of {', '.join(sorted(ACTIONS))})", code="invalid_action"
    )


def _get(entry: Mapping[str, Any], snake: str, camel: str) -> Any:
    return entry[snake] if snake in entry else entry.get(camel)


def profile_target(profile: Mapping[str, Any]) -> PermissionTarget:
    """Validate a profile mapping (format in the module docstring) into a target."""
    if not isinstance(profile, Mapping):
        raise RowFailure("the permission profile must be a JSON object", code="invalid_profile")
    entries = _get(profile, "calling_permissions", "callingPermissions") or []
    if not isinstance(entries, list):
        raise RowFailure("profile calling_permissions must be a list of objects", code="invalid_profile")
    perms: dict[str, Permission] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise RowFailure("profile calling_permissions entries must be objects", code="invalid_profile")
        call_type = check_call_type(_get(entry, "call_type", "callType"))
        action = check_action(entry.get("action"))
        perms[call_type] = Permission(action, as_bool(_get(entry, "transfer_enabled", "transferEnabled")))
    return PermissionTarget(
        use_custom_enabled=as_bool(_get(profile, "use_custom_enabled", "useCustomEnabled")),
        use_custom_permissions=as_bool(_get(profile, "use_custom_permissions", "useCustomPermissions")),
        calling_permissions=perms,
    )


def target_from_payload(payload: Mapping[str, Any]) -> PermissionTarget:
    """The profile (if any) overridden by the row's non-empty permission columns."""
    base = profile_target(payload["profile"]) if payload.get("profile") else PermissionTarget()
    perms = dict(base.calling_permissions)
    if payload.get("call_type"):
        call_type = check_call_type(payload["call_type"])
        action = check_action(payload.get("action") or "BLOCK")
        perms[call_type] = Permission(action, as_bool(payload.get("transfer_enabled")))
    enabled = as_bool(payload.get("use_custom_enabled"))
    custom = as_bool(payload.get("use_custom_permissions"))
    target = PermissionTarget(
        use_custom_enabled=base.use_custom_enabled if enabled is None else enabled,
        use_custom_permissions=base.use_custom_permissions if custom is None else custom,
        calling_permissions=perms,
    )
    if target.empty:
        raise RowFailure(
            "nothing to set: give call_type (with action/transfer_enabled) or use_custom_* columns, "
            "or import the file with --profile",
            code="nothing_to_set",
        )
    return target


def _entries(current: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The current settings' entries by call type (the JSON Webex answers)."""
    return {str(e.get("callType")): e for e in current.get("callingPermissions") or [] if isinstance(e, Mapping)}


def locked_call_types(current: Mapping[str, Any], target: PermissionTarget) -> list[str]:
    """The row's call types that Webex enforces (``isCallTypeRestrictionEnabled``) and would change."""
    entries = _entries(current)
    out = []
    for call_type, wanted in sorted(target.calling_permissions.items()):
        now = entries.get(call_type)
        if now is not None and now.get("isCallTypeRestrictionEnabled"):
            transfer = now.get("transferEnabled") if wanted.transfer_enabled is None else wanted.transfer_enabled
            if now.get("action") != wanted.action or bool(now.get("transferEnabled")) != bool(transfer):
                out.append(call_type)
    return out


def permission_changes(current: Mapping[str, Any], target: PermissionTarget, *, flags: bool = True) -> dict[str, Any]:
    """What differs, as plain data: {"use_custom_enabled": bool?, "calling_permissions": {CT: {...}}}.

    ``current`` is the JSON Webex answers; ``flags=False`` (a location) ignores the use-custom flags.
    """
    changes: dict[str, Any] = {}
    if flags:
        for snake, camel in FLAGS:
            wanted = getattr(target, snake)
            if wanted is not None and wanted != current.get(camel):
                changes[snake] = wanted
    entries = _entries(current)
    perms: dict[str, dict[str, Any]] = {}
    for call_type, wanted in sorted(target.calling_permissions.items()):
        now = entries.get(call_type)
        transfer = wanted.transfer_enabled
        if transfer is None:
            transfer = bool(now.get("transferEnabled")) if now is not None else wanted.action == "ALLOW"
        if now is None or now.get("action") != wanted.action or bool(now.get("transferEnabled")) != transfer:
            perms[call_type] = {"action": wanted.action, "transfer_enabled": transfer}
    if perms:
        changes["calling_permissions"] = perms
    return changes


def complete_changes(target: PermissionTarget, *, flags: bool = True) -> dict[str, Any] | None:
    """Everything ``target`` sets, as :func:`permission_changes` shapes it, to write without reading
    first — or None when the target leaves a value "as it is now" (a call type without
    ``transfer_enabled``), which only a read can supply."""
    perms = target.calling_permissions
    if any(p.transfer_enabled is None for p in perms.values()):
        return None
    changes: dict[str, Any] = {}
    if flags:
        changes.update({snake: getattr(target, snake) for snake, _ in FLAGS if getattr(target, snake) is not None})
    if perms:
        changes["calling_permissions"] = {
            ct: {"action": p.action, "transfer_enabled": p.transfer_enabled} for ct, p in sorted(perms.items())
        }
    return changes


def permission_before(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The current values of what ``changes`` changes, in the same shape (a dry run's "before")."""
    before: dict[str, Any] = {snake: current.get(camel) for snake, camel in FLAGS if snake in changes}
    entries = _entries(current)
    perms = {}
    for call_type in changes.get("calling_permissions") or {}:
        now = entries.get(call_type)
        perms[call_type] = {} if now is None else {"action": now.get("action"), "transfer_enabled": now.get("transferEnabled")}
    if perms:
        before["calling_permissions"] = perms
    return before


def request_body(changes: Mapping[str, Any], *, flags: bool = True) -> dict[str, Any]:
    """The PUT body: ``callingPermissions`` (the call types that change) and the changed flags."""
    body: dict[str, Any] = {
        "callingPermissions": [
            {"callType": ct, "action": p["action"], "transferEnabled": p["transfer_enabled"]}
            for ct, p in sorted((changes.get("calling_permissions") or {}).items())
        ]
    }
    if flags:
        body.update({camel: changes[snake] for snake, camel in FLAGS if snake in changes})
    return body


def without(target: PermissionTarget, call_types: list[str]) -> PermissionTarget:
    """``target`` without ``call_types`` (the system-locked ones)."""
    perms = {ct: p for ct, p in target.calling_permissions.items() if ct not in call_types}
    return PermissionTarget(target.use_custom_enabled, target.use_custom_permissions, perms)
