"""People and licences: seeding, lookups and the People and licence-assignment rules (SCIM stores its people
through the same helpers)."""

from __future__ import annotations

from typing import Callable, Iterable

from .. import errors as E
from .. import ids
from .model import CALLING_PERSON_SKUS, StateCore, license_sku, now_iso, public

# (email, stored licence) -> whether Webex leaves that licence out (FaultConfig.licenses_partial)
LicenceFilter = Callable[[str, dict], bool]


class PeopleMixin(StateCore):
    """People and licences of :class:`~ledger.sandbox.state.SandboxState`."""

    # ------------------------------------------------------------------ seeding helpers
    def add_license(self, name: str, sku: str, total: int = 1000, license_id: str | None = None) -> str:
        with self.lock:
            lid = license_id or ids.encode("LICENSE", f"{self.org_uuid}:{sku}_{self._uuid()}")
            self.licenses[ids.key(lid)] = {
                "id": lid, "name": name, "totalUnits": total, "consumedUnits": 0,
                "subscriptionId": f"Sub-{sku}-sandbox", "_sku": sku.upper(),
            }
            return lid

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
            if calling and not self._holds_calling(lic):
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

    # ------------------------------------------------------------------ read helpers
    def people_by_email(self, email: str) -> list[dict]:
        e = (email or "").strip().lower()
        with self.lock:
            found = (self.people.get(k) for k in self.ix.email.get(e, ()))
            return [p for p in found if p is not None and any(x.lower() == e for x in p["emails"])]

    def person_by_email(self, email: str) -> dict | None:
        r = self.people_by_email(email)
        return r[0] if r else None

    def create_count(self, email: str) -> int:
        return self.create_counts[(email or "").strip().lower()]

    def license_by_sku(self, sku: str) -> dict | None:
        with self.lock:
            return next((l for l in self.licenses.values() if l["_sku"] == sku.upper()), None)

    def get_person(self, pid: str) -> dict:
        p = self.people.get(ids.key(pid))
        if p is None:
            raise E.not_found("Person", pid)
        return p

    def get_license(self, lid: str) -> dict:
        return self.found(self.licenses, lid, "License")

    def _sku(self, license_id: str) -> str:
        lic = self.licenses.get(ids.key(license_id))
        if lic:
            return lic["_sku"]
        d = ids.decode(license_id)
        return license_sku(d[1]) if d else ""

    def _holds_calling(self, license_ids: list[str]) -> bool:
        """Whether these licences include a Webex Calling licence for people."""
        return any(self._sku(x) in CALLING_PERSON_SKUS for x in license_ids)

    # ------------------------------------------------------------------ people
    def api_create_person(self, body: dict, calling_data: bool, dropped: LicenceFilter | None = None) -> dict:
        """Create a person; ``dropped(email, licence)`` licences are left out (answered 200 without them)."""
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
                if not self._holds_calling(licenses):
                    raise E.bad_request("A Webex Calling license is required to set locationId/extension",
                                        E.CALLING_LICENSE_NEEDS_LOCATION)
                if not loc_id or not (ext or work_numbers):
                    raise E.bad_request("Calling users need locationId and extension or phoneNumber",
                                        E.CALLING_LICENSE_NEEDS_LOCATION)
                loc = self._require_calling_location(loc_id)
                self._check_extension(loc["id"], ext)
                for n in work_numbers:
                    self._check_number_for(n, loc["id"], None)
            elif self._holds_calling(licenses):
                raise E.bad_request("A Webex Calling license needs locationId and extension or phoneNumber "
                                    "(use callingData=true)", E.CALLING_LICENSE_NEEDS_LOCATION)
            kept = [x for x in licenses if dropped is None or not dropped(email, self.licenses[ids.key(x)])]
            calling_data = calling_data and (self._holds_calling(kept) or not self._holds_calling(licenses))
            pid = self.add_person(
                email, first_name=body.get("firstName") or "", last_name=body.get("lastName") or "",
                display_name=body.get("displayName"), licenses=kept,
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
                if loc_id and not self._holds_calling(licenses):
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
            self.reindex(p)
            return p

    def api_delete_person(self, pid: str) -> None:
        """Delete ``pid``: its numbers go back to the inventory and each of its licences frees a unit."""
        with self.lock:
            p = self.get_person(pid)
            self._release_numbers(p["id"])
            for lid in p["licenses"]:
                if ids.key(lid) in self.licenses:
                    self.licenses[ids.key(lid)]["consumedUnits"] -= 1
            del self.people[ids.key(p["id"])]

    def person_view(self, p: dict, calling_data: bool) -> dict:
        v = public(p)
        if not calling_data:
            v.pop("locationId", None)
            v.pop("extension", None)
        return v

    def api_assign_licenses(self, body: dict, dropped: LicenceFilter | None = None) -> tuple[int, dict]:
        """(status, answer): 206 Partial Content when ``dropped(email, licence)`` leaves an add out."""
        with self.lock:
            p = self._licence_target(body)
            ops = body.get("licenses") or []
            if not isinstance(ops, list) or not ops:
                raise E.bad_request("licenses: at least one operation is required")
            # validate everything first, then apply (all or nothing, except the licences Webex leaves out)
            plan, loc_after, ext_after = self._plan_licence_ops(p, ops)
            partial = False
            for lic, operation, props in plan:
                if operation == "add" and dropped is not None and dropped(p["emails"][0], lic):
                    partial = True
                elif operation == "add":
                    self._apply_licence_add(p, lic, props, loc_after, ext_after)
                else:
                    self._apply_licence_remove(p, lic)
            return 206 if partial else 200, {
                "orgId": self.org_id, "personId": p["id"], "email": p["emails"][0], "licenses": list(p["licenses"]),
                "siteUrls": [], "pendingLicenses": [], "pendingSiteUrls": []}

    def _licence_target(self, body: dict) -> dict:
        """The person a licence assignment names, by ``personId`` or else ``email``."""
        if body.get("personId"):
            return self.get_person(body["personId"])
        if body.get("email"):
            p = self.person_by_email(body["email"])
            if p is None:
                raise E.not_found("Person", body["email"])
            return p
        raise E.bad_request("personId or email is required")

    def _plan_licence_ops(self, p: dict, ops: list) -> tuple[list[tuple[dict, str, dict]], str | None, str | None]:
        """Validate every operation before any is applied; returns the plan ``(licence, "add"|"remove",
        properties)`` and the person's location and extension once a Calling licence add has moved them."""
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
                if not self._holds_calling(p["licenses"]) or props:
                    loc = self._check_calling_properties(p, props)
                    loc_after, ext_after = loc["id"], props.get("extension") or ext_after
            plan.append((lic, operation, props))
        return plan, loc_after, ext_after

    def _check_calling_properties(self, p: dict, props: dict) -> dict:
        """The Calling location named by the ``properties`` of a Calling licence add, once their extension
        and phone number are known to be free for ``p`` there."""
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
        return loc

    def _apply_licence_add(self, p: dict, lic: dict, props: dict, loc_after: str | None,
                           ext_after: str | None) -> None:
        if not any(ids.same(x, lic["id"]) for x in p["licenses"]):
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
            self.reindex(p)

    def _apply_licence_remove(self, p: dict, lic: dict) -> None:
        """Remove ``lic``; the last Calling licence going takes the location, extension and numbers with it."""
        if any(ids.same(x, lic["id"]) for x in p["licenses"]):
            p["licenses"] = [x for x in p["licenses"] if not ids.same(x, lic["id"])]
            lic["consumedUnits"] -= 1
        if lic["_sku"] in CALLING_PERSON_SKUS and not self._holds_calling(p["licenses"]):
            p.pop("locationId", None)
            p.pop("extension", None)
            self._release_numbers(p["id"])
            p["phoneNumbers"] = [x for x in p["phoneNumbers"] if x.get("type") != "work"]
            self.reindex(p)
