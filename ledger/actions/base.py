"""Shared machinery for executors: Webex calls, name → id resolution, the settings write steps.

Every executor derives from :class:`BaseExecutor`. It receives the run's one ``WebexSimpleApi``
(built by :func:`ledger.actions.client.make_api`), a per-run :class:`~ledger.work.ports.ResolveCache`
and the dry-run flag. Executors raise ``ledger.errors`` ActionErrors, never SDK exceptions:
wrap Webex calls in ``with self.webex("what"):`` (or ``self.call``) to translate them with
:func:`ledger.actions.webex_errors.translate`. Webex ids: ``ledger.actions.webex_ids``.
"""

from __future__ import annotations

import time
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from wxc_sdk import WebexSimpleApi
from wxc_sdk.people import Person
from wxc_sdk.person_settings.forwarding import PersonForwardingSetting

from ledger.actions.forwarding import forwarding_busy_failure, is_forwarding_busy, with_always
from ledger.actions.permissions import (
    PermissionTarget,
    complete_changes,
    locked_call_types,
    permission_before,
    permission_changes,
    request_body,
    without,
)
from ledger.actions.snapshot import PeopleReads
from ledger.actions.webex_errors import name_row_error, translate
from ledger.entities import webex_uuid
from ledger.errors import ActionError, RowFailure
from ledger.work.ports import ActionResult, ResolveCache, RowInput
from ledger.spec import ActionSpec

LOCATIONS_PAGE_MAX = 500
# how long a name/email lookup that found nothing answers from the cache (not the whole run)
NOT_FOUND_TTL_S = 30.0
T = TypeVar("T")


class BaseExecutor(PeopleReads):
    """Common state and helpers; subclasses implement ``execute(row)``.  Person reads go through the
    run's people snapshot once it is worth it (``ledger.actions.snapshot``)."""

    spec: ActionSpec

    def __init__(self, spec: ActionSpec, api: WebexSimpleApi, *, cache: ResolveCache, dry_run: bool = False):
        self.spec = spec
        self.api = api
        self.cache = cache
        self.dry_run = dry_run

    # per-executor error naming (see name_row_error): extra description patterns, explained codes
    row_texts: tuple[tuple[re.Pattern[str], str], ...] = ()
    row_codes: Mapping[int, str] = {}

    # --- error translation ------------------------------------------------------------------
    def call(self, what: str, fn: Callable[[], Any], *, write: bool = False) -> Any:
        """Run one Webex call: translate its errors (the ladder) and name the known row errors."""
        try:
            with self.webex(what, write=write):
                return fn()
        except ActionError as exc:
            raise name_row_error(exc, self.row_texts, self.row_codes) from None

    @contextmanager
    def webex(self, what: str, *, write: bool = False) -> Iterator[None]:
        """Translate any exception raised inside into an ActionError (ladder above)."""
        try:
            yield
        except ActionError:
            raise
        except Exception as exc:  # noqa: BLE001 - the one translation point for SDK errors
            raise translate(exc, what, ambiguous_write=write) from None

    def write_first(
        self,
        row: RowInput,
        what: str,
        changes: dict[str, Any] | None,
        write: Callable[[], object],
        careful: Callable[[], ActionResult],
        **ids: Any,
    ) -> ActionResult:
        """Write ``changes`` without reading first, or take the ``careful`` read-then-write path.

        For a setting no list endpoint carries (forwarding, outgoing permissions) a read costs the same
        request as the write it might save, and a PUT of absolute values is idempotent: on a row's first
        attempt the write goes out alone (1 request instead of 2). ``careful`` runs instead for a dry run
        (plan.csv shows before → after), a row to re-check (``row.recovered``: retried after a write whose
        answer was lost, or reclaimed from a dead run), ``changes`` None (the row keeps a value "as it is",
        which needs a read), and when Webex refuses the short write (400/404): the read then explains or
        adapts (not a calling user, a call type the system locks, forwarding busy)."""
        if changes is None or self.dry_run or row.recovered:
            return careful()
        try:
            self.call(what, write, write=True)
        except RowFailure as exc:
            if exc.http_status in (400, 404):
                return careful()
            raise
        return self.done(changes, **ids, read_first=False)

    def apply_forwarding(
        self,
        current: PersonForwardingSetting,
        changes: dict[str, Any],
        write: Callable[[PersonForwardingSetting], object],
        who: str,
        **ids: Any,
    ) -> ActionResult:
        """The forwarding step shared by users and workspaces: skip when the row's ``changes`` are
        empty, else PUT the full object as read with ``always`` changed (:func:`with_always`);
        Webex's 4003 "forwarding busy" becomes an explained row failure."""
        if not changes:
            always = current.call_forwarding.always
            return self.skipped(
                "forwarding_already_set", **ids, enabled=always.enabled, destination=always.destination
            )
        if self.dry_run:  # "before": the values the changed fields hold now (plan.csv shows before → after)
            now = current.call_forwarding.always
            before = {k: getattr(now, k, None) for k in changes["always"]}
            return self.done(changes, **ids, before={"always": before})
        desired = with_always(current, changes["always"])
        try:
            self.call(f"set forwarding of {who}", lambda: write(desired), write=True)
        except RowFailure as exc:
            if is_forwarding_busy(exc):
                raise forwarding_busy_failure(exc, who) from None
            raise
        return self.done(changes, **ids)

    def set_permissions(
        self,
        row: RowInput,
        target: PermissionTarget,
        path: str,
        org_id: str | None,
        who: str,
        read: Callable[[Callable[[], dict[str, Any]]], Mapping[str, Any]],
        **ids: Any,
    ) -> ActionResult:
        """A person's or workspace's (``who``) outgoing permissions (``path``): written first when the row sets every
        value it writes (:meth:`write_first`), else read (``read`` wraps the GET: its error naming) and only
        what differs sent (:meth:`apply_permissions`)."""
        what = f"set outgoing permissions of {who}"

        def careful() -> ActionResult:
            current = read(lambda: self.get_json(path, org_id))
            return self.apply_permissions(current, target, lambda body: self.put_json(path, body, org_id), what, **ids)

        changes = complete_changes(target)
        return self.write_first(
            row, what, changes, lambda: self.put_json(path, request_body(changes or {}), org_id), careful, **ids
        )

    def apply_permissions(
        self,
        current: Mapping[str, Any],
        target: PermissionTarget,
        write: Callable[[dict[str, Any]], object],
        what: str,
        *,
        flags: bool = True,
        **ids: Any,
    ) -> ActionResult:
        """The outgoing-permission step shared by users, workspaces and locations: compare the
        current settings (Webex's JSON) with the row's target; skip when equal, else PUT only what
        differs. Call types Webex enforces are left alone and named; ``flags=False`` (a location):
        the use-custom flags do not exist and are ignored (see ledger.actions.permissions)."""
        locked = locked_call_types(current, target)
        note: dict[str, Any] = {}
        if locked:
            note["system_locked"] = locked
            note["note"] = (
                f"left alone: Webex enforces {', '.join(locked)} (isCallTypeRestrictionEnabled) and refuses changes"
            )
        if not flags and (target.use_custom_enabled is not None or target.use_custom_permissions is not None):
            note["ignored"] = "use_custom_enabled/use_custom_permissions: a location has no such settings"
        changes = permission_changes(current, without(target, locked), flags=flags)
        if not changes:
            return self.skipped("call_types_system_locked" if locked else "permissions_already_set", **ids, **note)
        if self.dry_run:
            return self.done(changes, **ids, **note, before=permission_before(current, changes))
        body = request_body(changes, flags=flags)
        self.call(what, lambda: write(body), write=True)
        return self.done(changes, **ids, **note)

    # --- plain JSON calls (where wxc_sdk 1.41's models differ from the Webex contract) -----------
    def get_json(self, path: str, org_id: str | None) -> dict[str, Any]:
        """GET ``path`` (relative to the API base) with ``orgId``; the JSON answer."""
        session = self.api.session
        answer = session.rest_get(session.ep(path), params={"orgId": org_id} if org_id else None)
        return answer if isinstance(answer, dict) else {}

    def put_json(self, path: str, body: Mapping[str, Any], org_id: str | None) -> None:
        session = self.api.session
        session.rest_put(session.ep(path), json=dict(body), params={"orgId": org_id} if org_id else None)

    def post_json(self, path: str, body: Mapping[str, Any], org_id: str | None) -> Any:
        session = self.api.session
        return session.rest_post(session.ep(path), json=dict(body), params={"orgId": org_id} if org_id else None)

    # --- results ----------------------------------------------------------------------------
    def done(self, changes: dict[str, Any], **result: Any) -> ActionResult:
        """Succeeded after writing ``changes`` (or, in a dry run, would have)."""
        if self.dry_run:
            return ActionResult("succeeded", {"dry_run": True, **result}, planned=changes)
        return ActionResult("succeeded", {"changed": changes, **result})

    @staticmethod
    def skipped(reason: str, **result: Any) -> ActionResult:
        return ActionResult("skipped", {"reason": reason, **result})

    # --- resolution (cached per run) ----------------------------------------------------------
    def person_id(self, row: RowInput) -> str:
        p = row.payload
        if p.get("person_id"):
            return str(p["person_id"])
        email = str(p.get("email") or "")
        if not email:
            raise RowFailure("no person_id or email in the row", code="missing_person")
        snap = self.people_snapshot(row, for_state=False)  # ids never change: fine for re-checked rows too
        listed = snap.person_id(email) if snap is not None else None
        if listed:
            return listed

        def lookup() -> str | None:
            self.count_person_read(row)
            return self._lookup_person(email)

        found = self.cached_lookup(("person", email), lookup)
        if not found:
            raise RowFailure(f"unknown user {email!r}: no Webex person has this email", code="unknown_user")
        return found

    # --- lookups: found ids are kept for the run, "not found" only briefly ---------------------------
    not_found_ttl_s = NOT_FOUND_TTL_S
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def cached_lookup(self, key: tuple[Any, ...], loader: Callable[[], T]) -> T:
        """``loader()``'s answer for ``key``: a found value is kept for the run; a miss (falsy) is
        answered from the cache only for ``not_found_ttl_s`` — a user or location created later in the
        run (by an earlier step or another admin) is then looked up again and found."""
        miss_key = ("not_found", *key)
        missed_at = self.cache.get_or_load(miss_key, lambda: None)
        if missed_at is not None and self.clock() - missed_at < self.not_found_ttl_s:
            return self.cache.get_or_load(key, loader)  # the miss itself, still cached
        if missed_at is not None:  # the miss is stale: look again
            self.cache.invalidate(key)
            self.cache.invalidate(miss_key)
        value = self.cache.get_or_load(key, loader)
        if not value:
            now = self.clock()
            self.cache.invalidate(miss_key)
            self.cache.get_or_load(miss_key, lambda: now)
        return value

    def _lookup_person(self, email: str) -> str | None:
        person = self.find_person(email)
        return person.person_id if person else None

    def find_person(self, email: str) -> Person | None:
        """The Webex person with this email (case-insensitive), read now (not cached)."""
        with self.webex(f"look up user {email}"):
            people = list(self.api.people.list(email=email))
        wanted = email.lower()
        return next((p for p in people if wanted in {e.lower() for e in (p.emails or [])}), None)

    def location_id(self, row: RowInput, id_col: str = "location_id", name_col: str = "location_name") -> str:
        p = row.payload
        if p.get(id_col):
            return str(p[id_col])
        name = str(p.get(name_col) or "")
        if not name:
            raise RowFailure(f"no {id_col} or {name_col} in the row", code="missing_location")
        org_id = self.org_id(row)
        found = self.cached_lookup(("location", org_id, name), lambda: self._lookup_location(name, org_id))
        if not found:
            raise RowFailure(f"unknown location {name!r}: no Webex location has this name", code="unknown_location")
        return found

    def _lookup_location(self, name: str, org_id: str | None) -> str | None:
        """Batched reads: the org's locations are listed once per run (one page for most orgs); a name the
        list lacks (created since) is looked up by name."""
        listed = self.cache.get_or_load(("locations-listed", org_id), lambda: self._list_locations(org_id))
        if name in listed:
            return listed[name]
        with self.webex(f"look up location {name}"):
            locations = list(self.api.locations.list(name=name, org_id=org_id))
        match = [loc for loc in locations if (loc.name or "").strip() == name]
        return match[0].location_id if match else None

    def _list_locations(self, org_id: str | None) -> dict[str, str]:
        out: dict[str, str] = {}
        for loc in self.org_locations(org_id).values():
            out.setdefault(str(loc.get("name") or "").strip(), str(loc["id"]))
        return out

    def org_locations(self, org_id: str | None) -> dict[str, dict[str, Any]]:
        """The org's locations as ``GET /locations`` lists them (plain JSON: id, name, timeZone, address …),
        by the UUID of their id; listed once per run, 500 a page (webex-device.json GET /locations: ``max``
        default 500, no larger one documented)."""

        def load() -> dict[str, dict[str, Any]]:
            session = self.api.session
            params = {"max": LOCATIONS_PAGE_MAX, **({"orgId": org_id} if org_id else {})}
            with self.webex("list the org's locations"):
                items = list(session.follow_pagination(url=session.ep("locations"), params=params, item_key="items"))
            return {webex_uuid(i["id"]) or "": i for i in items if isinstance(i, dict) and i.get("id")}

        return self.cache.get_or_load(("locations-json", org_id), load)

    @staticmethod
    def org_id(row: RowInput) -> str | None:
        """The org from global.csv, when given (sent as orgId on the calls that take it)."""
        return str(row.payload.get("org_id") or "") or None
