"""``user.create`` [usuarios_alta_people]: create a user with the People API.

Read before write: a person with the row's email already existing ends the row ``skipped``
(with its person id); once the run lists the org's people (``ledger.actions.snapshot``), an email the
list lacks is created without a lookup, and a 409 "already exists" is looked up and ends ``skipped``. This is also what makes the action crash-safe: a row reclaimed after a
crash, or retried after an ambiguous write (timeout or 5xx after the POST was sent), is looked
up by email first and never created twice. Webex may answer 400 to a create with calling data
although it created the person, and 409 when the email exists: both are re-checked by email.

Licences: ``POST /people`` may create the person with only some of the row's ``licenses`` (like the
206 of ``PATCH /licenses/users``): the person Webex answers (or finds) is compared with the request,
and a licence it lacks fails the row naming it (ledger.actions.licence_check) — the person exists,
so the operator assigns the rest with user.licenses. An existing user without the row's licences
fails the same way instead of ending ``skipped``.
"""

from __future__ import annotations

from typing import Any

from wxc_sdk.people import Person, PhoneNumber, PhoneNumberType

from ledger.actions import licence_check
from ledger.actions.base import BaseExecutor
from ledger.errors import RowFailure
from ledger.work.ports import ActionResult, RowInput

RECHECK_STATUSES = frozenset({400, 409})


class UserCreate(BaseExecutor):
    def execute(self, row: RowInput) -> ActionResult:
        p = row.payload
        email = str(p["email"])
        snap = self.people_snapshot(row)
        if snap is None:  # too early in the run for the snapshot, or a row to re-check: look it up
            self.count_person_read(row)
            existing = self.find_person(email)
        else:  # not listed: created since the snapshot? then the create answers 409, looked up below
            existing = snap.by_email(email)
        if existing is not None:
            self._check_licences(row, existing, "the user already exists")
            return self.skipped("user_already_exists", person_id=existing.person_id)
        settings = self._desired(row)
        calling = bool(settings.location_id or settings.extension or settings.licenses or settings.phone_numbers)
        changes = settings.create_update()
        if self.dry_run:
            return self.done(changes)
        try:
            with self.webex(f"create user {email}", write=True):
                created = self.api.people.create(settings, calling_data=calling)
        except RowFailure as exc:
            if exc.http_status not in RECHECK_STATUSES:
                raise
            # Webex may have created the person although it answered 400 (calling data) or 409.
            again = self.find_person(email)
            if again is None:
                raise
            note = "created although Webex answered HTTP 400" if exc.http_status == 400 else None
            if exc.http_status == 409:
                self._check_licences(row, again, "the user already exists")
                return self.skipped("user_already_exists", person_id=again.person_id)
            self._check_licences(row, again, f"the user was created (person id {again.person_id})")
            return self.done(changes, person_id=again.person_id, note=note, tracking_id=exc.tracking_id)
        self._check_licences(row, created, f"the user was created (person id {created.person_id})")
        return self.done(changes, person_id=created.person_id)

    def _check_licences(self, row: RowInput, person: Person, after: str) -> None:
        """RowFailure naming the row's licences that ``person`` (as Webex answered it) lacks."""
        wanted = [str(x) for x in row.payload.get("licenses") or []]
        missing, _ = licence_check.shortfall(wanted, [], person.licenses)
        if not missing:
            return
        org = self.org_id(row)
        known = self.cache.get_or_load(
            ("licenses", org), lambda: list(self.call("list licences", lambda: self.api.licenses.list(org_id=org)))
        )
        failure = licence_check.not_applied(str(row.payload["email"]), missing, [], known, after=after)
        failure.detail = {**failure.detail, "person_id": person.person_id, "fix": "assign them with user.licenses"}
        raise failure

    def _desired(self, row: RowInput) -> Person:
        p = row.payload
        first, last = str(p["first_name"]), str(p["last_name"])
        fields: dict[str, Any] = {
            "emails": [str(p["email"])],
            "first_name": first,
            "last_name": last,
            "display_name": p.get("display_name") or f"{first} {last}",
        }
        if p.get("location_id") or p.get("location_name"):
            fields["location_id"] = self.location_id(row)
        if p.get("extension"):
            fields["extension"] = str(p["extension"])
        if p.get("licenses"):
            fields["licenses"] = list(p["licenses"])
        if p.get("phone_number"):
            fields["phone_numbers"] = [PhoneNumber(number_type=PhoneNumberType.work, value=str(p["phone_number"]))]
        return Person(**fields)
