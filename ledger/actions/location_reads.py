"""Batched reads of the location actions (issue 14; the rules of ``ledger.actions.snapshot``).

- The org's Webex Calling locations (``GET telephony/config/locations``: id, name, callingLineId — wxc_sdk_open_api/
  location-call-settings_auto.py ``ListLocationObject``) are listed at a run's first need: one entry per site, a
  page per 100 sites, cheaper than reading each site's details (``GET telephony/config/locations/{id}``). A site
  the list lacks (not calling-enabled when listed) or that this run wrote since (enabled, main number set) is
  read one by one; a row to re-check (``RowInput.recovered``) never trusts the list.
- The org's number inventory (``GET telephony/config/numbers``, 2,000 a page) says which numbers are in which
  location; it is listed after ``LOCATION_SNAPSHOT_AFTER`` single reads of a location's numbers. Numbers this run
  adds are read again one by one. A number added by someone else since the list is sent again: Webex ignores it
  (numbers_auto.py add_phone_numbers_to_a_location: "already exist in the location will simply be ignored").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from wxc_sdk.telephony.location import TelephonyLocation

from ledger.actions.snapshot import CallingLocationsSnapshot, PeopleReads
from ledger.work.ports import RowInput

# GET telephony/config/locations: its spec (webex-cloud-calling.json) is not in the reference whole and
# wxc_sdk_open_api's list_locations_webex_calling_details documents no max: the sandbox's 100-item page
CALLING_LOCATIONS_PAGE = 100
# a row is a site, and an org has tens to a few hundred: its number inventory (a page per 2,000 numbers) is
# listed after three single reads instead of ten
LOCATION_SNAPSHOT_AFTER = 3


class SiteReads(PeopleReads):
    """Mixin for the location executors (needs ``telephony_details`` and ``inventory``)."""

    telephony_details: Callable[[str, str | None], TelephonyLocation | None]
    inventory: Callable[..., set[str]]

    def listed_calling(self, row: RowInput, location_id: str) -> dict[str, Any] | None:
        """The location as the run's list of the org's Webex Calling locations has it (``GET
        telephony/config/locations``: id, name, callingLineId), listed at the first need: it holds one
        entry per site, so it costs a page per 100 sites, less than reading the sites one by one; None for
        a row to re-check, and for a location the list lacks or this run wrote since (read it then,
        :meth:`calling_details`)."""
        snap = self._calling_snapshot(row)
        return snap.location(location_id) if snap is not None else None

    def calling_enabled(self, row: RowInput, location_id: str) -> bool:
        """Whether the location is enabled for Webex Calling: from the run's list of the org's calling
        locations (a site it lacks was not enabled when listed: enabling it then answers 409 if someone did
        since, which ``location.pstn`` accepts), else — a row to re-check, a site this run wrote — read now."""
        snap = self._calling_snapshot(row)
        listed = snap.is_calling(location_id) if snap is not None else None
        return listed if listed is not None else self.calling_details(row, location_id) is not None

    def calling_details(self, row: RowInput, location_id: str) -> TelephonyLocation | None:
        """:meth:`telephony_details`, read now (counted towards listing the org's calling locations)."""
        self.count_person_read(row, "calling_locations")
        return self.telephony_details(location_id, self.org_id(row))

    def _calling_snapshot(self, row: RowInput) -> CallingLocationsSnapshot | None:
        """The run's list of the org's calling locations, listed at the first need; None for a row to
        re-check (``recovered``: it never trusts a list)."""
        if row.recovered:
            return None
        return self._snapshot(row, "calling_locations", lambda: self._list_calling_locations(row), force=True)

    def _list_calling_locations(self, row: RowInput) -> CallingLocationsSnapshot:
        org = self.org_id(row)
        url = self.api.session.ep("telephony/config/locations")
        params: dict[str, Any] = {"orgId": org} if org else {}
        items = self.call("list the org's calling locations", lambda: list(
            self.api.session.follow_pagination(url=url, params=params, item_key="locations")))
        return CallingLocationsSnapshot(items, time.monotonic(), CALLING_LOCATIONS_PAGE)

    def drop_calling(self, row: RowInput, location_id: str) -> None:
        """Before writing to a location's calling details: later rows read it again."""
        snap = self._org_reads(row, "calling_locations").snapshot
        if snap is not None:
            snap.drop(location_id)

    def numbers_in_location(
        self, row: RowInput, location_id: str, numbers: list[str], *, recheck_missing: bool = False
    ) -> set[str]:
        """Which of ``numbers`` are in the location's inventory: from the run's list of the org's numbers
        (``GET telephony/config/numbers``, 2,000 a page) once it is worth it, else read now.
        ``recheck_missing``: a number the list shows outside the location is read again too (the list may
        predate an add of this run, or another admin's) — for a row that would fail on it, not for
        location.numbers, which adds what is missing (Webex ignores a number already there)."""
        listed = self.numbers_snapshot(row)
        seen = {n: listed.in_location(n, location_id) for n in numbers} if listed is not None else {}
        if listed is not None and all(v is not None and (v or not recheck_missing) for v in seen.values()):
            return {n for n, inside in seen.items() if inside}
        self.count_person_read(row, "numbers")
        number = numbers[0] if len(numbers) == 1 else None
        return self.inventory(location_id, self.org_id(row), number) & set(numbers)
