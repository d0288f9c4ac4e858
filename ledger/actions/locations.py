"""The location actions (v21 ``ubicacion_*``): PSTN, numbers, main number, internal dialing, permissions.

Every executor resolves the row's location (``location_id``, or the location ``name`` looked up
once per run through the ResolveCache), reads the current Webex state, compares it with the row's
intent and writes only when they differ (``skipped`` otherwise). A dry run stops after the
comparison and reports what it would change. Where a list carries the state (the org's calling
locations with their main number, the number inventory) it is read once per run, not per site
(ledger.actions.location_reads).

Sharp edges handled here (see shared/reference/v21_actions.md §3.1–3.5):

- ``location.pstn`` (ledger.actions.location_pstn): ``GET telephony/config/locations/{id}`` answers
  400/404 for a location that is not calling-enabled; the location is then enabled first.
- ``location.numbers``: wxc_sdk's add posts with ``ignore_status=400``, so a rejected add does not
  raise; the POST is sent here so that its status is seen. A 2xx needs no second read; after a 400
  the per-number errors are read AND the inventory is read again: a number that is still missing
  fails the row with its error.
- ``location.main_number``: the number must already be in the location's inventory.
- ``location.pstn`` / ``location.internal_dialing``: the route is ``premise_route_id`` (its decoded
  type must match ``premise_route_type``), or the route NAME in ``route_identity`` resolved once per
  run.
- ``location.outgoing_permissions``: the path takes the location UUID (v21 #125); the sandbox and
  Webex accept both forms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from wxc_sdk.common import NumberState, RouteIdentity
from wxc_sdk.telephony.location import CallingLineId, TelephonyLocation
from wxc_sdk.telephony.location.internal_dialing import InternalDialing
from wxc_sdk.rest import RestError
from wxc_sdk.telephony.location.numbers import NumberAddError, NumberAddResponse

from ledger.actions.base import BaseExecutor
from ledger.actions.webex_ids import decode_id, id_uuid, same_id
from ledger.actions.permissions import target_from_payload
from ledger.actions.location_reads import LOCATION_SNAPSHOT_AFTER, SiteReads
from ledger.errors import RowFailure
from ledger.work.ports import ActionResult, RowInput

T = TypeVar("T")
NOT_CALLING_STATUSES = frozenset({400, 404})
MOBILE_PER_REQUEST = 20  # Webex adds at most 20 mobile numbers per request
ROUTE_KINDS = {"ROUTE_GROUP": ("ROUTE_GROUP", "ROUTEGROUP"), "TRUNK": ("TRUNK",)}


def enum_value(value: Any) -> str | None:
    """The wire value of an SDK enum (or plain string); None stays None."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def check_route(route_type: str, route_id: str) -> None:
    """The route id must decode to the declared kind (v21 validated this too)."""
    decoded = decode_id(route_id)
    kind = decoded.split("/")[-2].upper() if decoded.count("/") >= 2 else ""
    if kind and kind not in ROUTE_KINDS.get(route_type, ()):
        raise RowFailure(
            f"premise_route_id is a {kind} id but premise_route_type is {route_type}; fix one of them",
            code="route_type_mismatch",
        )


def not_calling(cause: RowFailure | None = None) -> RowFailure:
    return RowFailure(
        "the location is not enabled for Webex Calling; run location.pstn for it first",
        code="location_not_calling",
        http_status=cause.http_status if cause else None,
        tracking_id=cause.tracking_id if cause else None,
    )


def main_number(payload: Mapping[str, Any]) -> str:
    """The row's main number: ``calling_line_id``, else ``phone_number`` ("" when neither)."""
    return str(payload.get("calling_line_id") or payload.get("phone_number") or "")


def main_and_numbers(payload: Mapping[str, Any]) -> list[str]:
    """``phone_numbers`` plus the main number when the list lacks it (each number once, in order)."""
    wanted = [str(n) for n in (payload.get("phone_numbers") or [])]
    main = main_number(payload)
    return list(dict.fromkeys([*wanted, main] if main else wanted))


class LocationExecutor(SiteReads, BaseExecutor):
    """Shared steps of the location actions."""

    snapshot_after = LOCATION_SNAPSHOT_AFTER  # a row is a site: see ledger.actions.location_reads

    def loc(self, row: RowInput) -> str:
        return self.location_id(row, "location_id", "name")

    def telephony_details(self, location_id: str, org_id: str | None) -> TelephonyLocation | None:
        """The location's Webex Calling details, or None when it is not calling-enabled (400/404)."""
        try:
            with self.webex("read the location's calling details"):
                return self.api.telephony.location.details(location_id, org_id=org_id)
        except RowFailure as exc:
            if exc.http_status in NOT_CALLING_STATUSES:
                return None
            raise

    def read_calling_setting(self, what: str, location_id: str, org_id: str | None, read: Callable[[], T]) -> T:
        """Read a calling setting of the location; a 400/404 on a non-calling location says so."""
        try:
            with self.webex(what):
                return read()
        except RowFailure as exc:
            if exc.http_status in NOT_CALLING_STATUSES and self.telephony_details(location_id, org_id) is None:
                raise not_calling(exc) from None
            raise

    def premise_route(self, row: RowInput, needed: bool, why: str) -> tuple[str, str]:
        """(route type, route id) from ``premise_route_id``, else from the route NAME in ``route_identity``.

        The name is resolved once per run (``GET telephony/config/routeChoices``). The route id is ""
        when the row gives no route and ``needed`` is false; a RowFailure naming ``why`` when it is needed.
        """
        p = row.payload
        route_type = str(p.get("premise_route_type") or "ROUTE_GROUP")
        route_id = str(p.get("premise_route_id") or "")
        if route_id:
            check_route(route_type, route_id)
            return route_type, route_id
        name = str(p.get("route_identity") or "").strip()
        if not name:
            if needed:
                raise RowFailure(f"premise_route_id (or route_identity) is required {why}", code="missing_route")
            return route_type, ""
        org = self.org_id(row)
        key = ("route", org, route_type, name)
        found = self.cached_lookup(key, lambda: self._lookup_route(name, route_type, org))
        if not found:
            kind = route_type.lower().replace("_", " ")
            raise RowFailure(f"unknown {kind} {name!r} (route_identity)", code="unknown_route")
        return route_type, found

    def _lookup_route(self, name: str, route_type: str, org: str | None) -> str | None:
        by = {"route_group_name": name} if route_type == "ROUTE_GROUP" else {"trunk_name": name}
        with self.webex(f"look up route {name}"):
            routes = list(self.api.telephony.route_choices(**by, org_id=org))
        match = [r for r in routes if (r.name or "").strip() == name and enum_value(r.route_type) == route_type]
        return match[0].route_id if match else None

    def inventory(self, location_id: str, org_id: str | None, number: str | None = None) -> set[str]:
        """The PSTN numbers in the location's inventory (optionally only ``number``)."""
        with self.webex("read the location's numbers"):
            items = list(
                self.api.telephony.phone_numbers(location_id=location_id, phone_number=number, org_id=org_id)
            )
        return {
            n.phone_number
            for n in items
            if n.phone_number and (n.location is None or same_id(n.location.id, location_id))
        }


# --- location.numbers ------------------------------------------------------------------------------


class LocationNumbers(LocationExecutor):
    """Add the row's numbers (state INACTIVE); only those not yet in the location are sent.

    The row's main number (``calling_line_id``, else ``phone_number``) is added too: the v21 files
    keep it out of ``phone_numbers``, and location.main_number needs it in the inventory (§3.2).
    """

    def execute(self, row: RowInput) -> ActionResult:
        p = row.payload
        loc_id, org = self.loc(row), self.org_id(row)
        wanted = main_and_numbers(p)
        if not wanted:
            raise RowFailure("phone_numbers and calling_line_id are empty", code="missing_numbers")
        number_type = str(p.get("number_type") or "DID")
        present = self.numbers_in_location(row, loc_id, wanted)
        missing = [n for n in wanted if n not in present]
        if not missing:
            return self.skipped("numbers_already_present", location_id=loc_id, numbers=wanted)
        changes = {"add": missing, "numberType": number_type, "state": "INACTIVE"}
        if self.dry_run:
            return self.done(changes, location_id=loc_id, already_present=[n for n in wanted if n in present])
        size = MOBILE_PER_REQUEST if number_type == "MOBILE" else len(missing)
        errors: list[NumberAddError] = []
        rejected = False
        for n in missing:
            self.drop_number(row, n)
        for start in range(0, len(missing), size):
            answer = self._add(loc_id, missing[start : start + size], number_type, org)
            rejected = rejected or answer is not None
            errors.extend(answer or [])
        if not rejected:  # every chunk answered 2xx: added (numbers_auto.py: present ones are "simply ignored")
            return self.done(changes, location_id=loc_id)
        # a 400 (with or without per-number errors): trust the inventory, not the answer
        after = self.inventory(loc_id, org)
        failed = [n for n in missing if n not in after]
        if failed:
            if not errors and self.telephony_details(loc_id, org) is None:
                raise not_calling()  # a swallowed 400 without per-number errors: say why when we can
            raise self._failure(failed, errors, [n for n in missing if n in after])
        return self.done(changes, location_id=loc_id)

    def _add(self, loc_id: str, chunk: list[str], number_type: str, org: str | None) -> list[NumberAddError] | None:
        """POST the chunk (numbers_auto.py add_phone_numbers_to_a_location); None when Webex answered 2xx,
        else the per-number errors of its 400 (wxc_sdk's own ``number.add`` swallows the 400 and cannot
        tell a 2xx from a 400 whose body is a plain error object, so the status is read here)."""
        session = self.api.session
        body = {"phoneNumbers": chunk, "numberType": number_type, "state": NumberState.inactive.value}
        with self.webex("add numbers to the location", write=True):
            try:
                session.rest_post(session.ep(f"telephony/config/locations/{loc_id}/numbers"), json=body,
                                  params={"orgId": org} if org else None)
            except RestError as exc:
                if exc.response is None or exc.response.status_code != 400:
                    raise
                return _add_errors(exc.response)
        return None

    @staticmethod
    def _failure(failed: list[str], answer_errors: list[NumberAddError], added: list[str]) -> RowFailure:
        errors = {e.number: e for e in answer_errors if e.number}
        by_reason: dict[str, list[str]] = {}  # the numbers that failed for one reason, told once
        detail = {}
        for n in failed:
            e = errors.get(n)
            text = str(e.error_message or e.error_title or "").replace(n, "<number>") if e else ""
            why = f"{e.error_code}: {text}" if e else "no error returned by Webex"
            by_reason.setdefault(why, []).append(n)
            detail[n] = {"code": e.error_code, "message": e.error_message, "title": e.error_title} if e else None
        parts = [f"{', '.join(numbers)} ({why})" for why, numbers in by_reason.items()]
        codes = {e.error_code for e in errors.values() if e.error_code}
        return RowFailure(
            f"{len(failed)} of {len(failed) + len(added)} numbers were not added: " + "; ".join(parts),
            code=codes.pop() if len(codes) == 1 else "numbers_not_added",
            http_status=400 if errors else None,
            detail={"failed": detail, "added": added},
        )


def _add_errors(response: Any) -> list[NumberAddError]:
    """The per-number errors of a 400 to an add (``[{"errors": [...]}]``); [] for any other body."""
    try:
        answer = response.json()
    except ValueError:
        return []
    if isinstance(answer, list) and answer and isinstance(answer[0], dict):
        return NumberAddResponse.model_validate(answer[0]).errors or []
    return []


# --- location.main_number --------------------------------------------------------------------------


class LocationMainNumber(LocationExecutor):
    """Set the location's calling line id (main number); the number must be in the location."""

    def execute(self, row: RowInput) -> ActionResult:
        p = row.payload
        number = main_number(p)
        if not number:
            raise RowFailure("no calling_line_id or phone_number in the row", code="missing_number")
        name = str(p.get("calling_line_name") or "").strip() or None
        loc_id, org = self.loc(row), self.org_id(row)
        listed = self.listed_calling(row, loc_id)  # batched reads: the org's calling locations, listed once
        if listed is not None:
            now = CallingLineId.model_validate(listed.get("callingLineId") or {})
        else:
            details = self.calling_details(row, loc_id)
            if details is None:
                raise not_calling()
            now = details.calling_line_id or CallingLineId()
        if now.phone_number == number and (name is None or now.name == name):
            return self.skipped("main_number_already_set", location_id=loc_id, phone_number=number)
        # a list of the org's numbers may predate the add (location.numbers earlier in this run, or another
        # admin): a number it lacks is read again before the row fails
        if number not in self.numbers_in_location(row, loc_id, [number], recheck_missing=True):
            raise RowFailure(
                f"{number} is not in the location's number inventory; add it first (location.numbers)",
                code="number_not_in_location",
            )
        wanted = {"phoneNumber": number, **({"name": name} if name else {})}
        changes = {"callingLineId": wanted, "previous": now.phone_number}
        if self.dry_run:
            return self.done(changes, location_id=loc_id)
        # the name is only sent with the number (Webex needs both together); unset fields are not sent
        line = CallingLineId(phone_number=number, **({"name": name} if name else {}))
        settings = TelephonyLocation(calling_line_id=line)
        self.drop_calling(row, loc_id)
        with self.webex("set the location's main number", write=True):
            job = self.api.telephony.location.update(loc_id, settings, org_id=org)
        return self.done(changes, location_id=loc_id, batch_job_id=job)


# --- location.internal_dialing ---------------------------------------------------------------------


class LocationInternalDialing(LocationExecutor):
    """Route unknown extensions to the premises route group/trunk (or turn the policy off)."""

    def execute(self, row: RowInput) -> ActionResult:
        p = row.payload
        enable = bool(p.get("enable_unknown_extension_route_policy"))
        route_type, route_id = self.premise_route(row, enable, "when enable_unknown_extension_route_policy is TRUE")
        loc_id, org = self.loc(row), self.org_id(row)
        current = self.read_calling_setting(
            "read the internal dialing settings", loc_id, org,
            lambda: self.api.telephony.location.internal_dialing.read(loc_id, org_id=org),
        )
        cur_ident = current.unknown_extension_route_identity
        same_route = cur_ident is not None and (
            enum_value(cur_ident.route_type) == route_type and same_id(cur_ident.route_id, route_id)
        )
        if current.enable_unknown_extension_route_policy == enable and (not route_id or same_route):
            return self.skipped("internal_dialing_already_set", location_id=loc_id)
        # the row's route, or (turning the policy off without one) the route already configured
        ident = RouteIdentity(id=route_id, type=route_type) if route_id else cur_ident
        identity = {"id": ident.route_id, "type": enum_value(ident.route_type)} if ident else None
        changes = {"enableUnknownExtensionRoutePolicy": enable, "unknownExtensionRouteIdentity": identity}
        if self.dry_run:
            return self.done(changes, location_id=loc_id)
        update = InternalDialing(
            enable_unknown_extension_route_policy=enable,
            unknown_extension_route_identity=RouteIdentity(id=ident.route_id, type=ident.route_type) if ident else None,
        )
        with self.webex("set the internal dialing settings", write=True):
            self.api.telephony.location.internal_dialing.update(loc_id, update, org_id=org)
        return self.done(changes, location_id=loc_id)


# --- location.outgoing_permissions -----------------------------------------------------------------


class LocationOutgoingPermissions(LocationExecutor):
    """Default outgoing-call permissions of the location (row columns and/or the import's profile).

    The path carries the location UUID, as v21 settled on after base64 ids failed in production
    (v21 #125); when Webex answers 400/404 to that form the base64 id is tried, and the form that
    worked is remembered for the rest of the run.
    """

    FORMS = ("uuid", "base64")

    def execute(self, row: RowInput) -> ActionResult:
        target = target_from_payload(row.payload)  # validates before any call
        loc_id, org = self.loc(row), self.org_id(row)
        path_id, current = self._read(loc_id, org)
        return self.apply_permissions(
            current,
            target,
            lambda body: self.put_json(self._path(path_id), body, org),
            "set the location's outgoing permissions",
            flags=False,  # a location has callingPermissions only
            location_id=loc_id,
        )

    @staticmethod
    def _path(path_id: str) -> str:
        return f"telephony/config/locations/{path_id}/outgoingPermission"

    def _read(self, loc_id: str, org: str | None) -> tuple[str, dict[str, Any]]:
        preferred = self.cache.get_or_load(("location_permissions_path_form",), lambda: ["uuid"])
        forms = [preferred[0], *(f for f in self.FORMS if f != preferred[0])]
        first: RowFailure | None = None
        for form in forms:
            path_id = id_uuid(loc_id) if form == "uuid" else loc_id
            try:
                with self.webex("read the location's outgoing permissions"):
                    current = self.get_json(self._path(path_id), org)
            except RowFailure as exc:
                if exc.http_status not in NOT_CALLING_STATUSES:
                    raise
                first = first or exc
                continue
            preferred[0] = form
            return path_id, current
        assert first is not None
        if self.telephony_details(loc_id, org) is None:
            raise not_calling(first)
        raise first
