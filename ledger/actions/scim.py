"""``user.scim_create`` [usuarios_alta_scim]: create users through SCIM 2 ``/Bulk``, ≤100 per request.

- One ``POST /identity/scim/{orgId}/v2/Bulk`` per ≤100 rows (21,000 users ≈ 210 requests); each
  operation's ``bulkId`` is the ledger row id, and results are mapped back **by bulkId, never by
  position** (the service does not keep the order).
- A partial failure fails only its rows: each operation's own status decides its row. When the
  whole request fails (429, 5xx, timeout) and it carried every row of the call, the error is raised
  so that the worker's retry policy, Retry-After pause and breaker see it; otherwise (a call of
  several requests) it is given to each row of the failed request.
- Read before write, without costing one search per row: ``already_done`` lists the org's people
  (``ledger.actions.snapshot``) and a listed user's row ends ``skipped`` with no request; the worker
  keeps those rows out of the bulks and fills each bulk with up to 100 rows that need a create, across
  claimed batches (``ledger.work.bulks``). A user the list does not show makes its operation
  answer 409, and only those rows are then looked up (``userName eq``) to report ``skipped`` with
  the existing user's id. This also covers a reclaimed row (crash) or a retry after an ambiguous
  bulk (timeout/5xx after sending): the user it may have created answers 409 and ends ``skipped``.
- A dry run writes nothing: it searches each row's user and plans the create for the missing ones.
- The SDK models the response's ``Operations`` key as ``operations``: both spellings are read.
- Each user carries ``schemas``, ``userName`` and ``userType`` (``user``, as wxc_sdk's live tests
  send): the SCIM user schema requires all three (webex-admin.json).
- ``failOnErrors``: when that many operations failed, Webex stops the bulk and answers an error
  status (webex-admin.json BulkUser) instead of 200. The operations it reports are still mapped by
  bulkId (a user it created is ``succeeded``); an operation it did not process is a transient
  failure of its row (retried; a retry that meets the created user ends ``skipped``).
- SCIM paths carry the org's UUID (the SDK docs: "Webex Identity assigned organization identifier");
  the base64 ``org_id`` from global.csv is converted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wxc_sdk.scim.bulk import BulkMethod, BulkOperation, BulkResponse, BulkResponseOperation
from wxc_sdk.rest import RestError
from wxc_sdk.scim.users import EmailObject, EmailObjectType, NameObject, ScimUser, UserTypeObject

from ledger.actions.base import BaseExecutor
from ledger.actions.webex_errors import translate
from ledger.actions.webex_ids import id_uuid
from ledger.actions.permissions import as_bool
from ledger.errors import ActionError, RowFailure, Throttled, TransientFailure
from ledger.work.ports import THROTTLE_STATUSES, ActionResult, RowInput, execute_one

MAX_BULK = 100


class ScimCreate(BaseExecutor):
    """A BulkExecutor: ``execute_many(rows)`` sends one /Bulk request per ≤100 rows."""

    # errors Webex accepts before it stops the bulk; None = as many as the request has operations,
    # so every operation is processed and gets its own outcome
    fail_on_errors: int | None = None

    def execute(self, row: RowInput) -> ActionResult:
        return execute_one(self, row)

    def execute_many(self, rows: Sequence[RowInput]) -> Mapping[int, ActionResult | Exception]:
        out: dict[int, ActionResult | Exception] = {}
        size = max(1, min(self.spec.bulk_size or MAX_BULK, MAX_BULK))
        for org, org_rows in self._by_org(rows, out).items():
            org_rows = self._not_listed(org_rows, out)
            for start in range(0, len(org_rows), size):
                chunk = org_rows[start : start + size]
                if self.dry_run:
                    out.update(self._plan(org, chunk))
                    continue
                results = self._bulk(org, chunk)
                if isinstance(results, ActionError):
                    if len(chunk) == len(rows):
                        raise results  # the call's one request failed: the worker's retry/breaker decide
                    results = {row.row_id: results for row in chunk}
                out.update(results)
        return out

    def already_done(self, rows: Sequence[RowInput]) -> Mapping[int, ActionResult]:
        """The rows whose user the org's people list shows (``skipped``, no request): the worker leaves
        them out of the bulks, so a bulk carries up to 100 creates even when most rows exist already."""
        out: dict[int, ActionResult | Exception] = {}
        for org_rows in self._by_org(rows, {}).values():
            self._not_listed(org_rows, out)
        return {i: r for i, r in out.items() if isinstance(r, ActionResult)}

    def _by_org(self, rows: Sequence[RowInput], out: dict[int, ActionResult | Exception]) -> dict[str, list[RowInput]]:
        """The rows by their org's UUID; a row without an org fails in ``out``."""
        by_org: dict[str, list[RowInput]] = {}
        for row in rows:
            org = self.org_id(row)
            if not org:
                out[row.row_id] = RowFailure("org_id is missing (give it in global.csv)", code="missing_org")
                continue
            by_org.setdefault(id_uuid(org), []).append(row)
        return by_org

    def _not_listed(self, rows: list[RowInput], out: dict[int, ActionResult | Exception]) -> list[RowInput]:
        """Batched reads: a call of many rows lists the org's people once (``ledger.actions.snapshot``);
        a listed email ends ``skipped`` with no request. A miss is created: "already exists" → 409 → looked
        up, as before. (A listed person always exists, so this holds for re-checked rows too.)"""
        if len(rows) < self.snapshot_after:
            return rows
        try:
            snap = self.people_snapshot_now(rows[0])
        except ActionError:
            return rows  # the bulk's 409s will tell
        todo = []
        for row in rows:
            email = str(row.payload["email"])
            pid = snap.person_id(email)
            if pid:
                out[row.row_id] = self.skipped("user_already_exists", user_id=id_uuid(pid), email=email)
            else:
                todo.append(row)
        return todo

    # --- one bulk request -------------------------------------------------------------------
    def _bulk(self, org: str, rows: Sequence[RowInput]) -> dict[int, ActionResult | Exception] | ActionError:
        """One /Bulk request: each row's outcome, or the error of the whole request."""
        ops = [
            BulkOperation(
                method=BulkMethod.post, path="/Users", bulk_id=str(row.row_id), data=self._user(row).create_update()
            )
            for row in rows
        ]
        stopped: str | None = None
        try:
            response = self.api.scim.bulk.bulk_request(
                org_id=org, operations=ops, fail_on_errors=self.fail_on_errors or len(ops)
            )
        except Exception as exc:  # noqa: BLE001 - translated once: the request's rows share its fate
            response = _stopped_bulk(exc)
            if response is None:
                return translate(exc, f"SCIM bulk create of {len(rows)} users", ambiguous_write=True)
            stopped = str(translate(exc, f"SCIM bulk create of {len(rows)} users"))
        results = {op.bulk_id: op for op in _operations(response) if op.bulk_id is not None}
        return {row.row_id: self._outcome(org, row, results.get(str(row.row_id)), stopped) for row in rows}

    def _outcome(
        self, org: str, row: RowInput, op: BulkResponseOperation | None, stopped: str | None = None
    ) -> ActionResult | Exception:
        email = str(row.payload["email"])
        if op is None and stopped:
            return TransientFailure(
                f"SCIM bulk create of {email}: not processed, the bulk request was stopped ({stopped})",
                code="bulk_stopped",
            )
        if op is None:
            return TransientFailure(
                f"SCIM bulk create of {email}: no result for bulkId {row.row_id} in the response",
                code="no_bulk_result",
                ambiguous=True,
            )
        status = int(op.status or 0)
        if 200 <= status < 300:
            return self.done(self._changes(row), user_id=op.user_id or _location_id(op.location), email=email)
        if status == 409:
            return self._existing(org, row, op)
        return _op_error(email, status, op)

    def _existing(self, org: str, row: RowInput, op: BulkResponseOperation) -> ActionResult | Exception:
        email = str(row.payload["email"])
        try:
            user = self._find(org, email)
        except ActionError as exc:
            return exc
        if user is None:  # 409 for another reason (e.g. the email belongs to another org)
            return _op_error(email, 409, op)
        return self.skipped("user_already_exists", user_id=user.id, email=email)

    # --- dry run: read only -----------------------------------------------------------------
    def _plan(self, org: str, rows: Sequence[RowInput]) -> dict[int, ActionResult | Exception]:
        out: dict[int, ActionResult | Exception] = {}
        for row in rows:
            email = str(row.payload["email"])
            try:
                user = self._find(org, email)
            except ActionError as exc:
                out[row.row_id] = exc
                continue
            if user is not None:
                out[row.row_id] = self.skipped("user_already_exists", user_id=user.id, email=email)
            else:
                out[row.row_id] = self.done(self._changes(row), email=email)
        return out

    # --- helpers ----------------------------------------------------------------------------
    def _find(self, org: str, email: str) -> ScimUser | None:
        with self.webex(f"SCIM search {email}"):
            found = self.api.scim.users.search(org_id=org, filter=f'userName eq "{email}"', count=2)
        wanted = email.lower()
        return next((u for u in found.resources or [] if (u.user_name or "").lower() == wanted), None)

    @staticmethod
    def _user(row: RowInput) -> ScimUser:
        p = row.payload
        first, last, email = str(p["first_name"]), str(p["last_name"]), str(p["email"])
        active = as_bool(p.get("active"))
        return ScimUser(
            user_name=email,
            active=True if active is None else active,
            name=NameObject(given_name=first, family_name=last),
            display_name=str(p.get("display_name") or f"{first} {last}"),
            emails=[EmailObject(value=email, type=EmailObjectType.work, primary=True)],
            user_type=UserTypeObject.user,
        )

    def _changes(self, row: RowInput) -> dict[str, Any]:
        user = self._user(row)
        return {"create": {"userName": user.user_name, "displayName": user.display_name, "active": user.active}}


def _operations(response: BulkResponse) -> list[BulkResponseOperation]:
    """The response's operations, whether the service spelled the key ``Operations`` or ``operations``."""
    if response.operations:
        return list(response.operations)
    raw = (response.model_extra or {}).get("Operations") or []
    return [BulkResponseOperation.model_validate(item) for item in raw if isinstance(item, dict)]


def _stopped_bulk(exc: Exception) -> BulkResponse | None:
    """The operations of a bulk Webex stopped at failOnErrors (an error status whose body still lists
    the processed operations), or None for any other failure."""
    if not isinstance(exc, RestError) or exc.response is None or not 400 <= exc.response.status_code < 500:
        return None
    try:
        body = exc.response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("Operations", body.get("operations")), list):
        return None
    return BulkResponse.model_validate(body)


def _location_id(location: str | None) -> str | None:
    return location.rstrip("/").rsplit("/", 1)[-1] if location else None


def _op_error(email: str, status: int, op: BulkResponseOperation) -> ActionError:
    error = op.response.error if op.response is not None else None
    code = error.error_code if error is not None and error.error_code else status
    detail = (error.details if error is not None else None) or _raw_detail(op) or "no detail"
    tracking = error.tracking_id if error is not None else None
    msg = f"SCIM create {email}: HTTP {status} {code} {detail}"
    kw: dict[str, Any] = {"code": code, "http_status": status, "tracking_id": tracking}
    if status in THROTTLE_STATUSES:
        return Throttled(msg, **kw)
    if status >= 500:
        return TransientFailure(msg, ambiguous=True, **kw)
    return RowFailure(msg, **kw)


def _raw_detail(op: BulkResponseOperation) -> str | None:
    extra = (op.response.model_extra or {}) if op.response is not None else {}
    value = extra.get("detail")
    return str(value) if value else None
