"""The phone-number inventory of locations and the extension/number rules of users and workspaces."""

from __future__ import annotations

from typing import Any

from .. import errors as E
from .. import ids
from .model import COUNTRY_PREFIX, E164_RE, EXT_RE, StateCore


class NumbersMixin(StateCore):
    """Numbers and extensions of :class:`~ledger.sandbox.state.SandboxState`."""

    # ------------------------------------------------------------------ seeding helpers
    def add_number(self, location_id: str, number: str, state: str = "INACTIVE", number_type: str = "DID") -> str:
        with self.lock:
            loc = self.get_location(location_id)
            self.numbers[number] = {
                "phoneNumber": number, "locationId": loc["id"], "state": state.upper(),
                "numberType": number_type, "mainNumber": False, "tollFreeNumber": number_type == "TOLLFREE",
                "_owner": None,
            }
            return number

    def numbers_in(self, location_id: str) -> dict[str, dict]:
        with self.lock:
            found = ((n, self.numbers.get(n)) for n in sorted(self.ix.num_loc.get(ids.key(location_id), ())))
            return {n: r for n, r in found if r is not None and ids.same(r["locationId"], location_id)}

    def numbers_owned_by(self, owner_id: str) -> list[dict]:
        with self.lock:
            found = (self.numbers.get(n) for n in sorted(self.ix.num_owner.get(ids.key(owner_id), ())))
            return [r for r in found if r is not None and r["_owner"] and ids.same(r["_owner"]["id"], owner_id)]

    # ------------------------------------------------------------------ internal rules
    def _extension_owner(self, location_id: str, extension: str) -> dict | None:
        for k in sorted(self.ix.ext.get((ids.key(location_id), str(extension)), ())):
            p = self.people.get(k)
            if p is not None and p.get("extension") == extension and ids.same(p.get("locationId"), location_id):
                return p
            w = self.workspaces.get(k)
            if w is not None and w.get("_extension") == extension and ids.same(w.get("locationId"), location_id):
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
            self.reindex_number(rec)

    def _release_numbers(self, owner_id: str) -> None:
        for rec in self.numbers_owned_by(owner_id):
            rec["_owner"] = None
            self.reindex_number(rec)

    # ------------------------------------------------------------------ location numbers
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
            elif ent is not None:  # numbers_auto.py NumberObjectOwner: id, type, firstName, lastName only
                if ent.get("_extension"):
                    v["extension"] = ent["_extension"]
        return v
