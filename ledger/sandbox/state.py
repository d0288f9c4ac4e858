"""The sandbox's in-memory Webex org: data model, validation rules and seeding helpers.

Objects are plain JSON-able dicts with Webex camelCase fields; private bookkeeping lives under keys
starting with ``_``.  Every dict is keyed by :func:`ids.key` (the UUID tail of the id, lower case), so
lookups accept ids with or without ``=`` padding and raw UUIDs.  All mutations hold ``self.lock``.
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import random
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from . import errors as E
from . import ids

CALLING_PERSON_SKUS = {"BCSTD", "BCBASIC", "BCPRO"}
CALLING_WORKSPACE_SKUS = {"BCCA", "BCWS"}
CALLING_SKUS = CALLING_PERSON_SKUS | CALLING_WORKSPACE_SKUS

DEFAULT_LICENSES = (
    ("Webex Calling - Professional", "BCSTD", 1000),
    ("Call on Webex (1:1 call, non-PSTN)", "FTC", 1000),
    ("Webex Calling - Workspaces", "BCCA", 200),
)

COUNTRY_PREFIX = {
    "ES": "+34", "US": "+1", "CA": "+1", "GB": "+44", "FR": "+33", "DE": "+49", "PT": "+351",
    "IT": "+39", "MX": "+52", "NL": "+31", "BE": "+32", "IE": "+353", "AU": "+61", "BR": "+55",
}

CALL_TYPES = (
    "INTERNAL_CALL", "TOLL_FREE", "INTERNATIONAL", "OPERATOR_ASSISTED", "CHARGEABLE_DIRECTORY_ASSISTED",
    "SPECIAL_SERVICES_I", "SPECIAL_SERVICES_II", "PREMIUM_SERVICES_I", "PREMIUM_SERVICES_II", "NATIONAL",
)
PERMISSION_ACTIONS = {"ALLOW", "BLOCK", "AUTH_CODE", "TRANSFER_NUMBER_1", "TRANSFER_NUMBER_2", "TRANSFER_NUMBER_3"}

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
EXT_RE = re.compile(r"^\d{2,10}$")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def public(obj: dict | None) -> dict | None:
    """Copy of a stored object without the private ``_`` keys."""
    if obj is None:
        return None
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


def default_forwarding() -> dict:
    return {
        "callForwarding": {
            "always": {"enabled": False, "destination": "", "ringReminderEnabled": False,
                       "destinationVoicemailEnabled": False},
            "busy": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False},
            "noAnswer": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False,
                         "numberOfRings": 3, "systemMaxNumberOfRings": 20},
        },
        "businessContinuity": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False},
    }


def default_permissions() -> dict:
    return {
        "useCustomEnabled": False,
        "useCustomPermissions": False,
        "callingPermissions": [
            {"callType": ct, "action": "ALLOW" if ct in ("INTERNAL_CALL", "TOLL_FREE", "NATIONAL") else "BLOCK",
             "transferEnabled": ct in ("INTERNAL_CALL", "TOLL_FREE", "NATIONAL"),
             "isCallTypeRestrictionEnabled": False}
            for ct in CALL_TYPES
        ],
    }


class SandboxState:
    """A thread-safe fake Webex org (or several)."""

    def __init__(self, seed: int | None = None, defaults: bool = True):
        self.lock = threading.RLock()
        self._rng = random.Random(seed) if seed is not None else None
        self.orgs: dict[str, dict] = {}
        self.locations: dict[str, dict] = {}
        self.people: dict[str, dict] = {}
        self.licenses: dict[str, dict] = {}
        self.route_groups: dict[str, dict] = {}
        self.trunks: dict[str, dict] = {}
        self.workspaces: dict[str, dict] = {}
        self.numbers: dict[str, dict] = {}  # keyed by E.164 number
        self.jobs: dict[str, dict] = {}
        self.create_counts: Counter[str] = Counter()
        self.workspace_create_counts: Counter[str] = Counter()
        self.org_id: str = ""
        self.me_id: str = ""
        if defaults:
            self.add_org()
            for name, sku, total in DEFAULT_LICENSES:
                self.add_license(name, sku, total=total)

    # ------------------------------------------------------------------ ids
    def _uuid(self) -> str:
        return ids.new_uuid(self._rng)

    def _new_id(self, kind: str) -> str:
        return ids.encode(kind, self._uuid())

    @property
    def org_uuid(self) -> str:
        return ids.key(self.org_id)

    # ------------------------------------------------------------------ seeding helpers
    def add_org(self, name: str = "Sandbox Org", org_id: str | None = None, default: bool = True) -> str:
        with self.lock:
            oid = org_id or self._new_id("ORGANIZATION")
            self.orgs[ids.key(oid)] = {"id": oid, "displayName": name, "created": now_iso()}
            if default or not self.org_id:
                self.org_id = oid
                me = self.add_person("admin@sandbox.example.com", first_name="Sandbox", last_name="Admin",
                                     _count=False)
                self.people[ids.key(me)]["roles"] = ["full_admin"]
                self.me_id = me
            return oid

    def add_license(self, name: str, sku: str, total: int = 1000, license_id: str | None = None) -> str:
        with self.lock:
            lid = license_id or ids.encode("LICENSE", f"{self.org_uuid}:{sku}_{self._uuid()}")
            self.licenses[ids.key(lid)] = {
                "id": lid, "name": name, "totalUnits": total, "consumedUnits": 0,
                "subscriptionId": f"Sub-{sku}-sandbox", "_sku": sku.upper(),
            }
            return lid

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
            self.locations[ids.key(lid)] = {
                "id": lid, "name": name, "orgId": self.org_id, "timeZone": time_zone,
                "preferredLanguage": preferred_language, "announcementLanguage": announcement_language,
                "address": {"address1": address1, "city": city, "state": state, "postalCode": postal_code,
                            "country": country},
                "_calling": bool(calling_enabled), "_callingLineId": None, "_pstn": None,
                "_routingPrefix": routing_prefix,
                "_internalDialing": {"enableUnknownExtensionRoutePolicy": False},
                "_outgoingPermission": default_permissions(),
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

    def add_number(self, location_id: str, number: str, state: str = "INACTIVE", number_type: str = "DID") -> str:
        with self.lock:
            loc = self.get_location(location_id)
            self.numbers[number] = {
                "phoneNumber": number, "locationId": loc["id"], "state": state.upper(),
                "numberType": number_type, "mainNumber": False, "tollFreeNumber": number_type == "TOLLFREE",
                "_owner": None,
            }
            return number

    def add_person(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        location_id: str | None = None,
        extension: str | None = None,
        licenses: Iterable[str] = (),
        calling: bool = False,
        display_name: str | None = None,
        person_id: str | None = None,
        phone_number: str | None = None,
        _count: bool = True,
    ) -> str:
        """Seed a person directly (no API validation). ``calling=True`` gives a Calling licence."""
        with self.lock:
            pid = person_id or self._new_id("PEOPLE")
            lic = [self.get_license(x)["id"] for x in licenses]
            if calling and not any(self._sku(x) in CALLING_PERSON_SKUS for x in lic):
                lic.append(self.license_by_sku("BCSTD")["id"])
            p = {
                "id": pid, "emails": [email], "displayName": display_name or f"{first_name} {last_name}".strip()
                or email, "firstName": first_name, "lastName": last_name, "orgId": self.org_id,
                "licenses": lic, "phoneNumbers": [], "created": now_iso(), "type": "person",
                "status": "unknown", "invitePending": False, "loginEnabled": True,
                "_features": self._new_features(),
            }
            if location_id:
                p["locationId"] = self.get_location(location_id)["id"]
            if extension:
                p["extension"] = str(extension)
            self.people[ids.key(pid)] = p
            for x in lic:
                self.licenses[ids.key(x)]["consumedUnits"] += 1
            if phone_number:
                if phone_number not in self.numbers and location_id:
                    self.add_number(location_id, phone_number, state="ACTIVE")
                self._assign_number(phone_number, pid, "PEOPLE")
                p["phoneNumbers"].append({"type": "work", "value": phone_number, "primary": True})
            return pid

    def add_workspace(
        self,
        display_name: str,
        location_id: str | None = None,
        *,
        calling: str = "none",
        extension: str | None = None,
        phone_number: str | None = None,
        workspace_id: str | None = None,
    ) -> str:
        with self.lock:
            wid = workspace_id or ids.encode("PLACE", self._uuid())
            w = {
                "id": wid, "orgId": self.org_id, "displayName": display_name, "type": "notSet",
                "created": now_iso(), "supportedDevices": "phones", "hotdeskingStatus": "off",
                "calling": {"type": calling},
                "_features": self._new_features(),
            }
            if location_id:
                w["locationId"] = self.get_location(location_id)["id"]
            if calling == "webexCalling":
                w["calling"]["webexCalling"] = {"locationId": w.get("locationId")}
                w["_extension"] = extension
                w["_phoneNumber"] = phone_number
                if phone_number:
                    if phone_number not in self.numbers and location_id:
                        self.add_number(location_id, phone_number, state="ACTIVE")
                    self._assign_number(phone_number, wid, "PLACE")
            self.workspaces[ids.key(wid)] = w
            return wid

    def seed_defaults(self) -> dict[str, str]:
        """A small dataset for rehearsals: two calling locations with numbers, a route group, a trunk."""
        with self.lock:
            rg = self.add_route_group("RG_SANDBOX")
            l1 = self.add_location("SANDBOX-HQ", calling_enabled=True, routing_prefix="81")
            l2 = self.add_location("SANDBOX-BRANCH", calling_enabled=True, city="Madrid", state="Madrid",
                                   postal_code="28001", routing_prefix="82")
            tr = self.add_trunk("TRUNK_SANDBOX", location_id=l1)
            for i in range(10):
                self.add_number(l1, f"+3493100{i:04d}")
                self.add_number(l2, f"+3491100{i:04d}")
            return {"route_group": rg, "trunk": tr, "hq": l1, "branch": l2}

    def seed_from_samples(
        self,
        ubicaciones_csv: str | Path | None = None,
        usuarios_csv: str | Path | None = None,
        global_csv: str | Path | None = None,
        *,
        users: bool = False,
        calling_enabled: bool = False,
    ) -> dict[str, Any]:
        """Seed with EXACTLY the ids found in the operators' sample files.

        global.csv gives the org id, the licence ids (by SKU) and the route group id; Ubicaciones.csv the
        locations (by name, with their address and route group); Usuarios.csv the licence ids and,
        with ``users=True``, the people (without calling).  Returns a summary of what was seeded.
        """
        summary: dict[str, Any] = {"locations": {}, "licenses": {}, "route_groups": {}, "people": {}}

        def rows(p):
            if not p:
                return []
            with open(p, newline="", encoding="utf-8-sig") as fh:
                return list(csv.DictReader(fh))

        g_rows, u_rows, l_rows = rows(global_csv), rows(usuarios_csv), rows(ubicaciones_csv)
        with self.lock:
            g = g_rows[0] if g_rows else {}
            country = (g.get("country") or "ES").strip() or "ES"
            if g.get("org_id"):
                oid = g["org_id"].strip()
                if ids.key(oid) != self.org_uuid:
                    self._rebase_org(oid)
            lic_ids: list[str] = []
            for r in [g] + u_rows:
                for col in ("licenses_id", "add_license_ids", "remove_license_ids"):
                    for part in (r.get(col) or "").replace("|", ",").split(","):
                        part = part.strip()
                        if part and part not in lic_ids:
                            lic_ids.append(part)
            names = {"BCSTD": "Webex Calling - Professional", "FTC": "Call on Webex (1:1 call, non-PSTN)",
                     "BCCA": "Webex Calling - Workspaces", "BCBASIC": "Webex Calling - Basic"}
            for lid in lic_ids:
                d = ids.decode(lid)
                if not d or d[0] != "LICENSE":
                    continue
                sku = d[1].split(":", 1)[-1].split("_", 1)[0].upper()
                existing = self.license_by_sku(sku)
                if existing and ids.key(existing["id"]) != ids.key(lid):
                    del self.licenses[ids.key(existing["id"])]
                if ids.key(lid) not in self.licenses:
                    self.add_license(names.get(sku, sku), sku, license_id=lid)
                summary["licenses"][sku] = lid
            rg_ids = {(g.get("rg_id") or "").strip()} | {(r.get("premise_route_id") or "").strip() for r in l_rows}
            for rg in sorted(x for x in rg_ids if x):
                d = ids.decode(rg)
                if not d:
                    continue
                name = next((r.get("route_identity") for r in l_rows if ids.same(r.get("premise_route_id"), rg)
                             and r.get("route_identity")), None) or "RG_TEST"
                kind = "ROUTE_GROUP" if d[0].replace("_", "") == "ROUTEGROUP" else "TRUNK"
                if kind == "TRUNK":
                    if ids.key(rg) not in self.trunks:
                        self.add_trunk(name, trunk_id=rg)
                elif ids.key(rg) not in self.route_groups:
                    self.add_route_group(name, route_group_id=rg)
                summary["route_groups"][name] = rg
            for r in l_rows:
                name = (r.get("name") or "").strip()
                if not name:
                    continue
                existing = self.location_by_name(name)
                lid = existing["id"] if existing else self.add_location(
                    name, calling_enabled=calling_enabled, location_id=(r.get("location_id") or "").strip() or None,
                    address1=(r.get("address1") or "").strip() or "-", city=(r.get("city") or "").strip() or "-",
                    state=(r.get("state") or "").strip() or "-", postal_code=(r.get("postal_code") or "").strip(),
                    country=country, time_zone="Europe/Madrid",
                    preferred_language="es_ES", announcement_language=(g.get("announcement_language") or "es_es"),
                )
                summary["locations"][name] = lid
            if users:
                for r in u_rows:
                    email = (r.get("email") or "").strip()
                    if not email or self.people_by_email(email):
                        continue
                    pid = self.add_person(email, first_name=(r.get("first_name") or "").strip(),
                                          last_name=(r.get("last_name") or "").strip(),
                                          display_name=(r.get("display_name") or "").strip() or None,
                                          person_id=(r.get("person_id") or "").strip() or None, _count=False)
                    summary["people"][email] = pid
        return summary

    def seed_from_dict(self, data: dict) -> dict[str, Any]:
        """JSON seeding (admin endpoint): {locations:[{name, calling_enabled, numbers:[..]}], people:[...],
        licenses:[{name, sku, total}], route_groups:[name], trunks:[name], workspaces:[...], numbers:[...]}."""
        out: dict[str, Any] = {"locations": {}, "people": {}, "licenses": {}, "route_groups": {}, "trunks": {},
                               "workspaces": {}}
        with self.lock:
            for lic in data.get("licenses", []):
                out["licenses"][lic["name"]] = self.add_license(lic["name"], lic.get("sku", "BCSTD"),
                                                                total=lic.get("total", 1000),
                                                                license_id=lic.get("id"))
            for rg in data.get("route_groups", []):
                rg = {"name": rg} if isinstance(rg, str) else rg
                out["route_groups"][rg["name"]] = self.add_route_group(rg["name"], route_group_id=rg.get("id"))
            for tr in data.get("trunks", []):
                tr = {"name": tr} if isinstance(tr, str) else tr
                out["trunks"][tr["name"]] = self.add_trunk(tr["name"], trunk_id=tr.get("id"))
            for loc in data.get("locations", []):
                loc = dict(loc)
                numbers = loc.pop("numbers", [])
                name = loc.pop("name")
                lid = self.add_location(name, **loc)
                for n in numbers:
                    self.add_number(lid, n)
                out["locations"][name] = lid
            for n in data.get("numbers", []):
                self.add_number(self._resolve_location_ref(n["location"]), n["number"], n.get("state", "INACTIVE"))
            for p in data.get("people", []):
                p = dict(p)
                email = p.pop("email")
                if "location" in p:
                    p["location_id"] = self._resolve_location_ref(p.pop("location"))
                out["people"][email] = self.add_person(email, **p)
            for w in data.get("workspaces", []):
                w = dict(w)
                name = w.pop("display_name")
                if "location" in w:
                    w["location_id"] = self._resolve_location_ref(w.pop("location"))
                out["workspaces"][name] = self.add_workspace(name, **w)
        return out

    def _resolve_location_ref(self, ref: str) -> str:
        loc = self.locations.get(ids.key(ref)) or self.location_by_name(ref)
        if loc is None:
            raise KeyError(f"unknown location {ref!r}")
        return loc["id"]

    def _rebase_org(self, new_org_id: str) -> None:
        """Replace the default org id (used when seeding from files carrying a fixed org id)."""
        old = self.org_id
        org = self.orgs.pop(ids.key(old), {"displayName": "Sandbox Org"})
        org["id"] = new_org_id
        self.orgs[ids.key(new_org_id)] = org
        self.org_id = new_org_id
        for coll in (self.people, self.locations, self.workspaces):
            for o in coll.values():
                if o.get("orgId") == old:
                    o["orgId"] = new_org_id
        # licence ids embed the org uuid: regenerate the default ones
        remap: dict[str, str] = {}
        for k, lic in list(self.licenses.items()):
            d = ids.decode(lic["id"])
            if d and ":" in d[1] and d[1].split(":", 1)[0].lower() == ids.key(old):
                new_id = ids.encode("LICENSE", f"{ids.key(new_org_id)}:{d[1].split(':', 1)[1]}")
                del self.licenses[k]
                remap[lic["id"]] = new_id
                lic["id"] = new_id
                self.licenses[ids.key(new_id)] = lic
        for p in self.people.values():
            p["licenses"] = [remap.get(x, x) for x in p["licenses"]]

    # ------------------------------------------------------------------ read helpers
    def people_by_email(self, email: str) -> list[dict]:
        e = (email or "").strip().lower()
        with self.lock:
            return [p for p in self.people.values() if any(x.lower() == e for x in p["emails"])]

    def person_by_email(self, email: str) -> dict | None:
        r = self.people_by_email(email)
        return r[0] if r else None

    def create_count(self, email: str) -> int:
        return self.create_counts[(email or "").strip().lower()]

    def location_by_name(self, name: str) -> dict | None:
        with self.lock:
            return next((l for l in self.locations.values() if l["name"] == name), None)

    def workspaces_by_name(self, name: str) -> list[dict]:
        with self.lock:
            return [w for w in self.workspaces.values() if w["displayName"] == name]

    def license_by_sku(self, sku: str) -> dict | None:
        with self.lock:
            return next((l for l in self.licenses.values() if l["_sku"] == sku.upper()), None)

    def numbers_in(self, location_id: str) -> dict[str, dict]:
        with self.lock:
            return {n: r for n, r in self.numbers.items() if ids.same(r["locationId"], location_id)}

    def forwarding_of(self, entity_id: str) -> dict:
        return self._entity(entity_id)["_features"]["callForwarding"]

    def permissions_of(self, entity_id: str) -> dict:
        ent = self.locations.get(ids.key(entity_id))
        if ent is not None:
            return ent["_outgoingPermission"]
        return self._entity(entity_id)["_features"]["outgoingPermission"]

    def get_person(self, pid: str) -> dict:
        p = self.people.get(ids.key(pid))
        if p is None:
            raise E.not_found("Person", pid)
        return p

    def get_location(self, lid: str) -> dict:
        l = self.locations.get(ids.key(lid))
        if l is None:
            raise E.not_found("Location", lid)
        return l

    def get_license(self, lid: str) -> dict:
        l = self.licenses.get(ids.key(lid))
        if l is None:
            raise E.not_found("License", lid)
        return l

    def get_workspace(self, wid: str) -> dict:
        w = self.workspaces.get(ids.key(wid))
        if w is None:
            raise E.not_found("Workspace", wid)
        return w

    def _entity(self, eid: str) -> dict:
        k = ids.key(eid)
        ent = self.people.get(k) or self.workspaces.get(k)
        if ent is None:
            raise E.not_found("Entity", eid)
        return ent

    def check_org(self, org_id: str | None) -> None:
        if org_id and ids.key(org_id) not in self.orgs:
            raise E.ApiError(404, "Organization not found", E.NOT_FOUND, f"Organization {org_id} not found")

    def _sku(self, license_id: str) -> str:
        lic = self.licenses.get(ids.key(license_id))
        if lic:
            return lic["_sku"]
        d = ids.decode(license_id)
        return d[1].split(":", 1)[-1].split("_", 1)[0].upper() if d else ""

    @staticmethod
    def _new_features() -> dict:
        return {"callForwarding": default_forwarding(), "outgoingPermission": default_permissions(),
                "alternates": [], "distinctiveRingEnabled": False, "flatForwarding": None}

    # ------------------------------------------------------------------ internal rules
    def _extension_owner(self, location_id: str, extension: str) -> dict | None:
        for p in self.people.values():
            if p.get("extension") == extension and ids.same(p.get("locationId"), location_id):
                return p
        for w in self.workspaces.values():
            if w.get("_extension") == extension and ids.same(w.get("locationId"), location_id):
                return w
        return None

    def _check_extension(self, location_id: str, extension: str | None, owner_id: str | None = None) -> None:
        if not extension:
            return
        if not EXT_RE.match(str(extension)):
            raise E.bad_request(f"Invalid extension {extension}", E.INVALID)
        other = self._extension_owner(location_id, str(extension))
        if other is not None and not ids.same(other["id"], owner_id):
            raise E.ApiError(400, f"Extension {extension} is already in use in this location", E.EXTENSION_IN_USE,
                             f"[Error {E.EXTENSION_IN_USE}] Extension {extension} already in use.")

    def _require_calling_location(self, location_id: str) -> dict:
        loc = self.get_location(location_id) if location_id else None
        if loc is None:
            raise E.bad_request("locationId is required", E.INVALID)
        if not loc["_calling"]:
            raise E.ApiError(400, f"Location {loc['name']} is not a Webex Calling location",
                             E.LOCATION_NOT_CALLING,
                             f"[Error {E.LOCATION_NOT_CALLING}] Location is not enabled for Webex Calling.")
        return loc

    def _check_number_for(self, number: str, location_id: str, owner_id: str | None) -> dict:
        rec = self.numbers.get(number)
        if rec is None or not ids.same(rec["locationId"], location_id):
            raise E.ApiError(400, f"Phone number {number} is not in the location's inventory", E.NUMBER_IN_USE,
                             f"[Error {E.NUMBER_IN_USE}] Phone number {number} not found in the location.")
        if rec["_owner"] and not ids.same(rec["_owner"]["id"], owner_id):
            raise E.ApiError(400, f"Phone number {number} is already assigned", E.NUMBER_IN_USE,
                             f"[Error {E.NUMBER_IN_USE}] Phone number {number} is already in use.")
        return rec

    def _assign_number(self, number: str, owner_id: str, owner_type: str) -> None:
        rec = self.numbers.get(number)
        if rec is not None:
            rec["_owner"] = {"id": owner_id, "type": owner_type}
            rec["state"] = "ACTIVE"

    def _release_numbers(self, owner_id: str) -> None:
        for rec in self.numbers.values():
            if rec["_owner"] and ids.same(rec["_owner"]["id"], owner_id):
                rec["_owner"] = None

    # ------------------------------------------------------------------ people
    def api_create_person(self, body: dict, calling_data: bool) -> dict:
        with self.lock:
            emails = body.get("emails") or []
            if not emails or not isinstance(emails, list) or "@" not in str(emails[0]):
                raise E.bad_request("emails: a valid email address is required", E.INVALID)
            email = str(emails[0]).strip()
            if self.people_by_email(email):
                raise E.ApiError(409, "User already exists", 409001,
                                 f"A user with the email {email} already exists in the organization.")
            licenses = body.get("licenses") or []
            for lid in licenses:
                if ids.key(lid) not in self.licenses:
                    raise E.bad_request(f"Invalid license id {lid}", E.INVALID)
            loc_id, ext = body.get("locationId"), body.get("extension")
            work_numbers = [x.get("value") for x in body.get("phoneNumbers") or [] if x.get("type") == "work"]
            if calling_data and (loc_id or ext):
                if not any(self._sku(x) in CALLING_PERSON_SKUS for x in licenses):
                    raise E.bad_request("A Webex Calling license is required to set locationId/extension",
                                        E.CALLING_LICENSE_NEEDS_LOCATION)
                if not loc_id or not (ext or work_numbers):
                    raise E.bad_request("Calling users need locationId and extension or phoneNumber",
                                        E.CALLING_LICENSE_NEEDS_LOCATION)
                loc = self._require_calling_location(loc_id)
                self._check_extension(loc["id"], ext)
                for n in work_numbers:
                    self._check_number_for(n, loc["id"], None)
            elif any(self._sku(x) in CALLING_PERSON_SKUS for x in licenses):
                raise E.bad_request("A Webex Calling license needs locationId and extension or phoneNumber "
                                    "(use callingData=true)", E.CALLING_LICENSE_NEEDS_LOCATION)
            pid = self.add_person(
                email, first_name=body.get("firstName") or "", last_name=body.get("lastName") or "",
                display_name=body.get("displayName"), licenses=licenses,
                location_id=loc_id if calling_data else None, extension=ext if calling_data else None,
                _count=False,
            )
            p = self.people[ids.key(pid)]
            for n in work_numbers if calling_data and loc_id else []:
                self._assign_number(n, pid, "PEOPLE")
                p["phoneNumbers"].append({"type": "work", "value": n, "primary": True})
            for k in ("department", "title", "manager", "managerId", "nickName", "avatar"):
                if body.get(k) is not None:
                    p[k] = body[k]
            self.create_counts[email.lower()] += 1
            return p

    def api_update_person(self, pid: str, body: dict, calling_data: bool) -> dict:
        with self.lock:
            p = self.get_person(pid)
            if "emails" in body and body["emails"]:
                new = str(body["emails"][0]).lower()
                if any(not ids.same(o["id"], p["id"]) for o in self.people_by_email(new)):
                    raise E.ApiError(409, "Email already in use", 409001, f"{new} is used by another user")
            licenses = body.get("licenses", p["licenses"]) or []
            for lid in licenses:
                if ids.key(lid) not in self.licenses:
                    raise E.bad_request(f"Invalid license id {lid}")
            if calling_data:
                loc_id = body.get("locationId", p.get("locationId"))
                ext = body.get("extension", p.get("extension"))
                if loc_id and not any(self._sku(x) in CALLING_PERSON_SKUS for x in licenses):
                    raise E.bad_request("A Webex Calling license is required to set locationId",
                                        E.CALLING_LICENSE_NEEDS_LOCATION)
                if loc_id and not ids.same(loc_id, p.get("locationId")):
                    self._require_calling_location(loc_id)
                if loc_id:
                    self._check_extension(loc_id, ext, p["id"])
                    p["locationId"] = self.get_location(loc_id)["id"]
                if ext:
                    p["extension"] = str(ext)
            for old in p["licenses"]:
                if old not in licenses and ids.key(old) in self.licenses:
                    self.licenses[ids.key(old)]["consumedUnits"] -= 1
            for new in licenses:
                if new not in p["licenses"]:
                    self.licenses[ids.key(new)]["consumedUnits"] += 1
            p["licenses"] = list(licenses)
            for k in ("emails", "displayName", "firstName", "lastName", "department", "title", "nickName"):
                if k in body and body[k] is not None:
                    p[k] = body[k]
            p["lastModified"] = now_iso()
            return p

    def person_view(self, p: dict, calling_data: bool) -> dict:
        v = public(p)
        if not calling_data:
            v.pop("locationId", None)
            v.pop("extension", None)
        return v

    def api_assign_licenses(self, body: dict) -> dict:
        with self.lock:
            if body.get("personId"):
                p = self.get_person(body["personId"])
            elif body.get("email"):
                p = self.person_by_email(body["email"])
                if p is None:
                    raise E.not_found("Person", body["email"])
            else:
                raise E.bad_request("personId or email is required")
            ops = body.get("licenses") or []
            if not isinstance(ops, list) or not ops:
                raise E.bad_request("licenses: at least one operation is required")
            # validate everything first, then apply (all or nothing)
            plan = []
            loc_after, ext_after = p.get("locationId"), p.get("extension")
            for op in ops:
                lic = self.licenses.get(ids.key(op.get("id", "")))
                if lic is None:
                    raise E.bad_request(f"Invalid license id {op.get('id')}")
                operation = (op.get("operation") or "add").lower()
                if operation not in ("add", "remove"):
                    raise E.bad_request(f"Invalid operation {op.get('operation')}")
                props = op.get("properties") or {}
                if operation == "add" and lic["_sku"] in CALLING_PERSON_SKUS:
                    has_calling = any(self._sku(x) in CALLING_PERSON_SKUS for x in p["licenses"])
                    if not has_calling or props:
                        loc_id = props.get("locationId")
                        if not loc_id or not (props.get("extension") or props.get("phoneNumber")):
                            raise E.bad_request(
                                "Assigning a Webex Calling license requires locationId and extension or phoneNumber",
                                E.CALLING_LICENSE_NEEDS_LOCATION)
                        loc = self._require_calling_location(loc_id)
                        if props.get("extension"):
                            self._check_extension(loc["id"], props["extension"], p["id"])
                        if props.get("phoneNumber"):
                            self._check_number_for(props["phoneNumber"], loc["id"], p["id"])
                        loc_after, ext_after = loc["id"], props.get("extension") or ext_after
                plan.append((lic, operation, props))
            for lic, operation, props in plan:
                held = any(ids.same(x, lic["id"]) for x in p["licenses"])
                if operation == "add":
                    if not held:
                        p["licenses"].append(lic["id"])
                        lic["consumedUnits"] += 1
                    if lic["_sku"] in CALLING_PERSON_SKUS and props:
                        p["locationId"], p["extension"] = loc_after, ext_after
                        if p["extension"] is None:
                            p.pop("extension")
                        if props.get("phoneNumber"):
                            self._assign_number(props["phoneNumber"], p["id"], "PEOPLE")
                            p["phoneNumbers"] = [x for x in p["phoneNumbers"] if x.get("type") != "work"]
                            p["phoneNumbers"].append({"type": "work", "value": props["phoneNumber"],
                                                      "primary": True})
                else:
                    if held:
                        p["licenses"] = [x for x in p["licenses"] if not ids.same(x, lic["id"])]
                        lic["consumedUnits"] -= 1
                    if lic["_sku"] in CALLING_PERSON_SKUS and not any(
                            self._sku(x) in CALLING_PERSON_SKUS for x in p["licenses"]):
                        p.pop("locationId", None)
                        p.pop("extension", None)
                        self._release_numbers(p["id"])
                        p["phoneNumbers"] = [x for x in p["phoneNumbers"] if x.get("type") != "work"]
            return {"orgId": self.org_id, "personId": p["id"], "email": p["emails"][0],
                    "licenses": list(p["licenses"]), "siteUrls": [], "pendingLicenses": [],
                    "pendingSiteUrls": []}

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
            for k in ("name", "timeZone", "preferredLanguage", "announcementLanguage"):
                if body.get(k):
                    loc[k] = body[k]
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
            for f in ("timeZone", "announcementLanguage", "preferredLanguage"):
                if not (body.get(f) or loc.get(f)):
                    raise E.bad_request(f"{f} is required to enable calling")
            loc["_calling"] = True
            return {"id": loc["id"]}

    def telephony_location_view(self, loc: dict) -> dict:
        v: dict[str, Any] = {"id": loc["id"], "name": loc["name"], "userLimit": 500000,
                             "announcementLanguage": loc.get("announcementLanguage"),
                             "outsideDialDigit": "0", "enforceOutsideDialDigit": False,
                             "defaultDomain": "sandbox.example.com", "chargeNumberEnabled": False,
                             "e911SetupRequired": False, "externalCallerIdName": loc["name"][:30]}
        if loc.get("_routingPrefix"):
            v["routingPrefix"] = loc["_routingPrefix"]
        if loc["_callingLineId"]:
            v["callingLineId"] = dict(loc["_callingLineId"])
        if loc["_pstn"] and loc["_pstn"].get("routeId"):
            v["connection"] = {"type": loc["_pstn"]["routeType"], "id": loc["_pstn"]["routeId"]}
        return v

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

    def pstn_options(self, lid: str) -> list[dict]:
        loc = self.get_location(lid)
        k = ids.key(loc["id"])
        return [
            {"id": ids.encode("PSTN_CONNECTION_OPTION", f"lgw-{k}"), "displayName": "Premises-based PSTN",
             "pstnServices": ["GEOGRAPHIC_NUMBERS", "EMERGENCY_CALLING"], "pstnConnectionType": "LOCAL_GATEWAY"},
            {"id": ids.encode("PSTN_CONNECTION_OPTION", f"ccp-{k}"), "displayName": "Sandbox Cloud PSTN",
             "pstnServices": ["GEOGRAPHIC_NUMBERS", "TOLLFREE_NUMBERS"],
             "pstnConnectionType": "CISCO_CLOUD_CONNECTED_PSTN"},
        ]

    def api_set_pstn(self, lid: str, body: dict) -> None:
        with self.lock:
            loc = self._require_calling_location(lid)
            opt = next((o for o in self.pstn_options(lid) if ids.same(o["id"], body.get("id"))), None)
            if opt is None:
                raise E.bad_request(f"Invalid PSTN connection option id {body.get('id')}")
            conn = {"id": opt["id"], "displayName": opt["displayName"],
                    "pstnConnectionType": opt["pstnConnectionType"]}
            if opt["pstnConnectionType"] == "LOCAL_GATEWAY":
                rtype, rid = body.get("premiseRouteType"), body.get("premiseRouteId")
                coll = {"ROUTE_GROUP": self.route_groups, "TRUNK": self.trunks}.get(rtype or "")
                if coll is None:
                    raise E.bad_request("premiseRouteType must be ROUTE_GROUP or TRUNK")
                route = coll.get(ids.key(rid or ""))
                if route is None:
                    raise E.bad_request(f"Invalid premiseRouteId {rid}")
                route["inUse"] = True
                conn.update(routeType=rtype, routeId=route["id"])
            loc["_pstn"] = conn

    def api_add_numbers(self, lid: str, body: dict) -> tuple[int, Any]:
        """Returns (status, body): 201 and None on full success; 400 and [{errors:[...]}] otherwise."""
        with self.lock:
            loc = self.get_location(lid)
            numbers = body.get("phoneNumbers")
            if not isinstance(numbers, list) or not numbers:
                raise E.bad_request("phoneNumbers is required")
            state = (body.get("state") or "INACTIVE").upper()
            ntype = (body.get("numberType") or "DID").upper()
            prefix = COUNTRY_PREFIX.get(loc["address"].get("country", "").upper())
            errs = []

            def err(n, code, title, msg):
                errs.append({"number": n, "errorType": "INVALID_NUMBER" if code != "NUM_IN_USE" else "IN_USE",
                             "errorCode": code, "errorMessage": msg, "errorTitle": title})

            for n in numbers:
                n = str(n)
                if not loc["_calling"]:
                    err(n, "LOCATION_NOT_CALLING", "Location not enabled",
                        f"Location {loc['name']} is not enabled for Webex Calling")
                elif loc["_pstn"] is not None and loc["_pstn"].get("pstnConnectionType") != "LOCAL_GATEWAY":
                    err(n, "PSTN_INTEGRATED", "Integrated PSTN",
                        "Numbers can only be added to locations with a non-integrated PSTN")
                elif not E164_RE.match(n):
                    err(n, "INVALID_FORMAT", "Invalid format", f"{n} is not a valid E.164 number")
                elif prefix and not n.startswith(prefix):
                    err(n, "INVALID_COUNTRY", "Wrong country",
                        f"{n} does not belong to the location's country ({loc['address'].get('country')})")
                elif n in self.numbers and not ids.same(self.numbers[n]["locationId"], loc["id"]):
                    err(n, "NUM_IN_USE", "Number in use", f"{n} already exists in another location")
            bad = {e["number"] for e in errs}
            for n in numbers:
                n = str(n)
                if n not in bad and n not in self.numbers:
                    self.add_number(loc["id"], n, state=state, number_type=ntype)
            if errs:
                return 400, [{"errors": errs}]
            return 201, None

    def number_view(self, rec: dict) -> dict:
        loc = self.locations.get(ids.key(rec["locationId"]))
        v = {"phoneNumber": rec["phoneNumber"], "state": rec["state"], "phoneNumberType": "PRIMARY",
             "mainNumber": rec["mainNumber"], "tollFreeNumber": rec["tollFreeNumber"],
             "isServiceNumber": False, "includedTelephonyTypes": "PSTN_NUMBER",
             "location": {"id": rec["locationId"], "name": loc["name"] if loc else None}}
        o = rec["_owner"]
        if o:
            ent = self.people.get(ids.key(o["id"])) or self.workspaces.get(ids.key(o["id"]))
            v["owner"] = {"id": o["id"], "type": o["type"]}
            if ent is not None and o["type"] == "PEOPLE":
                v["owner"].update(firstName=ent.get("firstName"), lastName=ent.get("lastName"))
                if ent.get("extension"):
                    v["extension"] = ent["extension"]
            elif ent is not None:
                v["owner"]["displayName"] = ent.get("displayName")
                if ent.get("_extension"):
                    v["extension"] = ent["_extension"]
        return v

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

    @staticmethod
    def validate_permissions(body: dict) -> dict:
        perms = body.get("callingPermissions")
        if perms is not None:
            if not isinstance(perms, list):
                raise E.bad_request("callingPermissions must be a list")
            for p in perms:
                if not isinstance(p, dict) or not p.get("callType") or p.get("action") not in PERMISSION_ACTIONS:
                    raise E.bad_request(f"Invalid calling permission {p}")
        return body

    def api_set_permissions(self, target: dict, body: dict) -> None:
        with self.lock:
            self.validate_permissions(body)
            cur = target
            for k in ("useCustomEnabled", "useCustomPermissions"):
                if k in body and body[k] is not None:
                    cur[k] = bool(body[k])
            if body.get("callingPermissions") is not None:
                by_type = {p["callType"]: p for p in cur["callingPermissions"]}
                for p in body["callingPermissions"]:
                    by_type[p["callType"]] = {"callType": p["callType"], "action": p["action"],
                                              "transferEnabled": bool(p.get("transferEnabled")),
                                              "isCallTypeRestrictionEnabled":
                                                  bool(p.get("isCallTypeRestrictionEnabled"))}
                cur["callingPermissions"] = list(by_type.values())

    # ------------------------------------------------------------------ move users job
    def api_move_users(self, body: dict, tracking_id: str) -> dict:
        with self.lock:
            lists = body.get("usersList")
            if not isinstance(lists, list) or len(lists) != 1:
                raise E.bad_request("usersList must contain exactly one entry")
            entry = lists[0]
            users = entry.get("users") or []
            if len(users) != 1:
                raise E.bad_request("Only one user can be moved per request")
            target = self.get_location(entry.get("locationId") or "")
            validate_only = bool(entry.get("validate"))
            u = users[0]
            result: dict[str, Any] = {"userId": u.get("userId"), "errors": [], "impacts": []}
            p = self.people.get(ids.key(u.get("userId") or ""))
            if p is None or not p.get("locationId"):
                result["errors"].append({"code": E.MOVE_NOT_CALLING_USER,
                                         "message": f"{u.get('userId')} is not a valid Calling user"})
            elif ids.same(p["locationId"], target["id"]):
                result["errors"].append({"code": E.MOVE_SAME_LOCATION,
                                         "message": "Target location is same as user's current location."})
            elif not target["_calling"]:
                result["errors"].append({"code": E.LOCATION_NOT_CALLING,
                                         "message": "Target location is not a Webex Calling location."})
            else:
                ext = u.get("extension") or p.get("extension")
                other = self._extension_owner(target["id"], ext) if ext else None
                if other is not None and not ids.same(other["id"], p["id"]):
                    result["errors"].append({"code": E.EXTENSION_IN_USE,
                                             "message": f"Extension {ext} is already in use in the target"})
            response: dict[str, Any] = {"usersList": [result]}
            if result["errors"] or validate_only:
                return {"response": response}
            old = p["locationId"]
            p["locationId"] = target["id"]
            if u.get("extension"):
                p["extension"] = str(u["extension"])
            if u.get("phoneNumber"):
                self._release_numbers(p["id"])
                self._assign_number(u["phoneNumber"], p["id"], "PEOPLE")
            else:
                for rec in self.numbers.values():
                    if rec["_owner"] and ids.same(rec["_owner"]["id"], p["id"]):
                        rec["locationId"] = target["id"]
            t = now_iso()
            job_id = ids.encode("JOB_ID", self._uuid())
            job = {
                "name": "moveusers", "id": job_id, "jobType": "moveusers", "trackingId": tracking_id or "",
                "sourceUserId": self.me_id, "sourceCustomerId": self.org_id, "targetCustomerId": self.org_id,
                "instanceId": len(self.jobs) + 1,
                "jobExecutionStatus": [{"id": len(self.jobs) + 1, "startTime": t, "endTime": t, "lastUpdated": t,
                                        "statusMessage": "STARTING", "exitCode": "UNKNOWN", "createdTime": t,
                                        "timeElapsed": "PT0S", "stepExecutionStatuses": []}],
                "latestExecutionStatus": "STARTING", "latestExecutionExitCode": "UNKNOWN",
                "counts": {"totalMoves": 1, "moved": 1, "failed": 0},
                "_from": old, "_to": target["id"], "_user": p["id"], "_polls": 0,
            }
            self.jobs[ids.key(job_id)] = job
            response["jobDetails"] = public(job)
            return {"response": response}

    def job_view(self, job_id: str) -> dict:
        with self.lock:
            job = self.jobs.get(ids.key(job_id))
            if job is None:
                raise E.not_found("Job", job_id)
            job["_polls"] += 1
            if job["_polls"] >= 1:  # completes on the first poll
                job["latestExecutionStatus"] = "COMPLETED"
                job["latestExecutionExitCode"] = "COMPLETED"
                st = job["jobExecutionStatus"][0]
                st.update(statusMessage="COMPLETED", exitCode="COMPLETED", endTime=now_iso(),
                          lastUpdated=now_iso())
            return public(job)

    # ------------------------------------------------------------------ numbers of people / workspaces
    def person_numbers_view(self, pid: str) -> dict:
        with self.lock:
            p = self.get_person(pid)
            if not p.get("locationId"):
                raise E.bad_request("User is not a Webex Calling user", E.MOVE_NOT_CALLING_USER)
            loc = self.locations.get(ids.key(p["locationId"]), {})
            primary_num = next((x["value"] for x in p["phoneNumbers"] if x.get("type") == "work"), None)
            first = {"primary": True, "extension": p.get("extension"), "routingPrefix": loc.get("_routingPrefix")}
            if primary_num:
                first["directNumber"] = primary_num
            if p.get("extension") and loc.get("_routingPrefix"):
                first["esn"] = f"{loc['_routingPrefix']}{p['extension']}"
            items = [{k: v for k, v in first.items() if v is not None}]
            for alt in p["_features"]["alternates"]:
                items.append({"primary": False, "directNumber": alt["directNumber"],
                              "ringPattern": alt.get("ringPattern", "NORMAL")})
            return {"distinctiveRingEnabled": p["_features"]["distinctiveRingEnabled"], "phoneNumbers": items}

    def _update_alternates(self, ent: dict, owner_type: str, body: dict, ring_key: str) -> None:
        feats = ent["_features"]
        loc_id = ent.get("locationId")
        if not loc_id:
            raise E.bad_request("Entity is not a Webex Calling user/workspace", E.MOVE_NOT_CALLING_USER)
        plan = []
        for item in body.get("phoneNumbers") or []:
            num = item.get("external") or item.get("directNumber")
            if item.get("primary"):
                plan.append(("primary", item))
                continue
            action = (item.get("action") or "ADD").upper()
            if not num:
                raise E.bad_request("phoneNumbers[].directNumber/external is required")
            if action == "ADD":
                if not any(a["directNumber"] == num for a in feats["alternates"]):
                    self._check_number_for(num, loc_id, ent["id"])
                plan.append(("add", num, item))
            elif action == "DELETE":
                plan.append(("delete", num, item))
            else:
                raise E.bad_request(f"Invalid action {action}")
        for step in plan:
            if step[0] == "add":
                if not any(a["directNumber"] == step[1] for a in feats["alternates"]):
                    feats["alternates"].append({"directNumber": step[1],
                                                "ringPattern": step[2].get("ringPattern") or "NORMAL"})
                    self._assign_number(step[1], ent["id"], owner_type)
            elif step[0] == "delete":
                feats["alternates"] = [a for a in feats["alternates"] if a["directNumber"] != step[1]]
                rec = self.numbers.get(step[1])
                if rec and rec["_owner"] and ids.same(rec["_owner"]["id"], ent["id"]):
                    rec["_owner"] = None
            else:
                item = step[1]
                if item.get("extension"):
                    self._check_extension(loc_id, item["extension"], ent["id"])
                    if owner_type == "PLACE":
                        ent["_extension"] = str(item["extension"])
                    else:
                        ent["extension"] = str(item["extension"])
                num = item.get("directNumber") or item.get("external")
                if num:
                    self._check_number_for(num, loc_id, ent["id"])
                    self._assign_number(num, ent["id"], owner_type)
                    if owner_type == "PLACE":
                        ent["_phoneNumber"] = num
                    else:
                        ent["phoneNumbers"] = [x for x in ent["phoneNumbers"] if x.get("type") != "work"]
                        ent["phoneNumbers"].append({"type": "work", "value": num, "primary": True})
        if body.get(ring_key) is not None:
            feats["distinctiveRingEnabled"] = bool(body[ring_key])

    def api_update_person_numbers(self, pid: str, body: dict) -> None:
        with self.lock:
            self._update_alternates(self.get_person(pid), "PEOPLE", body, "enableDistinctiveRingPattern")

    def workspace_numbers_view(self, wid: str) -> dict:
        with self.lock:
            w = self.get_workspace(wid)
            if w["calling"].get("type") != "webexCalling":
                raise E.bad_request("Workspace is not a Webex Calling workspace", E.INVALID)
            loc = self.locations.get(ids.key(w.get("locationId") or ""), {})
            first = {"primary": True, "external": w.get("_phoneNumber"), "extension": w.get("_extension"),
                     "routingPrefix": loc.get("_routingPrefix")}
            if w.get("_extension") and loc.get("_routingPrefix"):
                first["esn"] = f"{loc['_routingPrefix']}{w['_extension']}"
            items = [{k: v for k, v in first.items() if v is not None}]
            for alt in w["_features"]["alternates"]:
                items.append({"primary": False, "external": alt["directNumber"],
                              "ringPattern": alt.get("ringPattern", "NORMAL")})
            org = self.orgs.get(ids.key(w["orgId"]), {})
            return {"distinctiveRingEnabled": w["_features"]["distinctiveRingEnabled"], "phoneNumbers": items,
                    "workspace": {"id": w["id"]}, "location": {"id": loc.get("id"), "name": loc.get("name")},
                    "organization": {"id": w["orgId"], "name": org.get("displayName")}}

    def api_update_workspace_numbers(self, wid: str, body: dict) -> None:
        with self.lock:
            w = self.get_workspace(wid)
            if w["calling"].get("type") != "webexCalling":
                raise E.bad_request("Workspace is not a Webex Calling workspace", E.INVALID)
            self._update_alternates(w, "PLACE", body, "distinctiveRingEnabled")

    # ------------------------------------------------------------------ forwarding
    @staticmethod
    def validate_forwarding(body: dict) -> None:
        cf = body.get("callForwarding")
        if not isinstance(cf, dict):
            raise E.bad_request("callForwarding is required")
        for k in ("always", "busy", "noAnswer"):
            if not isinstance(cf.get(k), dict) or not isinstance(cf[k].get("enabled"), bool):
                raise E.bad_request(f"callForwarding.{k} is required (with enabled)")
            if cf[k]["enabled"] and not cf[k].get("destination") and not cf[k].get("destinationVoicemailEnabled"):
                raise E.bad_request(f"callForwarding.{k}.destination is required when enabled")
        bc = body.get("businessContinuity")
        if not isinstance(bc, dict) or not isinstance(bc.get("enabled"), bool):
            raise E.bad_request("businessContinuity is required (with enabled)")

    def api_set_forwarding(self, eid: str, body: dict) -> None:
        with self.lock:
            ent = self._entity(eid)
            if not ent.get("locationId") and ent.get("calling", {}).get("type") != "webexCalling":
                raise E.bad_request("Entity is not a Webex Calling user/workspace", E.MOVE_NOT_CALLING_USER)
            self.validate_forwarding(body)
            cur = ent["_features"]["callForwarding"]
            for k in ("always", "busy", "noAnswer"):
                cur["callForwarding"][k].update(body["callForwarding"][k])
            cur["businessContinuity"].update(body["businessContinuity"])

    # ------------------------------------------------------------------ workspaces
    def api_create_workspace(self, body: dict) -> dict:
        with self.lock:
            name = body.get("displayName")
            if not name:
                raise E.bad_request("displayName is required")
            loc_id = body.get("locationId") or body.get("workspaceLocationId")
            calling = body.get("calling") or {}
            ctype = calling.get("type") or "none"
            ext = num = None
            if loc_id:
                loc_id = self.get_location(loc_id)["id"]
            if ctype == "webexCalling":
                wc = calling.get("webexCalling") or {}
                loc_id = wc.get("locationId") or loc_id
                ext, num = wc.get("extension"), wc.get("phoneNumber")
                if not loc_id or not (ext or num):
                    raise E.bad_request("webexCalling workspaces need locationId and extension or phoneNumber")
                loc = self._require_calling_location(loc_id)
                loc_id = loc["id"]
                self._check_extension(loc_id, ext)
                if num:
                    self._check_number_for(num, loc_id, None)
                for lid in wc.get("licenses") or []:
                    if ids.key(lid) not in self.licenses:
                        raise E.bad_request(f"Invalid license id {lid}")
            wid = self.add_workspace(name, loc_id, calling=ctype, extension=ext, phone_number=num)
            w = self.workspaces[ids.key(wid)]
            for k in ("capacity", "type", "supportedDevices", "notes", "hotdeskingStatus"):
                if body.get(k) is not None:
                    w[k] = body[k]
            self.workspace_create_counts[name] += 1
            return w

    def workspace_view(self, w: dict) -> dict:
        v = public(w)
        if w.get("locationId"):
            v["workspaceLocationId"] = w["locationId"]
        return v

    # ------------------------------------------------------------------ dump / reset
    def dump(self) -> dict:
        with self.lock:
            return {
                "orgId": self.org_id,
                "orgs": copy.deepcopy(list(self.orgs.values())),
                "locations": copy.deepcopy(list(self.locations.values())),
                "people": copy.deepcopy(list(self.people.values())),
                "licenses": copy.deepcopy(list(self.licenses.values())),
                "routeGroups": copy.deepcopy(list(self.route_groups.values())),
                "trunks": copy.deepcopy(list(self.trunks.values())),
                "workspaces": copy.deepcopy(list(self.workspaces.values())),
                "numbers": copy.deepcopy(list(self.numbers.values())),
                "jobs": copy.deepcopy(list(self.jobs.values())),
                "createCounts": dict(self.create_counts),
            }

    def touch_keys(self, strings: Iterable[str]) -> set[str]:
        """Keys (lower-case) an operation touches, for row-error matching: the strings themselves plus the
        email/name/id of any stored object they reference."""
        out: set[str] = set()
        with self.lock:
            for s in strings:
                if not s:
                    continue
                s = str(s).strip()
                out.add(s.lower())
                k = ids.key(s)
                out.add(k)
                p = self.people.get(k)
                if p is not None:
                    out.update(e.lower() for e in p["emails"])
                    out.add(ids.key(p["id"]))
                loc = self.locations.get(k)
                if loc is not None:
                    out.add(loc["name"].lower())
                w = self.workspaces.get(k)
                if w is not None:
                    out.add(w["displayName"].lower())
        return out
