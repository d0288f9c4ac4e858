"""The workspace actions (v21 ``workspaces_*``): create, secondary number, forwarding, permissions, precheck.

A workspace is named by ``workspace_id`` or by ``workspace_name`` (its display name), optionally
narrowed to a location (``location_id`` or ``location_name``). Names are resolved with one read
per (name, location) per run through the ResolveCache; two workspaces with the same name are a
row error asking for the location or the id.

Fixes over v21 (shared/reference/v21_actions.md §3.14–3.19):

- ``workspace.create`` sends the ``calling`` block (``webexCalling`` with location, extension or
  number, licences) when the row gives an extension or number; v21 never did, so its workspaces
  were not Webex Calling workspaces and every later number/forwarding call failed.
- ``workspace.secondary_number`` compares the ``external`` field (v21 compared ``directNumber``,
  which the SDK model does not have, so it never detected an existing number).
- ``workspace.forwarding`` sends the full forwarding object (shared with user.forwarding) with
  ``ringReminderEnabled`` and ``destinationVoicemailEnabled`` true on ``always`` (the v21
  workspace variant's values, §3.16).
- ``workspace.check_permissions`` reads forwarding and outgoing permissions and fails the row,
  naming what cannot be read, on Webex's 400 + errorCode 4003.
"""

from __future__ import annotations

import re
import time
from typing import Any

from wxc_sdk.common import PatternAction
from wxc_sdk.person_settings.forwarding import PersonForwardingSetting
from wxc_sdk.workspace_settings.numbers import UpdateWorkspacePhoneNumber
from wxc_sdk.workspaces import Workspace

from ledger.actions.base import BaseExecutor
from ledger.actions.webex_ids import same_id
from ledger.actions.forwarding import forward_destination, forwarding_changes
from ledger.actions.permissions import as_bool, target_from_payload
from ledger.actions.snapshot import Written
from ledger.actions.users import same_number
from ledger.errors import RowFailure
from ledger.work.ports import ActionResult, RowInput

RECHECK_STATUSES = frozenset({400, 409})
READ_DENIED_CODE = "4003"
WORKSPACES_PAGE_MAX = 1000
# workspace-call-settings-2_auto.py: "This API is only available for professional licensed workspaces."
PROFESSIONAL_ONLY = re.compile(r"professional licen[cs]ed workspace", re.I)
NOT_CALLING_WORKSPACE = re.compile(r"not a (valid )?(webex )?calling (user/)?workspace", re.I)


class WorkspaceExecutor(BaseExecutor):
    """Shared steps: one translated call, workspace name → id resolution."""

    row_texts = ((NOT_CALLING_WORKSPACE, "not_calling_workspace"),)

    def optional_location(self, row: RowInput) -> str | None:
        p = row.payload
        if p.get("location_id") or p.get("location_name"):
            return self.location_id(row, "location_id", "location_name")
        return None

    def find(self, name: str, location_id: str | None, org_id: str | None) -> list[Workspace]:
        """Workspaces whose display name is exactly ``name`` (in the location, when given)."""
        found = self.call(
            f"look up workspace {name!r}",
            lambda: list(self.api.workspaces.list(display_name=name, location_id=location_id, org_id=org_id)),
        )
        exact = [w for w in found if (w.display_name or "").strip() == name]
        if location_id:  # the list is already filtered by locationId; drop only a visibly different one
            exact = [w for w in exact if not w.location_id or same_id(w.location_id, location_id)]
        return exact

    def workspace_id(self, row: RowInput) -> str:
        p = row.payload
        if p.get("workspace_id"):
            return str(p["workspace_id"])
        name = str(p.get("workspace_name") or "").strip()
        if not name:
            raise RowFailure("no workspace_id or workspace_name in the row", code="missing_workspace")
        loc, org = self.optional_location(row), self.org_id(row)
        listed = self.listed_workspaces(row, name, loc)  # batched reads: the org's workspaces, listed once
        if listed:
            ids = listed
        else:
            def lookup() -> list[str]:
                self.count_person_read(row, "workspaces")
                return [str(w.workspace_id) for w in self.find(name, loc, org)]

            ids = self.cached_lookup(("workspace", org, name, loc), lookup)
        where = f" in location {p.get('location_name') or loc}" if loc else ""
        if not ids:  # "not found" is cached only briefly: it may be created later in the run
            raise RowFailure(f"unknown workspace {name!r}{where}", code="unknown_workspace")
        if len(ids) > 1:
            raise RowFailure(
                f"{len(ids)} workspaces are named {name!r}{where}; give location_name/location_id or workspace_id",
                code="ambiguous_workspace",
            )
        return str(ids[0])

    def listed_workspaces(self, row: RowInput, name: str, location_id: str | None) -> list[str]:
        """Ids of the workspaces named ``name`` (in the location, when given) in the run's list of the org's
        workspaces (``GET /workspaces``, 1,000 a page, once the run has looked up enough of them one by one,
        see ``ledger.actions.snapshot``); [] when not listed (looked up by name then, as before)."""
        snap = self.workspaces_snapshot(row)
        named = snap.named(name) if snap is not None else None
        if not named:
            return []
        return [str(w.workspace_id) for w in named
                if not location_id or not w.location_id or same_id(w.location_id, location_id)]

    def workspaces_snapshot(self, row: RowInput) -> _Listed | None:
        """The run's list of the org's workspaces (None before it is worth it, see ``listed_workspaces``)."""
        org = self.org_id(row)
        return self._snapshot(row, "workspaces", lambda: _Listed(self.call(  # type: ignore[no-any-return]
            "list the org's workspaces", lambda: list(self.api.workspaces.list(org_id=org, max=WORKSPACES_PAGE_MAX)))))

    def who(self, row: RowInput) -> str:
        p = row.payload
        return f"workspace {p.get('workspace_name') or p.get('workspace_id')}"


class _Listed(Written):
    """The org's workspaces by exact display name, as listed at ``taken``; a name this run creates is
    dropped (``drop``): later rows look it up by name again."""

    def __init__(self, workspaces: list[Workspace]) -> None:
        super().__init__()
        self.taken = time.monotonic()
        self.pages = max(1, -(-len(workspaces) // WORKSPACES_PAGE_MAX))
        self.by_name: dict[str, list[Workspace]] = {}
        for w in workspaces:
            self.by_name.setdefault((w.display_name or "").strip(), []).append(w)

    def named(self, name: str) -> list[Workspace] | None:
        """The listed workspaces named ``name`` ([] when none); None when this run created one since."""
        if self.written_since(name.strip()):
            return None
        return list(self.by_name.get(name.strip(), []))

    def _mark(self, entry: str) -> str:
        return entry.strip()


# --- workspace.secondary_number --------------------------------------------------------------------


class WorkspaceSecondaryNumber(WorkspaceExecutor):
    """Add ``legacy_phone_number`` as a non-primary number of the workspace."""

    def execute(self, row: RowInput) -> ActionResult:
        number = str(row.payload.get("legacy_phone_number") or "")
        if not number:
            raise RowFailure("legacy_phone_number is empty", code="missing_number")
        ws, org = self.workspace_id(row), self.org_id(row)
        api = self.api.workspace_settings.numbers
        # batched reads: the org's number inventory (GET telephony/config/numbers) lists each number with its
        # owner (a workspace's id, type PLACE), as for user.secondary_number; else the workspace's numbers
        inventory = self.numbers_snapshot(row)
        owned = inventory.owned_by(number, ws) if inventory is not None else None
        if owned:
            return self.skipped("number_already_present", workspace_id=ws, number=number)
        if owned is None:
            self.count_person_read(row, "numbers")
            # plain JSON: the spec answers distinctiveRingEnabled + phoneNumbers only, which wxc_sdk 1.41's
            # model refuses (it requires workspace/location/organization); the number is `directNumber`
            # (spec) or `external` (wxc_sdk 1.41, its live tests): both are read
            current = self.call(
                f"read numbers of {self.who(row)}", lambda: self.get_json(f"workspaces/{ws}/features/numbers", org)
            )
            held = next((n for n in current.get("phoneNumbers") or [] if _holds(n, number)), None)
            if held is not None:
                return self.skipped(
                    "number_already_present", workspace_id=ws, number=number, primary=bool(held.get("primary"))
                )
        changes = {"add_number": number, "primary": False}
        if self.dry_run:
            return self.done(changes, workspace_id=ws)
        self.drop_number(row, number)
        update = [UpdateWorkspacePhoneNumber(primary=False, action=PatternAction.add, direct_number=number)]
        try:
            self.call(f"add number {number} to {self.who(row)}", lambda: api.update(ws, update, org_id=org), write=True)
        except RowFailure as exc:
            if not PROFESSIONAL_ONLY.search(str(exc)):
                raise
            raise RowFailure(
                f"{self.who(row)} has no Webex Calling Professional licence: Webex adds secondary numbers only to "
                "professional-licensed workspaces. Give it a 'Webex Calling - Professional' licence (Control Hub, "
                f"or workspace.create with that licence), then `ledger retry` the row ({exc.message})",
                code="workspace_not_professional",
                http_status=exc.http_status,
                tracking_id=exc.tracking_id,
            ) from None
        return self.done(changes, workspace_id=ws)


def _holds(entry: Any, number: str) -> bool:
    return isinstance(entry, dict) and any(same_number(entry.get(k), number) for k in ("directNumber", "external"))


# --- workspace.forwarding --------------------------------------------------------------------------


def workspace_forwarding(current: PersonForwardingSetting, payload: Any) -> dict[str, Any]:
    """What a workspace row changes in ``callForwarding.always`` ({} when it already holds).

    The shared comparison (destination, enabled) plus the v21 workspace flags on ``always``:
    ``ringReminderEnabled`` and ``destinationVoicemailEnabled`` true when forwarding is on.
    """
    changes = forwarding_changes(current, payload)
    enabled = as_bool(payload.get("enabled"))
    always = current.call_forwarding.always
    if enabled is not False:
        flags = {"ring_reminder_enabled": True, "destination_voicemail_enabled": True}
        if changes or not (always.ring_reminder_enabled and always.destination_voicemail_enabled):
            changes = {"always": {"enabled": True, "destination": forward_destination(payload), **flags}}
    return changes


class WorkspaceForwarding(WorkspaceExecutor):
    """Unconditional forwarding of a workspace (default destination 53 + extension). Read first: unlike a
    person's, the workspace forwarding PUT requires the whole object (contract: ``callForwarding`` and
    ``businessContinuity`` required), which only the read supplies."""

    def execute(self, row: RowInput) -> ActionResult:
        ws, org = self.workspace_id(row), self.org_id(row)
        api = self.api.workspace_settings.forwarding
        current = self.call(f"read forwarding of {self.who(row)}", lambda: api.read(ws, org_id=org))
        return self.apply_forwarding(
            current,
            workspace_forwarding(current, row.payload),
            lambda desired: api.configure(ws, desired, org_id=org),
            self.who(row),
            workspace_id=ws,
        )


# --- workspace.outgoing_permissions ----------------------------------------------------------------


class WorkspaceOutgoingPermissions(WorkspaceExecutor):
    """Custom outgoing-call permissions from the row's columns and/or the import's profile: written first
    when the row sets every value it writes (as user.outgoing_permissions: BaseExecutor.write_first),
    else read and only what differs sent."""

    def execute(self, row: RowInput) -> ActionResult:
        target = target_from_payload(row.payload)  # validates call types/profile before any call
        ws, org = self.workspace_id(row), self.org_id(row)
        who = self.who(row)
        return self.set_permissions(
            row,
            target,
            f"workspaces/{ws}/features/outgoingPermission",  # plain JSON: see ledger.actions.permissions
            org,
            who,
            lambda get: self.call(f"read outgoing permissions of {who}", get),
            workspace_id=ws,
        )


# --- workspace.check_permissions -------------------------------------------------------------------


class WorkspaceCheckPermissions(WorkspaceExecutor):
    """Read-only precheck: can the token read the workspace's forwarding and outgoing permissions?"""

    def execute(self, row: RowInput) -> ActionResult:
        ws, org = self.workspace_id(row), self.org_id(row)
        settings = self.api.workspace_settings
        checks = {
            "forwarding": lambda: settings.forwarding.read(ws, org_id=org),
            "outgoing permissions": lambda: settings.permissions_out.read(ws, org_id=org),
        }
        denied: list[str] = []
        first_denied: RowFailure | None = None
        seen: dict[str, Any] = {}
        for what, read in checks.items():
            try:
                seen[what] = self.call(f"read {what} of {self.who(row)}", read)
            except RowFailure as exc:
                if exc.http_status == 400 and exc.code == READ_DENIED_CODE:
                    denied.append(what)
                    first_denied = first_denied or exc
                    continue
                raise
        if first_denied is not None:
            raise RowFailure(
                f"the token cannot read {' and '.join(denied)} of {self.who(row)} ({READ_DENIED_CODE}); "
                "check the token's scopes/admin role and the workspace's calling licence",
                code=READ_DENIED_CODE,
                http_status=400,
                tracking_id=first_denied.tracking_id,
                detail={"denied": denied, "readable": sorted(seen)},
            )
        always = seen["forwarding"].call_forwarding.always
        perms = seen["outgoing permissions"]
        result = {
            "workspace_id": ws,
            "checked": ["forwarding", "outgoing_permissions"],
            "forwarding_always": {"enabled": always.enabled, "destination": always.destination},
            "use_custom_enabled": perms.use_custom_enabled,
        }
        return ActionResult("succeeded", result, planned={} if self.dry_run else None)
