"""``workspace.create`` [workspaces_alta]: create a workspace, a Webex Calling one when the row gives an
extension or number.

It states what it wants instead of letting Webex choose (webex-device.json POST /workspaces: "If no
licenses are supplied, the oldest suitable one from the active subscriptions will be automatically
applied"; "If multiple license IDs are provided, the oldest suitable one will be applied"; "The
``locationId`` and ``supportedDevices`` fields cannot be changed once configured"):

- ``supported_devices`` (row or global.csv): ``phones`` by default — the migration moves PBX
  extensions to common-area phones; ``collaborationDevices`` is for Webex Room/Board devices. It is
  sent on every create because Webex never lets it change afterwards.
- ``licenses`` (row or global.csv, ONE licence id): by default the org's **Webex Calling -
  Professional** licence with free units (the first by id). Why Professional: Webex adds secondary
  numbers only to professional-licensed workspaces (workspace-call-settings-2_auto.py, "only
  available for professional licensed workspaces"), and workspace.secondary_number is part of the
  same migration; Webex's own pick would be the oldest suitable licence, typically "Webex Calling -
  Workspaces". No such licence with free units → a row error asking for ``licenses``.

Read before write: a workspace with the row's name in the location ends ``skipped``; a 400/409
answer to the create is re-checked by name (Webex may have created it).

Batched reads (ledger.actions.snapshot): once the run has looked up ``SNAPSHOT_AFTER`` names one by one,
the org's workspaces are listed (``GET /workspaces``, 1,000 a page) and a name the list has ends
``skipped`` with no request, a name it lacks is created without a lookup. Freshness: this action trusts
a list at most ``CREATE_LIST_MAX_AGE_S`` old (then lists again); a name this run creates is looked up by
name for the rest of the run; a row to re-check (reclaimed after a crash, retried after an ambiguous
create) is always looked up by name. A workspace someone else created after the list: Webex's 409 is
looked up and ends ``skipped`` (the reference does not say that Webex refuses a second workspace of the
same name; the list's age bounds that window).
"""

from __future__ import annotations

from typing import Any

from wxc_sdk.workspaces import CallingType, Workspace, WorkspaceCalling, WorkspaceWebexCalling

from ledger.actions.webex_ids import same_id
from ledger.actions.workspaces import RECHECK_STATUSES, WorkspaceExecutor
from ledger.errors import RowFailure
from ledger.work.ports import ActionResult, RowInput

PROFESSIONAL = "Webex Calling - Professional"
DEFAULT_DEVICES = "phones"


CREATE_LIST_MAX_AGE_S = 60.0  # the list of workspaces a create trusts (see the module's freshness rule)


class WorkspaceCreate(WorkspaceExecutor):
    """Create the workspace (a Webex Calling one when the row gives an extension or number)."""

    snapshot_max_age_s = CREATE_LIST_MAX_AGE_S

    def execute(self, row: RowInput) -> ActionResult:
        p = row.payload
        name = str(p["display_name"]).strip()
        extension, number = p.get("extension"), p.get("phone_number")
        calling = bool(extension or number)
        if calling and not (p.get("location_id") or p.get("location_name")):
            raise RowFailure(
                "a Webex Calling workspace (extension or phone_number given) needs location_id or location_name",
                code="missing_location",
            )
        loc, org = self.optional_location(row), self.org_id(row)
        devices = str(p.get("supported_devices") or DEFAULT_DEVICES)
        existing = self._existing(row, name, loc)
        if existing:
            return self._exists(existing, loc, calling, devices)
        license_id = self._license(row, org) if calling else None
        settings = self._settings(name, loc, devices, extension, number, license_id)
        changes = settings.update_or_create()
        if self.dry_run:
            return self.done(changes, location_id=loc)
        snap = self.workspaces_snapshot(row)
        if snap is not None:
            snap.drop(name)  # later rows with this name look it up, not trust the list
        try:
            created = self.call(
                f"create workspace {name!r}", lambda: self.api.workspaces.create(settings, org_id=org), write=True
            )
        except RowFailure as exc:
            if exc.http_status not in RECHECK_STATUSES:
                raise
            again = self.find(name, loc, org)  # Webex may have created it although it answered 400/409
            if not again:
                raise
            if exc.http_status == 409:
                return self._exists(again, loc, calling, devices)
            note = "created although Webex answered HTTP 400"
            return self.done(changes, workspace_id=again[0].workspace_id, note=note)
        return self.done(changes, workspace_id=created.workspace_id, location_id=loc)

    def _existing(self, row: RowInput, name: str, loc: str | None) -> list[Workspace]:
        """Workspaces named ``name`` (in ``loc``): from the run's list of the org's workspaces once it is
        worth it (no request), else — and for a row to re-check (``recovered``) — looked up by name."""
        snap = None if row.recovered else self.workspaces_snapshot(row)
        listed = snap.named(name) if snap is not None else None
        if listed is not None:
            return [w for w in listed if not loc or same_id(w.location_id, loc)]
        self.count_person_read(row, "workspaces")
        return self.find(name, loc, self.org_id(row))

    def _license(self, row: RowInput, org: str | None) -> str:
        """The one licence the workspace gets: the row's (or global.csv's), else a Professional one."""
        given = [str(x) for x in row.payload.get("licenses") or []]
        if len(given) > 1:
            raise RowFailure(
                f"licenses has {len(given)} ids: give one (of several, Webex applies the oldest suitable one)",
                code="several_licenses",
            )
        if given:
            return given[0]
        known = self.cache.get_or_load(
            ("licenses", org), lambda: list(self.call("list licences", lambda: self.api.licenses.list(org_id=org)))
        )
        free = sorted(
            (lic for lic in known if lic.name == PROFESSIONAL and (lic.consumed_units or 0) < (lic.total_units or 0)),
            key=lambda lic: str(lic.license_id),
        )
        if not free:
            raise RowFailure(
                f"no {PROFESSIONAL!r} licence with free units in the org for a Webex Calling workspace; give the "
                "licence id in `licenses` (row or global.csv) — without Professional, workspace.secondary_number "
                "cannot add numbers",
                code="no_workspace_license",
            )
        return str(free[0].license_id)

    def _exists(self, found: list[Workspace], loc: str | None, wants_calling: bool, devices: str) -> ActionResult:
        first = found[0]
        kind = first.calling.type if first.calling else None
        kind_name = str(getattr(kind, "value", kind)) if kind else None
        if wants_calling and kind_name != CallingType.webex.value:
            raise RowFailure(
                f"workspace {first.display_name!r} already exists but is not a Webex Calling workspace "
                f"(calling: {kind_name or 'none'}); change it in Control Hub or delete it, then retry the row",
                code="workspace_exists_not_calling",
                detail={"workspace_id": first.workspace_id},
            )
        now = getattr(first.supported_devices, "value", first.supported_devices)
        note = (
            {"note": f"it supports {now}, not {devices}: Webex cannot change supportedDevices once set"}
            if now and now != devices
            else {}
        )
        return self.skipped(
            "workspace_already_exists",
            workspace_id=first.workspace_id,
            location_id=loc,
            calling=kind_name,
            same_name_count=len(found),
            **note,
        )

    @staticmethod
    def _settings(
        name: str, loc: str | None, devices: str, extension: Any, number: Any, license_id: str | None
    ) -> Workspace:
        fields: dict[str, Any] = {"display_name": name, "supported_devices": devices}
        if loc:
            fields["location_id"] = loc
        if license_id is not None:  # a Webex Calling workspace (extension or number given)
            webex: dict[str, Any] = {"location_id": loc, "licenses": [license_id]}
            if extension:
                webex["extension"] = str(extension)
            if number:
                webex["phone_number"] = str(number)
            fields["calling"] = WorkspaceCalling(type=CallingType.webex, webex_calling=WorkspaceWebexCalling(**webex))
        return Workspace(**fields)


