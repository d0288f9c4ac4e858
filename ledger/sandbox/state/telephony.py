"""Calling settings of people and workspaces: forwarding, calling permissions and alternate numbers
(the move-users jobs are in ``jobs.py``)."""

from __future__ import annotations

from .. import errors as E
from .. import ids
from .model import PERMISSION_ACTIONS, StateCore


class TelephonyMixin(StateCore):
    """Person/workspace telephony settings of :class:`~ledger.sandbox.state.SandboxState`."""

    # ------------------------------------------------------------------ read helpers
    def forwarding_of(self, entity_id: str) -> dict:
        return self._entity(entity_id)["_features"]["callForwarding"]

    def _calling_entity(self, eid: str) -> dict:
        """The person or workspace ``eid``; 400 unless it has Webex Calling."""
        ent = self._entity(eid)
        if not ent.get("locationId") and ent.get("calling", {}).get("type") != "webexCalling":
            raise E.bad_request("Entity is not a Webex Calling user/workspace", E.MOVE_NOT_CALLING_USER)
        return ent

    def permissions_of(self, entity_id: str) -> dict:
        ent = self.locations.get(ids.key(entity_id))
        if ent is not None:
            return ent["_outgoingPermission"]
        return self._entity(entity_id)["_features"]["outgoingPermission"]

    # ------------------------------------------------------------------ calling permissions
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
                if k in body and body[k] is not None and k in cur:
                    cur[k] = bool(body[k])
            if body.get("callingPermissions") is not None:
                by_type = {p["callType"]: p for p in cur["callingPermissions"]}
                for p in body["callingPermissions"]:
                    now = by_type.get(p["callType"]) or {}
                    locked = bool(now.get("isCallTypeRestrictionEnabled"))
                    # isCallTypeRestrictionEnabled (user-call-settings_auto.py): "enforced by the system for
                    # the corresponding call type and cannot be changed"
                    if locked and (p["action"] != now.get("action")
                                   or bool(p.get("transferEnabled")) != bool(now.get("transferEnabled"))):
                        raise E.bad_request(f"Call type {p['callType']} is restricted by the system and "
                                            "cannot be changed")
                    by_type[p["callType"]] = {"callType": p["callType"], "action": p["action"],
                                              "transferEnabled": bool(p.get("transferEnabled")),
                                              "isCallTypeRestrictionEnabled": locked}
                cur["callingPermissions"] = list(by_type.values())

    # ------------------------------------------------------------------ numbers of people / workspaces
    def person_numbers_view(self, pid: str) -> dict:
        with self.lock:
            p = self.get_person(pid)
            if not p.get("locationId"):
                raise E.bad_request("User is not a Webex Calling user", E.MOVE_NOT_CALLING_USER)
            loc = self.locations.get(ids.key(p["locationId"]), {})
            primary_num = next((x["value"] for x in p["phoneNumbers"] if x.get("type") == "work"), None)
            items = self._number_items(p, loc, "directNumber", primary_num, p.get("extension"))
            return {"distinctiveRingEnabled": p["_features"]["distinctiveRingEnabled"], "phoneNumbers": items}

    @staticmethod
    def _number_items(ent: dict, loc: dict, number_key: str, number: str | None,
                      extension: str | None) -> list[dict]:
        """The ``phoneNumbers`` of a numbers view: the primary line (its ESN is the location's routing prefix
        and the extension), then the alternates; people name a number ``directNumber``, workspaces ``external``."""
        prefix = loc.get("_routingPrefix")
        first = {"primary": True, number_key: number, "extension": extension, "routingPrefix": prefix}
        if extension and prefix:
            first["esn"] = f"{prefix}{extension}"
        items = [{k: v for k, v in first.items() if v is not None}]
        for alt in ent["_features"]["alternates"]:
            items.append({"primary": False, number_key: alt["directNumber"],
                          "ringPattern": alt.get("ringPattern", "NORMAL")})
        return items

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
                    self.reindex_number(rec)
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
        self.reindex(ent)

    def api_update_person_numbers(self, pid: str, body: dict) -> None:
        with self.lock:
            self._update_alternates(self.get_person(pid), "PEOPLE", body, "enableDistinctiveRingPattern")

    def workspace_numbers_view(self, wid: str) -> dict:
        with self.lock:
            w = self.get_workspace(wid)
            if w["calling"].get("type") != "webexCalling":
                raise E.bad_request("Workspace is not a Webex Calling workspace", E.INVALID)
            loc = self.locations.get(ids.key(w.get("locationId") or ""), {})
            items = self._number_items(w, loc, "external", w.get("_phoneNumber"), w.get("_extension"))
            # workspace-call-settings_auto.py: distinctiveRingEnabled and phoneNumbers only
            return {"distinctiveRingEnabled": w["_features"]["distinctiveRingEnabled"], "phoneNumbers": items}

    def api_update_workspace_numbers(self, wid: str, body: dict) -> None:
        with self.lock:
            w = self.get_workspace(wid)
            if w["calling"].get("type") != "webexCalling":
                raise E.bad_request("Workspace is not a Webex Calling workspace", E.INVALID)
            if not self.workspace_is_professional(w):
                # workspace-call-settings-2_auto.py assign_or_unassign_numbers_associated_with_a_specific_workspace:
                # "This API is only available for professional licensed workspaces."
                raise E.ApiError(400, "This API is only available for professional licensed workspaces.", None,
                                 "This API is only available for professional licensed workspaces.")
            self._update_alternates(w, "PLACE", body, "distinctiveRingEnabled")

    # ------------------------------------------------------------------ forwarding
    @staticmethod
    def merged_forwarding(cur: dict, body: dict) -> dict:
        """The forwarding settings after a PUT of ``body`` onto ``cur`` (a new dict; ``cur`` untouched).

        Contract: PUT /v1/people/{personId}/features/callForwarding and PUT /v1/workspaces/{workspaceId}/
        features/callForwarding (contract.json, from the generated models in user-call-settings_auto.py
        ``CallForwardingPutCallForwarding`` and workspace-call-settings_auto.py): no field is required, so a
        body may carry ``callForwarding.always`` alone; what it carries is set, the rest kept. (wxc_sdk's
        ``PersonForwardingSetting`` model needs the full object: a client-side quirk, WEBEX_NOTES.md.)
        What a forward needs stays checked on the result: an enabled forward has a destination."""
        cf = body.get("callForwarding", {})
        bc = body.get("businessContinuity", {})
        if not isinstance(cf, dict) or not isinstance(bc, dict) or not isinstance(bc.get("enabled", False), bool):
            raise E.bad_request("callForwarding and businessContinuity must be objects (enabled: boolean)")
        out = {"callForwarding": {}, "businessContinuity": {**cur["businessContinuity"], **bc}}
        for k in ("always", "busy", "noAnswer"):
            part = cf.get(k, {})
            if not isinstance(part, dict) or not isinstance(part.get("enabled", False), bool):
                raise E.bad_request(f"callForwarding.{k} must be an object (enabled: boolean)")
            out["callForwarding"][k] = {**cur["callForwarding"][k], **part}
        for k, fw in out["callForwarding"].items():
            if fw.get("enabled") and not fw.get("destination") and not fw.get("destinationVoicemailEnabled"):
                raise E.bad_request(f"callForwarding.{k}.destination is required when enabled")
        return out

    def api_set_forwarding(self, eid: str, body: dict) -> None:
        with self.lock:
            ent = self._calling_entity(eid)
            ent["_features"]["callForwarding"] = self.merged_forwarding(ent["_features"]["callForwarding"], body)

    def api_set_forwarding_always(self, eid: str, body: dict) -> None:
        """The flat ``.../callForwarding`` PUT: ``always`` alone, given flat or as ``callForwarding.always``."""
        with self.lock:
            ent = self._entity(eid)
            always = (body.get("callForwarding") or {}).get("always") if "callForwarding" in body else body
            if not isinstance(always, dict) or not isinstance(always.get("enabled"), bool):
                raise E.bad_request("enabled (bool) is required")
            if always["enabled"] and not always.get("destination"):
                raise E.bad_request("destination is required when enabled")
            cur = ent["_features"]["callForwarding"]["callForwarding"]["always"]
            for k in ("enabled", "destination", "ringReminderEnabled", "destinationVoicemailEnabled"):
                if k in always:
                    cur[k] = always[k]
