"""Secondary indexes of the sandbox state, so that a request costs the same at 10 people as at 100,000.

Without them every lookup by email, every extension check and every "numbers of this owner" walked the
whole org: the demo's rate fell from ~9,000 to ~2,900 rows/min over 3,000 users (issue 14).

- :class:`IndexedDict` is the store of people, workspaces and numbers: inserting or deleting an object
  (re)indexes it, whatever code path does it (seeding, the API, SCIM).
- Objects changed in place (an email, a location, an extension, a number's owner) are reindexed by the
  mutation that changes them (``SandboxState.reindex(obj)`` / ``reindex_number(rec)``).
- Every lookup verifies its candidates against the object itself, so a stale entry can never answer
  wrongly; :meth:`Indexes.check` rebuilds everything from scratch and names any entry a mutation forgot
  (the test fixtures call it at teardown).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable

from .. import ids


class IndexedDict(dict):
    """A dict that calls ``on_set(value)`` after an insert/replace and ``on_del(value)`` before a delete."""

    def __init__(self, on_set: Callable[[Any], None], on_del: Callable[[Any], None]):
        super().__init__()
        self._on_set, self._on_del = on_set, on_del

    def __setitem__(self, k: Any, v: Any) -> None:
        old = self.get(k)
        if old is not None and old is not v:
            self._on_del(old)
        super().__setitem__(k, v)
        self._on_set(v)

    def __delitem__(self, k: Any) -> None:
        self._on_del(self[k])
        super().__delitem__(k)

    def pop(self, k: Any, *default: Any) -> Any:
        if k in self:
            self._on_del(self[k])
        return super().pop(k, *default)

    def __deepcopy__(self, memo: dict) -> dict:  # dumps are plain dicts
        import copy
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}


def entity_emails(ent: dict) -> tuple[str, ...]:
    return tuple(str(e).strip().lower() for e in ent.get("emails") or ())


def entity_ext(ent: dict) -> tuple[str, str] | None:
    """``(location key, extension)`` of a person (``extension``) or workspace (``_extension``)."""
    ext = ent.get("extension") if "emails" in ent else ent.get("_extension")
    loc = ent.get("locationId")
    return (ids.key(loc), str(ext)) if ext and loc else None


class Indexes:
    """email → people, (location, extension) → people/workspaces, owner → numbers, location → numbers,
    lower-case display name → workspaces.  Values are sets of object keys (:func:`ids.key`) or numbers."""

    def __init__(self) -> None:
        self.email: dict[str, set[str]] = defaultdict(set)
        self.ext: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.ws_name: dict[str, set[str]] = defaultdict(set)
        self.num_owner: dict[str, set[str]] = defaultdict(set)
        self.num_loc: dict[str, set[str]] = defaultdict(set)
        self._ent_keys: dict[str, tuple] = {}  # object key -> the index keys it was filed under
        self._num_keys: dict[str, tuple] = {}

    # ------------------------------------------------------------------ entities
    @staticmethod
    def _keys_of(ent: dict) -> tuple:
        name = None if "emails" in ent else str(ent.get("displayName") or "").lower()
        return entity_emails(ent), entity_ext(ent), name

    def add_entity(self, ent: dict) -> None:
        k = ids.key(ent["id"])
        self.remove_entity(ent)
        emails, ext, name = keys = self._keys_of(ent)
        for e in emails:
            self.email[e].add(k)
        if ext:
            self.ext[ext].add(k)
        if name is not None:
            self.ws_name[name].add(k)
        self._ent_keys[k] = keys

    def remove_entity(self, ent: dict) -> None:
        k = ids.key(ent["id"])
        old = self._ent_keys.pop(k, None)
        if old is None:
            return
        emails, ext, name = old
        for e in emails:
            _discard(self.email, e, k)
        if ext:
            _discard(self.ext, ext, k)
        if name is not None:
            _discard(self.ws_name, name, k)

    # ------------------------------------------------------------------ numbers
    @staticmethod
    def _num_keys_of(rec: dict) -> tuple:
        owner = rec.get("_owner")
        return (ids.key(owner["id"]) if owner else None), ids.key(rec.get("locationId"))

    def add_number(self, rec: dict) -> None:
        self.remove_number(rec)
        n = rec["phoneNumber"]
        owner, loc = keys = self._num_keys_of(rec)
        if owner:
            self.num_owner[owner].add(n)
        self.num_loc[loc].add(n)
        self._num_keys[n] = keys

    def remove_number(self, rec: dict) -> None:
        n = rec["phoneNumber"]
        old = self._num_keys.pop(n, None)
        if old is None:
            return
        owner, loc = old
        if owner:
            _discard(self.num_owner, owner, n)
        _discard(self.num_loc, loc, n)

    # ------------------------------------------------------------------ consistency
    def check(self, entities: Iterable[dict], numbers: Iterable[dict]) -> list[str]:
        """Differences between these indexes and ones rebuilt from scratch (empty when consistent)."""
        fresh = Indexes()
        for e in entities:
            fresh.add_entity(e)
        for r in numbers:
            fresh.add_number(r)
        out = []
        for name in ("email", "ext", "ws_name", "num_owner", "num_loc"):
            mine = {k: v for k, v in getattr(self, name).items() if v}
            theirs = {k: v for k, v in getattr(fresh, name).items() if v}
            if mine != theirs:
                diff = {k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k)}
                out.append(f"index {name} is stale for {sorted(map(str, diff))[:5]}")
        return out


def _discard(index: dict, key: Any, value: str) -> None:
    s = index.get(key)
    if s is not None:
        s.discard(value)
        if not s:
            del index[key]
