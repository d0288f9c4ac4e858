"""Batched reads: the org's people read in pages once per run instead of one lookup + one read per row.

``GET /people?callingData=true`` returns what the user actions' read-before-write needs (id, emails,
licences, location, extension, numbers), 100 people a page (webex-admin.json, GET /people ``max``: "If
`callingData`=true, then `max` will not be more than 100"): 21,000 users are 210 requests instead of
21,000 lookups and 21,000 reads.

The freshness rule (README, "Batched reads"):
- a run reads person by person until it has made ``SNAPSHOT_AFTER`` person reads for an org (a run of
  a few rows never lists a large org), then lists the org's people once; the list is read again when
  it is older than ``SNAPSHOT_MAX_AGE_S``, or when the single reads made since (people it lacks, people
  written since) have cost as many requests as listing again (its pages; at least ``SNAPSHOT_AFTER``):
  one run of create → licences → … lists the people again once the new users are there, and a list
  never costs more than the single reads it replaces;
- a person this run writes (licences, move) is dropped from the snapshot before the write is sent: any
  later row for that person reads it again, person by person;
- a row that must be re-checked (``RowInput.recovered``: reclaimed after a crash, or retried after an
  ambiguous write) never trusts the snapshot for state; it reads the person itself;
- someone the snapshot does not have (created since, by this run or another admin) is looked up person
  by person, as before (the lookup's own negative-cache rule applies);
- ``user.create`` sends the create for an email the snapshot lacks without a lookup; "already exists"
  (409) is then looked up and the row ends ``skipped`` — never a failure, never a second create.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from wxc_sdk.people import Person

from ledger.entities import webex_uuid
from ledger.work.ports import ResolveCache, RowInput

SNAPSHOT_AFTER = 10  # person reads (lookups + details) in a run before the org's people are listed
SNAPSHOT_MAX_AGE_S = 600.0
PEOPLE_PAGE_MAX = 100  # the contract's cap with callingData=true
NUMBERS_PAGE_MAX = 2000  # GET telephony/config/numbers: the default and largest page


def _key(person_id: str | None) -> str:
    return webex_uuid(person_id) or ""


class Written:
    """What this run has written since the list was taken (those entries are read again, one by one).

    ``_mark`` normalises an entry to the snapshot's key."""

    def __init__(self) -> None:
        self._dropped: set[str] = set()
        self._lock = threading.Lock()

    def _mark(self, entry: str) -> str:
        raise NotImplementedError

    def drop(self, entry: str) -> None:
        with self._lock:
            self._dropped.add(self._mark(entry))

    def written(self) -> set[str]:
        with self._lock:
            return set(self._dropped)

    def forget(self, keys: set[str]) -> None:
        with self._lock:
            self._dropped |= keys

    def written_since(self, key: str) -> bool:
        """Whether this run wrote ``key`` (already normalised by ``_mark``) since the list was taken."""
        with self._lock:
            return key in self._dropped


class PeopleSnapshot(Written):
    """The org's people as listed at ``taken`` (monotonic seconds), by email and by id."""

    def __init__(self, people: list[Person], taken: float):
        super().__init__()
        self.taken = taken
        self.size = len(people)
        self.pages = max(1, -(-len(people) // PEOPLE_PAGE_MAX))  # what listing again costs
        self._by_email: dict[str, Person] = {}
        self._by_id: dict[str, Person] = {}
        for p in people:
            self._by_id[_key(p.person_id)] = p
            for e in p.emails or []:
                self._by_email.setdefault(e.strip().lower(), p)

    def person_id(self, email: str) -> str | None:
        """The id of the person with this email (ids never change: dropped people still answer)."""
        p = self._by_email.get(email.strip().lower())
        return str(p.person_id) if p is not None else None

    def person(self, person_id: str) -> Person | None:
        """The person as listed, unless this run has written it since (then None: read it again)."""
        k = _key(person_id)
        if self.written_since(k):
            return None
        p = self._by_id.get(k)
        return p.model_copy(deep=True) if p is not None else None

    def by_email(self, email: str) -> Person | None:
        pid = self.person_id(email)
        return self.person(pid) if pid else None

    def _mark(self, entry: str) -> str:
        return _key(entry)


class NumbersSnapshot(Written):
    """The org's number inventory (``GET telephony/config/numbers``, 2,000 a page, the API's default and
    maximum): number → owner id, as listed at ``taken``."""

    def __init__(self, items: list[dict[str, Any]], taken: float):
        super().__init__()
        self.taken = taken
        self.pages = max(1, -(-len(items) // NUMBERS_PAGE_MAX))
        self._owner: dict[str, str | None] = {}
        self._location: dict[str, str] = {}
        for item in items:
            number = number_digits(item.get("phoneNumber"))
            if number:
                self._owner[number] = str((item.get("owner") or {}).get("id") or "") or None
                self._location[number] = str((item.get("location") or {}).get("id") or "")

    def owned_by(self, number: str, person_id: str) -> bool | None:
        """Whether the list shows ``number`` owned by ``person_id``; None when it cannot say (not listed,
        or written by this run since)."""
        n = number_digits(number)
        if self.written_since(n) or n not in self._owner:
            return None
        owner = self._owner[n]
        return owner is not None and _key(owner) == _key(person_id)

    def in_location(self, number: str, location_id: str) -> bool | None:
        """Whether the list shows ``number`` in the location's inventory (a number the org's inventory
        lacks is in no location); None when this run has written it since (read it again)."""
        n = number_digits(number)
        if self.written_since(n):
            return None
        return bool(self._location.get(n)) and _key(self._location[n]) == _key(location_id)

    def _mark(self, entry: str) -> str:
        return number_digits(entry)


class CallingLocationsSnapshot(Written):
    """The org's Webex Calling locations (``GET telephony/config/locations``: id, name, callingLineId …),
    as listed at ``taken``; a location this run writes (enables, sets its main number) is dropped."""

    def __init__(self, items: list[dict[str, Any]], taken: float, page: int):
        super().__init__()
        self.taken = taken
        self.pages = max(1, -(-len(items) // page))
        self._by_id = {_key(str(item.get("id") or "")): item for item in items if item.get("id")}

    def is_calling(self, location_id: str) -> bool | None:
        """Whether the location was calling-enabled when listed; None when this run wrote it since."""
        k = _key(location_id)
        if self.written_since(k):
            return None
        return k in self._by_id

    def location(self, location_id: str) -> dict[str, Any] | None:
        """The location as listed; None when not listed (not calling-enabled when listed, or enabled since)
        or written by this run since — read it then."""
        k = _key(location_id)
        if self.written_since(k):
            return None
        return self._by_id.get(k)

    def _mark(self, entry: str) -> str:
        return _key(entry)


def number_digits(number: str | None) -> str:
    """A phone number's digits (``+34 93…`` and ``34 93…`` compare equal)."""
    return "".join(ch for ch in (number or "") if ch.isdigit())


class _OrgReads:
    """Per run and org: how many person reads were made, and the snapshot once it is worth it."""

    def __init__(self) -> None:
        self.reads = 0
        self.reads_at_list = 0  # ``reads`` when the snapshot was taken
        self.snapshot: Any = None
        self.lock = threading.Lock()


class PeopleReads:
    """Mixin for executors (needs ``api``, ``cache``, ``call`` and ``org_id``): snapshot-first person reads."""

    api: Any
    cache: ResolveCache
    snapshot_after = SNAPSHOT_AFTER
    snapshot_max_age_s = SNAPSHOT_MAX_AGE_S
    call: Callable[..., Any]
    org_id: Callable[[RowInput], str | None]

    def _org_reads(self, row: RowInput, kind: str = "people") -> _OrgReads:
        return self.cache.get_or_load((f"{kind}-reads", self.org_id(row)), _OrgReads)

    def _snapshot(self, row: RowInput, kind: str, load: Callable[[], Any], force: bool = False) -> Any:
        reads = self._org_reads(row, kind)
        with reads.lock:
            snap = reads.snapshot
            if snap is not None and time.monotonic() - snap.taken > self.snapshot_max_age_s:
                snap = reads.snapshot = None
            written: set[str] = set()
            if snap is not None and reads.reads - reads.reads_at_list >= max(self.snapshot_after, snap.pages):
                written = snap.written()  # single reads since the list cost as much as listing again
                snap = reads.snapshot = None
            if snap is None and (force or reads.reads >= self.snapshot_after):
                snap = reads.snapshot = load()
                snap.forget(written)  # what this run wrote is read one by one for the rest of the run
                reads.reads_at_list = reads.reads
            return snap

    def people_snapshot(self, row: RowInput, *, for_state: bool = True) -> PeopleSnapshot | None:
        """The org's people, listed once this run has read enough of them one by one; None before that,
        and (``for_state``) for a row that must be re-checked."""
        if for_state and row.recovered:
            return None
        return self._snapshot(row, "people", lambda: self._list_people(row))  # type: ignore[no-any-return]

    def people_snapshot_now(self, row: RowInput) -> PeopleSnapshot:
        """The snapshot, listed now if not yet (a bulk call of many rows: listing is cheaper at once)."""
        return self._snapshot(row, "people", lambda: self._list_people(row), force=True)  # type: ignore[no-any-return]

    def _list_people(self, row: RowInput) -> PeopleSnapshot:
        org = self.org_id(row)
        people = self.call(
            "list the org's people",
            lambda: list(self.api.people.list(calling_data=True, org_id=org, max=PEOPLE_PAGE_MAX)),
        )
        return PeopleSnapshot(people, time.monotonic())

    def count_person_read(self, row: RowInput, kind: str = "people") -> None:
        reads = self._org_reads(row, kind)
        with reads.lock:
            reads.reads += 1

    def numbers_snapshot(self, row: RowInput) -> NumbersSnapshot | None:
        """The org's number inventory, listed once this run has read enough people's numbers one by one;
        None before that and for a row that must be re-checked."""
        if row.recovered:
            return None
        return self._snapshot(row, "numbers", lambda: self._list_numbers(row))  # type: ignore[no-any-return]

    def _list_numbers(self, row: RowInput) -> NumbersSnapshot:
        org = self.org_id(row)
        params: dict[str, Any] = {"max": NUMBERS_PAGE_MAX, **({"orgId": org} if org else {})}
        url = self.api.session.ep("telephony/config/numbers")
        items = self.call("list the org's numbers", lambda: list(
            self.api.session.follow_pagination(url=url, params=params, item_key="phoneNumbers")))
        return NumbersSnapshot(items, time.monotonic())

    def drop_number(self, row: RowInput, number: str) -> None:
        snap = self._org_reads(row, "numbers").snapshot
        if snap is not None:
            snap.drop(number)

    def drop_person(self, row: RowInput, person_id: str) -> None:
        """Before writing to a person: later rows must read it again, not trust the snapshot."""
        snap = self._org_reads(row).snapshot
        if snap is not None:
            snap.drop(person_id)
