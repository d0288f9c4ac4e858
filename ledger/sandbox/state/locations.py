"""Locations, route choices (route groups, trunks) and location telephony: calling, PSTN, main number,
internal dialing."""

from __future__ import annotations

from typing import Any

from .. import errors as E
from .. import ids
from .model import StateCore, default_permissions


class LocationsMixin(StateCore):
    """Locations and route choices of :class:`~ledger.sandbox.state.SandboxState`."""

    # ------------------------------------------------------------------ seeding helpers
    def add_location(
        self,
        name: str,
        calling_enabled: bool = False,
        *,
        location_id: str | None = None,
        address1: str = "1 Sandbox Street",
        city: str = "Barcelona",
        state: str = "Barcelona",
        postal_code: str = "08001",
        country: str = "ES",
        time_zone: str = "Europe/Madrid",
        preferred_language: str = "es_ES",
        announcement_language: str = "es_es",
        routing_prefix: str | None = None,
    ) -> str:
        with self.lock:
            lid = location_id or self._new_id("LOCATION")
            # the languages are private: GET /v1/locations does not return them (wxc_sdk_open_api/
            # locations_auto.py Location), so enabling calling must send them (location.pstn)
            self.locations[ids.key(lid)] = {
                "id": lid, "name": name, "orgId": self.org_id, "timeZone": time_zone,
                "_preferredLanguage": preferred_language, "_announcementLanguage": announcement_language,
                "address": {"address1": address1, "city": city, "state": state, "postalCode": postal_code,
                            "country": country},
                "_calling": bool(calling_enabled), "_callingLineId": None, "_pstn": None,
                "_routingPrefix": routing_prefix,
                "_internalDialing": {"enableUnknownExtensionRoutePolicy": False},
                "_outgoingPermission": {"callingPermissions": default_permissions()["callingPermissions"]},
            }
            return lid

    def add_route_group(self, name: str, route_group_id: str | None = None) -> str:
        with self.lock:
            rid = route_group_id or self._new_id("ROUTE_GROUP")
            self.route_groups[ids.key(rid)] = {"id": rid, "name": name, "inUse": False}
            return rid

    def add_trunk(self, name: str, location_id: str | None = None, trunk_id: str | None = None) -> str:
        with self.lock:
            tid = trunk_id or self._new_id("TRUNK")
            self.trunks[ids.key(tid)] = {"id": tid, "name": name, "locationId": location_id,
                                         "trunkType": "REGISTERING", "inUse": False}
            return tid

    # ------------------------------------------------------------------ read helpers
    def location_by_name(self, name: str) -> dict | None:
        with self.lock:
            return next((l for l in self.locations.values() if l["name"] == name), None)

    def get_location(self, lid: str) -> dict:
        return self.found(self.locations, lid, "Location")

    def _require_calling_location(self, location_id: str) -> dict:
        loc = self.get_location(location_id) if location_id else None
        if loc is None:
            raise E.bad_request("locationId is required", E.INVALID)
        if not loc["_calling"]:
            raise E.ApiError(400, f"Location {loc['name']} is not a Webex Calling location",
                             E.LOCATION_NOT_CALLING,
                             f"[Error {E.LOCATION_NOT_CALLING}] Location is not enabled for Webex Calling.")
        return loc

    # ------------------------------------------------------------------ locations / telephony
    def api_create_location(self, body: dict) -> dict:
        with self.lock:
            name = body.get("name")
            if not name:
                raise E.bad_request("name is required")
            for f in ("timeZone", "preferredLanguage", "announcementLanguage", "address"):
                if not body.get(f):
                    raise E.bad_request(f"{f} is required")
            if self.location_by_name(name):
                raise E.ApiError(409, "Location name already exists", 409002, f"Location {name} already exists")
            a = body["address"]
            lid = self.add_location(name, address1=a.get("address1", ""), city=a.get("city", ""),
                                    state=a.get("state", ""), postal_code=a.get("postalCode", ""),
                                    country=a.get("country", "ES"), time_zone=body["timeZone"],
                                    preferred_language=body["preferredLanguage"],
                                    announcement_language=body["announcementLanguage"])
            return self.locations[ids.key(lid)]

    def api_update_location(self, lid: str, body: dict) -> dict:
        with self.lock:
            loc = self.get_location(lid)
            for k in ("name", "timeZone"):
                if body.get(k):
                    loc[k] = body[k]
            for k in ("preferredLanguage", "announcementLanguage"):
                if body.get(k):
                    loc["_" + k] = body[k]
            if isinstance(body.get("address"), dict):
                loc["address"].update({k: v for k, v in body["address"].items() if v is not None})
            return loc

    def api_enable_calling(self, body: dict) -> dict:
        with self.lock:
            lid = body.get("id")
            if lid:
                loc = self.get_location(lid)
                if loc["_calling"]:
                    raise E.ApiError(409, "Location is already enabled for Webex Calling", 409003,
                                     f"Location {loc['name']} is already a Webex Calling location")
            else:
                loc = self.api_create_location(body)
            # location-call-settings_auto.py enable_a_location_for_webex_calling: the body itself must
            # carry them (the contract check refuses the request first; this guards a lenient sandbox)
            for f in ("timeZone", "announcementLanguage", "preferredLanguage"):
                if not body.get(f):
                    raise E.ApiError(400, f"Missing Mandatory field name: {f}", E.CONTRACT_INVALID,
                                     f"[Error {E.CONTRACT_INVALID}] Missing Mandatory field name: {f}")
            loc["_announcementLanguage"] = body["announcementLanguage"]
            loc["_preferredLanguage"] = body["preferredLanguage"]
            loc["_calling"] = True
            return {"id": loc["id"]}

    def telephony_location_view(self, loc: dict) -> dict:
        v: dict[str, Any] = {"id": loc["id"], "name": loc["name"], "userLimit": 500000,
                             "announcementLanguage": loc.get("_announcementLanguage"),
                             "outsideDialDigit": "0", "enforceOutsideDialDigit": False,
                             "defaultDomain": "sandbox.example.com", "externalCallerIdName": loc["name"][:30]}
        if loc.get("_routingPrefix"):
            v["routingPrefix"] = loc["_routingPrefix"]
        if loc["_callingLineId"]:
            v["callingLineId"] = dict(loc["_callingLineId"])
        if loc["_pstn"] and loc["_pstn"].get("routeId"):
            v["connection"] = {"type": loc["_pstn"]["routeType"], "id": loc["_pstn"]["routeId"]}
        return v

    # wxc_sdk_open_api/location-call-settings_auto.py ListLocationObject: the list of calling locations
    # (GET telephony/config/locations) carries only these fields of a location's details
    LIST_FIELDS = ("id", "name", "outsideDialDigit", "enforceOutsideDialDigit", "routingPrefix", "callingLineId",
                   "e911SetupRequired")

    def telephony_location_list_view(self, loc: dict) -> dict:
        v = self.telephony_location_view(loc)
        return {k: v[k] for k in self.LIST_FIELDS if k in v}

    def api_update_telephony_location(self, lid: str, body: dict) -> dict:
        with self.lock:
            loc = self._require_calling_location(lid)
            cli = body.get("callingLineId")
            if cli is not None:
                num = (cli or {}).get("phoneNumber")
                if num:
                    rec = self.numbers.get(num)
                    if rec is None or not ids.same(rec["locationId"], loc["id"]):
                        raise E.ApiError(400, f"Calling line ID {num} is not a number of this location",
                                         E.CALLING_LINE_ID_NOT_IN_LOCATION,
                                         f"[Error {E.CALLING_LINE_ID_NOT_IN_LOCATION}] Phone number {num} "
                                         "does not belong to the location.")
                    for r in self.numbers_in(loc["id"]).values():
                        r["mainNumber"] = r["phoneNumber"] == num
                    rec["state"] = "ACTIVE"
                loc["_callingLineId"] = {"phoneNumber": num, "name": cli.get("name") or loc["name"]}
            if body.get("routingPrefix"):
                loc["_routingPrefix"] = body["routingPrefix"]
            return {}

    # PSTN (wxc_sdk_open_api/pstn_auto.py): an option carries only id, displayName, pstnServices; the
    # connection TYPE is set on the location by the PUT: premiseRouteType + premiseRouteId (no id) make
    # a local gateway, an option id (required for non-integrated CCP) the option's own type.
    PSTN_OPTION_TYPES = {"lgw": "LOCAL_GATEWAY", "ccp": "NON_INTEGRATED_CCP"}

    def _pstn_option_rows(self, lid: str) -> list[tuple[str, dict]]:
        loc = self.get_location(lid)
        k = ids.key(loc["id"])
        return [
            ("lgw", {"id": ids.encode("PSTN_CONNECTION_OPTION", f"lgw-{k}"), "displayName": "Premises-based PSTN",
                     "pstnServices": ["GEOGRAPHIC_NUMBERS"]}),
            ("ccp", {"id": ids.encode("PSTN_CONNECTION_OPTION", f"ccp-{k}"), "displayName": "Sandbox Cloud PSTN",
                     "pstnServices": ["GEOGRAPHIC_NUMBERS", "TOLLFREE_NUMBERS"]}),
        ]

    def pstn_options(self, lid: str) -> list[dict]:
        return [opt for _, opt in self._pstn_option_rows(lid)]

    def api_set_pstn(self, lid: str, body: dict) -> None:
        with self.lock:
            loc = self._require_calling_location(lid)
            conn: dict = {}
            if body.get("id"):
                found = next(((kind, o) for kind, o in self._pstn_option_rows(lid) if ids.same(o["id"], body["id"])),
                             None)
                if found is None:
                    raise E.bad_request(f"Invalid PSTN connection option id {body.get('id')}")
                kind, opt = found
                conn = {"id": opt["id"], "displayName": opt["displayName"], "pstnServices": opt["pstnServices"],
                        "pstnConnectionType": self.PSTN_OPTION_TYPES[kind]}
            else:
                conn = {"pstnConnectionType": "LOCAL_GATEWAY"}
            if conn["pstnConnectionType"] == "LOCAL_GATEWAY":
                rtype, rid = body.get("premiseRouteType"), body.get("premiseRouteId")
                if not rtype or not rid:
                    missing = "premiseRouteType" if not rtype else "premiseRouteId"
                    raise E.bad_request(f"{missing} is required for a local gateway connection "
                                        "(or give the id of a cloud-connected PSTN option)")
                coll = {"ROUTE_GROUP": self.route_groups, "TRUNK": self.trunks}[rtype]
                route = coll.get(ids.key(rid or ""))
                if route is None:
                    raise E.bad_request(f"Invalid premiseRouteId {rid}")
                route["inUse"] = True
                conn.update(routeType=rtype, routeId=route["id"])
            loc["_pstn"] = conn

    def api_set_internal_dialing(self, lid: str, body: dict) -> None:
        with self.lock:
            loc = self._require_calling_location(lid)
            enable = body.get("enableUnknownExtensionRoutePolicy")
            if not isinstance(enable, bool):
                raise E.bad_request("enableUnknownExtensionRoutePolicy (bool) is required")
            ident = body.get("unknownExtensionRouteIdentity")
            new = {"enableUnknownExtensionRoutePolicy": enable}
            if ident:
                coll = {"ROUTE_GROUP": self.route_groups, "TRUNK": self.trunks}.get(ident.get("type") or "")
                route = coll.get(ids.key(ident.get("id") or "")) if coll is not None else None
                if route is None:
                    raise E.bad_request(f"Invalid unknownExtensionRouteIdentity {ident}")
                new["unknownExtensionRouteIdentity"] = {"id": route["id"], "name": route["name"],
                                                        "type": ident["type"]}
            elif enable:
                raise E.bad_request("unknownExtensionRouteIdentity is required when the policy is enabled")
            loc["_internalDialing"] = new
