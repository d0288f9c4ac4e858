"""``location.pstn`` [ubicacion_configurar_pstn]: enable the location for calling when needed, then
set its PSTN connection. Held to the Webex contract (ledger/sandbox/contract.json):

- Enabling calling (``POST telephony/config/locations``) requires ``announcementLanguage`` and
  ``preferredLanguage``, which ``GET /locations/{id}`` does not return (wxc_sdk_open_api/
  locations_auto.py ``Location``): they come from the row or global.csv (columns
  ``announcement_language``, ``preferred_language``); neither gives them → a row error naming the
  column, before any write. The body is sent as the contract has it (wxc_sdk 1.41 also sends
  ``orgId``, an unknown field).
- The connection TYPE is set on the location by ``PUT telephony/pstn/locations/{id}/connection``
  (pstn_auto.py): a local gateway is ``premiseRouteType`` + ``premiseRouteId`` with no option id;
  an option ``id`` is needed only for the cloud-connected types (NON_INTEGRATED_CCP). Options carry
  ``id``, ``displayName``, ``pstnServices`` only, so the option is the row's ``pstn_option`` (id or
  display name), or the location's only option; several without a choice → a row error listing them.
"""

from __future__ import annotations

from typing import Any

from ledger.actions.webex_ids import same_id
from ledger.actions.locations import NOT_CALLING_STATUSES, LocationExecutor
from ledger.entities import webex_uuid
from ledger.errors import RowFailure
from ledger.work.ports import ActionResult, RowInput

LANGUAGE_COLUMNS = (("announcement_language", "announcementLanguage"), ("preferred_language", "preferredLanguage"))


class LocationPstn(LocationExecutor):
    """Enable calling when needed, then point the PSTN connection at the premises route (or option)."""

    def execute(self, row: RowInput) -> ActionResult:
        p = row.payload
        ctype = str(p.get("pstn_connection_type") or "LOCAL_GATEWAY")
        local = ctype == "LOCAL_GATEWAY"
        route_type, route_id = self.premise_route(row, local, "for a LOCAL_GATEWAY connection")
        target: dict[str, Any] = {"pstnConnectionType": ctype}
        if local:
            target |= {"routeType": route_type, "routeId": route_id}
        loc_id, org = self.loc(row), self.org_id(row)
        # batched reads: the org's calling locations, listed once (else this location's details, read now)
        enabled = self.calling_enabled(row, loc_id)
        if enabled:
            current = self._current(loc_id, org)
            if current and self._equal(current, target, str(p.get("pstn_option") or "")):
                return self.skipped("pstn_already_configured", location_id=loc_id, connection=target)
        changes: dict[str, Any] = {"connection": target}
        if not enabled:
            languages = self._languages(row)  # a row error before any write
            changes["enable_calling"] = True
            if self.dry_run:
                return self.done(changes, location_id=loc_id)
            self.drop_calling(row, loc_id)
            self._enable(loc_id, org, languages)
        body: dict[str, Any] = {"premiseRouteType": route_type, "premiseRouteId": route_id} if local else {}
        if not local:
            option = self._choose(row, loc_id, org)
            body["id"] = option["id"]
            changes["connection"] = {**target, "id": option["id"], "displayName": option.get("displayName")}
        if self.dry_run:
            return self.done(changes, location_id=loc_id)
        self.call(
            "set the PSTN connection",
            lambda: self.put_json(f"telephony/pstn/locations/{loc_id}/connection", body, org),
            write=True,
        )
        return self.done(changes, location_id=loc_id)

    def _current(self, loc_id: str, org: str | None) -> dict[str, Any] | None:
        try:
            return self.call("read the PSTN connection", lambda: self.get_json(
                f"telephony/pstn/locations/{loc_id}/connection", org))
        except RowFailure as exc:
            if exc.http_status in NOT_CALLING_STATUSES:  # no connection configured yet: configure it
                return None
            raise

    @staticmethod
    def _equal(current: dict[str, Any], target: dict[str, Any], option: str) -> bool:
        if current.get("pstnConnectionType") != target["pstnConnectionType"]:
            return False
        if target["pstnConnectionType"] != "LOCAL_GATEWAY":
            return not option or same_id(current.get("id"), option) or current.get("displayName") == option
        return current.get("routeType") == target["routeType"] and same_id(current.get("routeId"), target["routeId"])

    @staticmethod
    def _languages(row: RowInput) -> dict[str, str]:
        out, missing = {}, []
        for column, field in LANGUAGE_COLUMNS:
            value = str(row.payload.get(column) or "").strip()
            if value:
                out[field] = value
            else:
                missing.append(column)
        if missing:
            raise RowFailure(
                f"{' and '.join(missing)} empty: enabling the location for Webex Calling needs announcement_language "
                "and preferred_language (Webex requires them, and GET /locations does not return them); "
                "fill the column(s) in the row or in global.csv, import again and retry",
                code="missing_language",
                detail={"columns": missing},
            )
        return out

    def _enable(self, loc_id: str, org: str | None, languages: dict[str, str]) -> None:
        location = self.org_locations(org).get(webex_uuid(loc_id) or "")  # the org's locations, listed once
        if location is None:  # created since the list: read it
            location = self._read_location(loc_id, org)
        body = {
            "id": location.get("id") or loc_id,
            "name": location.get("name"),
            "timeZone": location.get("timeZone"),
            **languages,
            "address": location.get("address") or {},
        }
        try:
            self.call("enable the location for Webex Calling",
                      lambda: self.post_json("telephony/config/locations", body, org), write=True)
        except RowFailure as exc:
            # 409 = already enabled (e.g. our own earlier attempt whose answer was lost): fine.
            if exc.http_status == 409 and self.telephony_details(loc_id, org) is not None:
                return
            hint = next((f" (check the {col} column)" for col, field in LANGUAGE_COLUMNS if field in exc.message), "")
            raise RowFailure(
                f"could not enable the location for Webex Calling: {exc.message}{hint}",
                code=exc.code or "enable_calling_failed",
                http_status=exc.http_status,
                tracking_id=exc.tracking_id,
            ) from None

    def _read_location(self, loc_id: str, org: str | None) -> dict[str, Any]:
        try:
            location: dict[str, Any] = self.call("read the location", lambda: self.get_json(f"locations/{loc_id}", org))
            return location
        except RowFailure as exc:
            if exc.http_status == 404:
                raise RowFailure(f"unknown location id {loc_id}", code="unknown_location", http_status=404,
                                 tracking_id=exc.tracking_id) from None
            raise

    def _choose(self, row: RowInput, loc_id: str, org: str | None) -> dict[str, Any]:
        """The cloud-connected option: the row's ``pstn_option`` (id or display name), or the only one."""
        answer = self.call("list the PSTN connection options",
                           lambda: self.get_json(f"telephony/pstn/locations/{loc_id}/connectionOptions", org))
        options = [o for o in answer.get("items") or [] if isinstance(o, dict) and o.get("id")]
        wanted = str(row.payload.get("pstn_option") or "").strip()
        match = [o for o in options if not wanted or same_id(o["id"], wanted) or o.get("displayName") == wanted]
        if len(match) == 1:
            return match[0]
        names = ", ".join(repr(o.get("displayName")) for o in options) or "none"
        why = f"no PSTN connection option {wanted!r}" if wanted else f"{len(match)} PSTN connection options"
        raise RowFailure(
            f"{why} for this location (options: {names}); give pstn_option (an option's id or display name)",
            code="pstn_option_not_found",
        )
