"""The sandbox's in-memory Webex org: data model, validation rules and seeding helpers.

Objects are plain JSON-able dicts with Webex camelCase fields; private bookkeeping lives under keys
starting with ``_``.  Every dict is keyed by :func:`ids.key` (the UUID tail of the id, lower case), so
lookups accept ids with or without ``=`` padding and raw UUIDs.  All mutations hold ``self.lock``.

The class is a facade over one part per resource, mixed in and sharing the data and the one lock of
:class:`~.state_model.StateCore`: ``state_people`` (people, licences), ``state_locations`` (locations,
route choices, PSTN), ``state_numbers`` (number inventory, extension/number rules), ``state_telephony``
(forwarding, permissions, alternate numbers, move-users jobs), ``state_workspaces`` and
``state_seeding`` (bulk seeding).
"""

from __future__ import annotations

import copy
import random
import threading
from collections import Counter
from typing import Iterable

from .. import errors as E
from .. import ids
from .indexes import IndexedDict, Indexes
from .jobs import MoveJobsMixin
from .locations import LocationsMixin
from .model import DEFAULT_LICENSES, StateCore, now_iso
from .numbers import NumbersMixin
from .people import PeopleMixin
from .seeding import SeedingMixin
from .telephony import TelephonyMixin
from .workspaces import WorkspacesMixin

__all__ = ["SandboxState"]


class SandboxState(PeopleMixin, LocationsMixin, NumbersMixin, TelephonyMixin, MoveJobsMixin, WorkspacesMixin,
                   SeedingMixin, StateCore):
    """A thread-safe fake Webex org (or several)."""

    def __init__(self, seed: int | None = None, defaults: bool = True):
        self.lock = threading.RLock()
        self._rng = random.Random(seed) if seed is not None else None
        self.orgs: dict[str, dict] = {}
        self.locations: dict[str, dict] = {}
        self.ix = Indexes()
        self.people: dict[str, dict] = IndexedDict(self.ix.add_entity, self.ix.remove_entity)
        self.licenses: dict[str, dict] = {}
        self.route_groups: dict[str, dict] = {}
        self.trunks: dict[str, dict] = {}
        self.workspaces: dict[str, dict] = IndexedDict(self.ix.add_entity, self.ix.remove_entity)
        self.numbers: dict[str, dict] = IndexedDict(self.ix.add_number, self.ix.remove_number)  # by E.164
        self.jobs: dict[str, dict] = {}
        self.create_counts: Counter[str] = Counter()
        self.workspace_create_counts: Counter[str] = Counter()
        self.org_id: str = ""
        self.me_id: str = ""
        if defaults:
            self.add_org()
            for name, sku, total in DEFAULT_LICENSES:
                self.add_license(name, sku, total=total)

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

    # ------------------------------------------------------------------ read helpers
    def _entity(self, eid: str) -> dict:
        k = ids.key(eid)
        ent = self.people.get(k) or self.workspaces.get(k)
        if ent is None:
            raise E.not_found("Entity", eid)
        return ent

    def check_org(self, org_id: str | None) -> None:
        if org_id and ids.key(org_id) not in self.orgs:
            raise E.ApiError(404, "Organization not found", E.NOT_FOUND, f"Organization {org_id} not found")

    def check_indexes(self) -> list[str]:
        """Stale index entries (a mutation that forgot ``reindex``); empty when the indexes are right."""
        with self.lock:
            return self.ix.check(list(self.people.values()) + list(self.workspaces.values()),
                                 self.numbers.values())

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
