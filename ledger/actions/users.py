"""The user actions (v21 ``usuarios_*``): licences, secondary number, forwarding, permissions (the move:
``ledger.actions.moves``).

Every executor follows the same shape: resolve the user (``person_id`` or ``email`` → id, cached
per run), read the current state, compare it with what the row asks, and write only the
difference. When the target already holds the row ends ``skipped`` and nothing is written; this
is what makes a reclaimed row (crash) or a retried ambiguous write safe: ``execute`` reads again
before any write. In a dry run the read and comparison happen, the write never does.

The exception is what no list endpoint carries (forwarding, outgoing permissions): there a read costs
the very request it might save, so a row's first attempt sends its idempotent PUT alone and ends
``succeeded`` even when the value already held; re-checked rows read first as above
(``BaseExecutor.write_first``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from wxc_sdk.common import PatternAction
from wxc_sdk.licenses import License, LicenseProperties, LicenseRequest, LicenseRequestOperation
from wxc_sdk.people import Person
from wxc_sdk.person_settings.numbers import UpdatePersonNumbers, UpdatePersonPhoneNumber

from ledger.actions import licence_check
from ledger.actions.base import BaseExecutor
from ledger.actions.webex_errors import name_row_error
from ledger.actions.webex_ids import decode_id, id_uuid, same_id, strip_padding
from ledger.actions.forwarding import always_target, forwarding_changes
from ledger.actions.permissions import target_from_payload
from ledger.actions.snapshot import number_digits
from ledger.errors import ActionError, RowFailure
from ledger.work.ports import ActionResult, RowInput

# Webex error codes (errors[0].errorCode) that concern the row, with the explanation we show.
KNOWN_ROW_ERRORS: dict[int, str] = {
    25378: "the target location is the user's current location",
    1026010: "the user is not a valid Webex Calling user",
}
T = TypeVar("T")
CALLING_LICENSE_SKUS = ("BCSTD", "BCBASIC", "BCBAS", "BCCA")
# v21 people_to_location.csv: a row is acted on when `selected` is one of these (case-insensitive)
SELECTED_WORDS = frozenset({"1", "true", "yes", "y", "si", "sí", "x"})


def classify_row_error(exc: ActionError) -> ActionError:
    """Name known Webex row errors of the user actions (readable reason, explained codes)."""
    return name_row_error(exc, codes=KNOWN_ROW_ERRORS)


def same_number(a: str | None, b: str | None) -> bool:
    return bool(number_digits(a)) and number_digits(a) == number_digits(b)


def same_location(a: str | None, b: str | None) -> bool:
    """Location ids compared padding-insensitively, and base64 vs UUID form."""
    return same_id(a, b) or (bool(a) and bool(b) and id_uuid(a or "").lower() == id_uuid(b or "").lower())


class UserExecutor(BaseExecutor):
    """Shared helpers of the user actions."""

    row_codes = KNOWN_ROW_ERRORS

    def who(self, row: RowInput) -> str:
        return str(row.payload.get("email") or row.payload.get("person_id") or "the user")

    def current_person(self, row: RowInput, person_id: str) -> Person:
        """The person as the run's snapshot lists it, or else read now (:meth:`person`)."""
        snap = self.people_snapshot(row)
        listed = snap.person(person_id) if snap is not None else None
        return listed if listed is not None else self.person(row, person_id)

    def person(self, row: RowInput, person_id: str) -> Person:
        """GET /people/{id}?callingData=true (no org_id: people.details has none, the v21 TypeError)."""
        self.count_person_read(row)
        try:
            return self.call(
                f"read user {self.who(row)}", lambda: self.api.people.details(person_id, calling_data=True)
            )
        except RowFailure as exc:
            if exc.http_status == 404:
                raise RowFailure(
                    f"unknown user {self.who(row)}: Webex has no person with id {person_id}",
                    code="unknown_user",
                    http_status=404,
                    tracking_id=exc.tracking_id,
                ) from None
            raise

    def read_calling_setting(self, row: RowInput, what: str, read: Callable[[], T]) -> T:
        """Read a calling setting of the user; a 404 means an unknown id or not a Webex Calling user."""
        try:
            return self.call(f"read {what} of {self.who(row)}", read)
        except RowFailure as exc:
            if exc.http_status != 404:
                raise
            raise RowFailure(
                f"user {self.who(row)} has no Webex Calling settings (unknown person id, or not a calling user)",
                code="not_calling_user",
                http_status=404,
                tracking_id=exc.tracking_id,
            ) from None


# --- user.licenses ---------------------------------------------------------------------------------


class UserLicenses(UserExecutor):
    """Add and/or remove licences; adds already present and removes already absent are dropped."""

    def execute(self, row: RowInput) -> ActionResult:
        p = row.payload
        org_id = self.org_id(row)
        adds = [self.license_id(v, org_id) for v in _as_list(p.get("add_license_ids"))]
        removes = [self.license_id(v, org_id) for v in _as_list(p.get("remove_license_ids"))]
        clash = [a for a in adds if any(same_id(a, r) for r in removes)]
        if clash:
            raise RowFailure(f"licence {clash[0]} is both added and removed", code="add_remove_overlap")
        person_id = self.person_id(row)
        person = self.current_person(row, person_id)
        held = person.licenses or []
        to_add = [a for a in adds if not any(same_id(a, h) for h in held)]
        to_remove = [r for r in removes if any(same_id(r, h) for h in held)]
        note = self._calling_note(row, person, [a for a in adds if a not in to_add], org_id)
        if not to_add and not to_remove:
            return self.skipped("licenses_already_as_requested", person_id=person_id, **note)
        requests = [self._add_request(row, lic, org_id) for lic in to_add]
        requests += [LicenseRequest(id=lic, operation=LicenseRequestOperation.remove) for lic in to_remove]
        changes = {"add": to_add, "remove": to_remove}
        result = {
            "person_id": person_id,
            "already_present": [a for a in adds if a not in to_add],
            "already_absent": [r for r in removes if r not in to_remove],
            **note,
        }
        if self.dry_run:
            return self.done(changes, **result)
        self.drop_person(row, person_id)
        answer = self.call(
            f"assign licences of {self.who(row)}",
            lambda: self.api.licenses.assign_licenses_to_users(person_id=person_id, licenses=requests, org_id=org_id),
            write=True,
        )
        missing, kept = licence_check.shortfall(to_add, to_remove, answer.licenses)
        if missing or kept:  # a 206 Partial Content (or a 200 lacking some): never succeeded
            raise licence_check.not_applied(self.who(row), missing, kept, self.licenses(org_id), after="Webex accepted the licence request")
        return self.done(changes, **result)

    def _calling_note(self, row: RowInput, person: Person, dropped: list[str], org_id: str | None) -> dict[str, str]:
        """A held Calling licence is not re-added; say so when the row's location/extension differ."""
        if not any(self.is_calling_license(lic, org_id) for lic in dropped):
            return {}
        p = row.payload
        ext = str(p.get("extension") or "")
        loc = str(p.get("location_id") or "")
        differs = (ext and ext != (person.extension or "")) or (loc and not same_location(loc, person.location_id))
        if not differs:
            return {}
        return {
            "note": f"the Calling licence is already held (location {person.location_id}, extension "
            f"{person.extension}); user.licenses does not change them (user.move_location moves users)"
        }

    def _add_request(self, row: RowInput, license_id: str, org_id: str | None) -> LicenseRequest:
        if not self.is_calling_license(license_id, org_id):
            return LicenseRequest(id=license_id, operation=LicenseRequestOperation.add)
        p = row.payload
        extension = str(p.get("extension") or "") or None
        phone = str(p.get("phone_number") or "") or None
        has_location = bool(p.get("location_id") or p.get("location_name"))
        if not phone and not (extension and has_location):
            raise RowFailure(
                "a Webex Calling licence add needs phone_number, or extension with location_id/location_name "
                "(Webex rule); fill them in and import again",
                code="calling_license_needs_location",
            )
        location = self.location_id(row) if has_location else None
        return LicenseRequest(
            id=license_id,
            operation=LicenseRequestOperation.add,
            properties=LicenseProperties(location_id=location, extension=extension, phone_number=phone),
        )

    # licence resolution: ids as given, names through the org's licence list (read once per run)
    def licenses(self, org_id: str | None) -> list[License]:
        def load() -> list[License]:
            return list(self.call("list licences", lambda: self.api.licenses.list(org_id=org_id)))

        return self.cache.get_or_load(("licenses", org_id), load)

    def license_id(self, value: str, org_id: str | None) -> str:
        value = str(value).strip()
        if "/LICENSE/" in decode_id(value):
            return strip_padding(value)
        matches = [lic for lic in self.licenses(org_id) if (lic.name or "").strip().lower() == value.lower()]
        if not matches:
            raise RowFailure(
                f"unknown licence {value!r}: neither a licence id nor a licence name in the org", code="unknown_license"
            )
        if len(matches) > 1:
            raise RowFailure(
                f"licence name {value!r} matches {len(matches)} licences (several subscriptions); give the licence id",
                code="ambiguous_license",
            )
        return strip_padding(matches[0].license_id)

    def is_calling_license(self, license_id: str, org_id: str | None) -> bool:
        for lic in self.licenses(org_id):
            if same_id(lic.license_id, license_id):
                return lic.webex_calling or _sku(license_id) in CALLING_LICENSE_SKUS
        return _sku(license_id) in CALLING_LICENSE_SKUS


def _sku(license_id: str) -> str:
    """'BCSTD' from base64('ciscospark://us/LICENSE/<org>:BCSTD_<uuid>')."""
    tail = decode_id(license_id).rsplit("/", 1)[-1]
    return tail.split(":")[-1].split("_")[0].upper() if ":" in tail else ""


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


# --- user.secondary_number -------------------------------------------------------------------------


class UserSecondaryNumber(UserExecutor):
    """Add ``legacy_phone_number`` as a non-primary number (PUT telephony/config/people/{id}/numbers)."""

    def execute(self, row: RowInput) -> ActionResult:
        number = str(row.payload.get("legacy_phone_number") or "")
        if not number:
            raise RowFailure("legacy_phone_number is empty", code="missing_number")
        person_id = self.person_id(row)
        org_id = self.org_id(row)
        inventory = self.numbers_snapshot(row)  # the org's numbers with their owners, once it is worth it
        held = inventory.owned_by(number, person_id) if inventory is not None else None
        if held is None:
            self.count_person_read(row, "numbers")
            current = self.read_calling_setting(
                row, "numbers", lambda: self.api.person_settings.numbers.read(person_id, org_id=org_id)
            )
            held = any(self._holds(n, number) for n in current.phone_numbers)
        if held:
            return self.skipped("number_already_present", person_id=person_id, number=number)
        update = UpdatePersonNumbers(
            phone_numbers=[UpdatePersonPhoneNumber(primary=False, action=PatternAction.add, external=number)]
        )
        changes = {"add_number": number, "primary": False}
        if self.dry_run:
            return self.done(changes, person_id=person_id)
        self.drop_number(row, number)
        self.call(
            f"add number {number} to {self.who(row)}",
            lambda: self.api.person_settings.numbers.update(person_id, update, org_id=org_id),
            write=True,
        )
        return self.done(changes, person_id=person_id)

    @staticmethod
    def _holds(entry: Any, number: str) -> bool:
        """The number may be reported as directNumber or (like workspaces) external."""
        extra = getattr(entry, "model_extra", None) or {}
        return any(same_number(v, number) for v in (entry.direct_number, extra.get("external")))


# --- user.forwarding -------------------------------------------------------------------------------


class UserForwarding(UserExecutor):
    """Unconditional forwarding: ``always`` written first on a row's first attempt, else read and the
    full object sent (see ledger.actions.forwarding and BaseExecutor.write_first)."""

    def execute(self, row: RowInput) -> ActionResult:
        wanted = {"always": always_target(row.payload)}  # a row without a destination fails before any call
        person_id = self.person_id(row)
        org_id = self.org_id(row)
        api = self.api.person_settings.forwarding
        path = f"people/{person_id}/features/callForwarding"

        def careful() -> ActionResult:
            current = self.read_calling_setting(row, "forwarding", lambda: api.read(person_id, org_id=org_id))
            return self.apply_forwarding(
                current,
                forwarding_changes(current, row.payload),
                lambda desired: api.configure(person_id, desired, org_id=org_id),
                self.who(row),
                person_id=person_id,
            )

        return self.write_first(
            row,
            f"set forwarding of {self.who(row)}",
            wanted,
            lambda: self.put_json(path, {"callForwarding": wanted}, org_id),
            careful,
            person_id=person_id,
        )


# --- user.outgoing_permissions ---------------------------------------------------------------------


class UserOutgoingPermissions(UserExecutor):
    """Custom outgoing-call permissions from the row's columns and/or the import's profile: written first
    when the row sets every value it writes (BaseExecutor.write_first), else read and only what differs
    sent."""

    def execute(self, row: RowInput) -> ActionResult:
        target = target_from_payload(row.payload)  # validates call types/profile before any call
        person_id = self.person_id(row)
        org_id = self.org_id(row)
        # the spec's path and JSON (wxc_sdk 1.41 uses a flat path and sends LOCAL/TOLL): see permissions.py
        return self.set_permissions(
            row,
            target,
            f"people/{person_id}/features/outgoingPermission",
            org_id,
            self.who(row),
            lambda get: self.read_calling_setting(row, "outgoing permissions", get),
            person_id=person_id,
        )


__all__ = [
    "UserLicenses",
    "UserSecondaryNumber",
    "UserForwarding",
    "UserOutgoingPermissions",
    "classify_row_error",
    "same_location",
    "same_number",
]
