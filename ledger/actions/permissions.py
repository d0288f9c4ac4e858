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

Call types are checked against wxc_sdk's ``OutgoingPermissionCallType`` (v21's ``INTERNAL`` and
``MOBILE`` are not Webex call types: the row fails with a message naming them).

:func:`desired_permissions` compares the target with the entity's current ``OutgoingPermissions``
and returns the model to PUT, holding only the call types that differ (the use-custom flags are
always sent, with the current value where the row does not set them, because the SDK serialises
unset flags as ``null``), or ``None`` when the current settings already match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wxc_sdk.person_settings.permissions_out import (
    Action,
    CallingPermissions,
    CallTypePermission,
    OutgoingPermissionCallType,
    OutgoingPermissions,
)

from ledger.errors import RowFailure

CALL_TYPES = frozenset(ct.value for ct in OutgoingPermissionCallType)
ACTIONS = frozenset(a.value for a in Action)
# names seen in v21 profile files that are not Webex call types, with the hint shown to the operator
V21_CALL_TYPE_HINTS = {
    "INTERNAL": "did you mean INTERNAL_CALL?",
    "MOBILE": "v21 profiles used it; Webex has no such call type",
}


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


def parse_profile(profile: Mapping[str, Any]) -> PermissionTarget:
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
    base = parse_profile(payload["profile"]) if payload.get("profile") else PermissionTarget()
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


def _current_entry(current: OutgoingPermissions, call_type: str) -> CallTypePermission | None:
    if current.calling_permissions is None:
        return None
    return current.calling_permissions.for_call_type(call_type)  # type: ignore[arg-type]


def _action_value(action: Any) -> str:
    return str(getattr(action, "value", action))


def permission_changes(current: OutgoingPermissions, target: PermissionTarget) -> dict[str, Any]:
    """What differs, as plain data: {"use_custom_enabled": bool?, "calling_permissions": {CT: {...}}}."""
    changes: dict[str, Any] = {}
    if target.use_custom_enabled is not None and target.use_custom_enabled != current.use_custom_enabled:
        changes["use_custom_enabled"] = target.use_custom_enabled
    if target.use_custom_permissions is not None and target.use_custom_permissions != current.use_custom_permissions:
        changes["use_custom_permissions"] = target.use_custom_permissions
    perms: dict[str, dict[str, Any]] = {}
    for call_type, wanted in sorted(target.calling_permissions.items()):
        now = _current_entry(current, call_type)
        transfer = wanted.transfer_enabled
        if transfer is None:
            transfer = now.transfer_enabled if now is not None else wanted.action == "ALLOW"
        if now is None or _action_value(now.action) != wanted.action or now.transfer_enabled != transfer:
            perms[call_type] = {"action": wanted.action, "transfer_enabled": transfer}
    if perms:
        changes["calling_permissions"] = perms
    return changes


def permission_before(current: OutgoingPermissions, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The current values of what ``changes`` changes, in the same shape (a dry run's "before")."""
    before: dict[str, Any] = {k: getattr(current, k) for k in ("use_custom_enabled", "use_custom_permissions") if k in changes}
    perms = {}
    for call_type in changes.get("calling_permissions") or {}:
        now = _current_entry(current, call_type)
        perms[call_type] = {} if now is None else {"action": _action_value(now.action), "transfer_enabled": now.transfer_enabled}
    if perms:
        before["calling_permissions"] = perms
    return before


def desired_permissions(current: OutgoingPermissions, payload: Mapping[str, Any]) -> OutgoingPermissions | None:
    """The minimal ``OutgoingPermissions`` to PUT for this row, or None when nothing differs.

    ``payload`` is the row's normalised payload (columns and optional ``profile``).
    Raises RowFailure for an invalid call type, action or profile.
    """
    changes = permission_changes(current, target_from_payload(payload))
    if not changes:
        return None
    return model_from_changes(current, changes)


def model_from_changes(current: OutgoingPermissions, changes: Mapping[str, Any]) -> OutgoingPermissions:
    perms = changes.get("calling_permissions") or {}
    calling = (
        CallingPermissions(
            **{
                ct.lower(): CallTypePermission(action=p["action"], transfer_enabled=p["transfer_enabled"])
                for ct, p in perms.items()
            }
        )
        if perms
        else None
    )
    return OutgoingPermissions(
        use_custom_enabled=changes.get("use_custom_enabled", current.use_custom_enabled),
        use_custom_permissions=changes.get("use_custom_permissions", current.use_custom_permissions),
        calling_permissions=calling,
    )
