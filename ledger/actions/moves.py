"""``user.move_location`` [usuarios_asignar_location_desde_csv]: move-users jobs of up to 100 users.

The contract (``/work/shared/reference/webex-api/``, ``wxc_sdk_open_api/user-call-settings-2_auto.py``):
``POST telephony/config/jobs/person/moveLocation`` takes "a maximum of `100` users", a single non-calling
user "is moved synchronously without creating any job" (we use the People update for those), errors found
while validating are listed per user in the answer, and the job ends with ``latestExecutionExitCode``
``COMPLETED`` / ``COMPLETED_WITH_ERRORS`` / ``FAILED`` (``counts``; ``GET …/{jobId}/errors`` lists the
failed users with a ``trackingId``).  The README there: the answer is the job under ``response``
(wxc_sdk 1.41) or the job object itself (2026 spec) — both are read, from the raw JSON.

How rows map onto jobs (``execute_many``, a BulkExecutor like ``user.scim_create``):
- each row is read first (the person: its location decides; already there → ``skipped``, no request);
- the calling users of a call are grouped by (org, target location) into jobs of ≤ 100 users: one POST
  and a few status reads per job instead of per user;
- a user refused in the answer fails its row with Webex's code; the others of that answer, which no job
  moved, go back to the worker as a transient (re-sent, re-read first);
- the job is polled with back-off (1 s, 2 s, 4 s … at most 10 s; the reference's live test polls every
  10 s) within ``poll_budget_s``.  ``COMPLETED`` → every row succeeded; otherwise each user listed in
  the job's errors fails with its code, description and ``trackingId``; a user not listed succeeds only
  when the counts account for every failure; anything else (``FAILED``, ``STOPPED``, unaccounted users)
  fails the row with the job's exit code, never a guess;
- a job still running at the end of the budget is **not** a success: its rows fail transiently (the
  worker retries them) and the job is remembered, so the retry resumes polling it instead of starting
  another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wxc_sdk.people import Person

from ledger.actions.webex_ids import same_id
from ledger.actions.users import SELECTED_WORDS, UserExecutor, classify_row_error, same_location
from ledger.errors import ActionError, RowFailure, Throttled, TransientFailure
from ledger.work.ports import ActionResult, RowInput, execute_one

MAX_MOVE_USERS = 100  # reference: "A maximum of `100` users can be moved at a time"
MOVE_BUSY_RETRY_S = 2.0  # pause after a 409 "another move-users job is running"
JOB_ENDED = frozenset({"COMPLETED", "FAILED", "ABANDONED"})
MOVE_PATH = "telephony/config/jobs/person/moveLocation"


@dataclass
class _Move:
    row: RowInput
    person: Person
    target: str
    changes: dict[str, Any]

    @property
    def person_id(self) -> str:
        return str(self.person.person_id)


class UserMoveLocation(UserExecutor):
    """Calling users move through move-users jobs (≤ 100 per job); others get a People update."""

    poll_first_s = 1.0
    poll_factor = 2.0
    poll_max_s = 10.0
    poll_budget_s = 120.0
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running_jobs: dict[str, str] = {}  # person id -> id of a job still running at its budget's end
        self.alone: set[str] = set()  # users of a several-user job refused as a whole: sent one per job

    def execute(self, row: RowInput) -> ActionResult:
        return execute_one(self, row)

    def execute_many(self, rows: Sequence[RowInput]) -> Mapping[int, ActionResult | Exception]:
        out: dict[int, ActionResult | Exception] = {}
        groups: dict[tuple[str | None, str, str], list[_Move]] = {}
        for org in {self.org_id(r) for r in rows if r.recovered}:
            self.settle_running_jobs(org)  # an unanswered move may have started a job: let it end, then read
        if len(rows) >= self.snapshot_after:  # a call of many rows: the org's people listed at once
            try:
                self.people_snapshot_now(rows[0])
            except ActionError:
                pass  # each row reads its user instead
        for row in rows:
            try:
                plan = self.plan(row)
            except ActionError as exc:
                out[row.row_id] = exc
                continue
            if isinstance(plan, ActionResult):
                out[row.row_id] = plan
                continue
            # a user whose job outlived its budget waits on that job; a user of a refused job goes alone
            pid = plan.person_id
            batch = self.running_jobs.get(pid) or (f"alone:{pid}" if pid in self.alone else "")
            groups.setdefault((self.org_id(row), plan.target, batch), []).append(plan)
        for (org, target, batch), moves in groups.items():
            for start in range(0, len(moves), MAX_MOVE_USERS):
                chunk = moves[start : start + MAX_MOVE_USERS]
                resume = batch if batch and not batch.startswith("alone:") else None
                results = self._job(org, target, chunk, resume)
                if isinstance(results, ActionError):
                    if len(chunk) == len(rows):
                        raise results  # the call's one request failed: the worker's retry/breaker decide
                    results = {m.row.row_id: results for m in chunk}
                out.update(results)
        return out

    @staticmethod
    def bulk_key(payload: Mapping[str, Any]) -> str:
        """Rows moving to the same location (as written) are handed over together: one job for them."""
        target = payload.get("location_id") or str(payload.get("location_name") or "").strip().lower()
        return f"{payload.get('org_id') or ''}|{target}"

    # --- per row: read, compare, and the non-calling path -------------------------------------
    def read_person(self, row: RowInput, person_id: str) -> Person:
        return self.current_person(row, person_id)

    def plan(self, row: RowInput) -> ActionResult | _Move:
        """The row's outcome when no job is needed (skip, dry run, People update), else its move."""
        selected = str(row.payload.get("selected") or "").strip().lower()
        if selected and selected not in SELECTED_WORDS:  # v21 people_to_location.csv: an unmarked row
            return self.skipped("not_selected", selected=row.payload.get("selected"))
        person_id = self.person_id(row)
        target = self.location_id(row)
        person = self.read_person(row, person_id)
        if same_location(person.location_id, target):
            self.running_jobs.pop(str(person.person_id), None)
            return self.skipped("already_in_target_location", person_id=person_id, location_id=target)
        calling = bool(person.location_id or person.extension)
        changes = {"location_id": target, "from_location_id": person.location_id,
                   "via": "move_job" if calling else "people_update"}
        if self.dry_run:
            return self.done(changes, person_id=person_id)
        self.drop_person(row, person_id)  # written below or by a job: later rows read it again
        if calling:
            return _Move(row, person, target, changes)
        person.location_id = target
        self.call(f"update location of {self.who(row)}", lambda: self.api.people.update(person, calling_data=True),
                  write=True)
        return self.done(changes, person_id=person_id)

    # --- one job -----------------------------------------------------------------------------
    def _job(self, org: str | None, target: str, moves: list[_Move],
             resume: str | None) -> dict[int, ActionResult | Exception] | ActionError:
        """Start the job moving ``moves`` to ``target`` (or resume the running job ``resume``);
        each row's outcome, or the error of the whole request."""
        job: dict[str, Any] | None = {"id": resume}
        refused: dict[str, dict] = {}
        if resume is None:
            try:
                job, refused = self._start(org, target, moves)
            except RowFailure as exc:
                if len(moves) == 1 or exc.http_status == 409:
                    return exc
                # refused as a whole (the job-object reply shape names no user): each user alone next time
                self.alone.update(m.person_id for m in moves)
                return {m.row.row_id: TransientFailure(f"{exc}; the {len(moves)} users are sent one per job",
                                                       code="move_split") for m in moves}
            except ActionError as exc:
                return exc
        out: dict[int, ActionResult | Exception] = {}
        for m in moves:
            if m.person_id in refused or any(same_id(m.person_id, k) for k in refused):
                err = refused.get(m.person_id) or next(v for k, v in refused.items() if same_id(m.person_id, k))
                out[m.row.row_id] = classify_row_error(RowFailure(
                    f"move of {self.who(m.row)} refused by Webex: {err.get('code')} {err.get('message')}",
                    code=err.get("code")))
        waiting = [m for m in moves if m.row.row_id not in out]
        if job is None:  # refused users stopped the job: the others were not moved, send them again
            for m in waiting:
                out[m.row.row_id] = TransientFailure(
                    f"move of {self.who(m.row)} not started: Webex refused other users of the same job",
                    code="move_not_started")
            return out
        out.update(self._finish(org, str(job["id"]), job, waiting))
        return out

    def _start(self, org: str | None, target: str, moves: list[_Move]) -> tuple[dict | None, dict[str, dict]]:
        """POST the job; (the job or None, {user id: its first error}) from either reply shape."""
        users = []
        for m in moves:
            ext = str(m.row.payload.get("extension") or "") or m.person.extension
            users.append({"userId": m.person_id, **({"extension": ext} if ext else {})})
        body = {"usersList": [{"locationId": target, "validate": False, "users": users}]}
        params = {"orgId": org} if org else None
        what = f"move {len(moves)} user(s) to location {target}" if len(moves) > 1 else f"move {self.who(moves[0].row)}"
        try:
            data = self.call(what, lambda: self.api.session.rest_post(self.api.session.ep(MOVE_PATH), json=body,
                                                                      params=params), write=True)
        except RowFailure as exc:
            if exc.http_status == 409:  # another move job runs in the org: a slow-down, not a failure
                raise Throttled(f"{exc} (another move-users job is running in the org; waiting for it)",
                                code=exc.code, http_status=409, tracking_id=exc.tracking_id,
                                retry_after=MOVE_BUSY_RETRY_S) from None
            raise classify_row_error(exc) from None
        return _reply(data if isinstance(data, dict) else {})

    def _finish(self, org: str | None, job_id: str, job: dict, moves: list[_Move]) -> dict[int, ActionResult | Exception]:
        """Poll the job to its end and give each row its user's outcome."""
        if not moves:
            return {}
        job = self._poll(org, job_id, job)
        status = str(job.get("latestExecutionStatus") or "").upper()
        exit_code = str(job.get("latestExecutionExitCode") or "").upper()
        if status not in JOB_ENDED:
            for m in moves:
                self.running_jobs[m.person_id] = job_id
            return {m.row.row_id: TransientFailure(
                f"move-users job {job_id} for {self.who(m.row)} still {status or 'unknown'} after "
                f"{self.poll_budget_s:.0f} s; the row is re-checked before anything is sent again",
                code="move_job_running", ambiguous=True) for m in moves}
        for m in moves:
            self.running_jobs.pop(m.person_id, None)
        errors = {} if exit_code == "COMPLETED" else self._errors(org, job_id, moves)
        return {m.row.row_id: self._user_outcome(m, job_id, job, exit_code, errors) for m in moves}

    def _user_outcome(self, m: _Move, job_id: str, job: dict, exit_code: str,
                      errors: dict[str, dict]) -> ActionResult | Exception:
        tracking = str(job.get("trackingId") or "") or None
        if exit_code == "COMPLETED":
            return self.done(m.changes, person_id=m.person_id, job_id=job_id, job_status=exit_code)
        err = next((v for k, v in errors.items() if same_id(k, m.person_id)), None)
        if err is not None:
            msg = (err.get("error") or {}).get("message") or [{}]
            code, text = msg[0].get("code"), msg[0].get("description") or "no description"
            return classify_row_error(RowFailure(
                f"move-users job {job_id} ({exit_code}) failed for {self.who(m.row)}: {code} {text}",
                code=code, tracking_id=err.get("trackingId") or tracking))
        counts = job.get("counts") or {}
        accounted = int(counts.get("failed") or 0) <= len(errors)
        if exit_code == "COMPLETED_WITH_ERRORS" and accounted:
            return self.done(m.changes, person_id=m.person_id, job_id=job_id, job_status=exit_code)
        return RowFailure(f"move-users job {job_id} ended {exit_code or 'without an exit code'} for "
                          f"{self.who(m.row)} (counts {counts}); check the user and retry the row",
                          code="move_job_failed", tracking_id=tracking)

    def _poll(self, org: str | None, job_id: str, job: dict) -> dict:
        """Read the job's status with back-off until it ends or ``poll_budget_s`` has passed."""
        params = {"orgId": org} if org else None
        url = self.api.session.ep(f"{MOVE_PATH}/{job_id}")
        deadline = time.monotonic() + self.poll_budget_s
        wait = self.poll_first_s
        while str(job.get("latestExecutionStatus") or "").upper() not in JOB_ENDED:
            if time.monotonic() >= deadline:
                break
            self.sleep(min(wait, max(deadline - time.monotonic(), 0.0)))
            wait = min(wait * self.poll_factor, self.poll_max_s)
            try:
                data = self.call(f"read move job {job_id}", lambda: self.api.session.rest_get(url, params=params))
            except TransientFailure:  # a failed status read changes nothing: read again later
                continue
            except RowFailure:  # e.g. 404: nothing more to learn; the job counts as not ended
                break
            job = data if isinstance(data, dict) else job
        return job

    def settle_running_jobs(self, org: str | None) -> None:
        """Wait for the org's move jobs that have not ended (``GET …/moveLocation``, newest first), so that
        a row re-checked after an ambiguous move or a crash reads the user after its job, not before."""
        params = {"orgId": org} if org else None
        url = self.api.session.ep(MOVE_PATH)
        try:
            jobs = self.call("list move jobs", lambda: list(self.api.session.follow_pagination(
                url=url, params=params, item_key="items")))
        except (RowFailure, TransientFailure):
            return  # unknown: the re-read decides, as before
        for job in jobs:
            if job.get("id") and str(job.get("latestExecutionStatus") or "").upper() not in JOB_ENDED:
                self._poll(org, str(job["id"]), job)

    def _errors(self, org: str | None, job_id: str, moves: list[_Move]) -> dict[str, dict]:
        """The job's error items by user id (``item``, or ``itemNumber`` into the job's users)."""
        params = {"orgId": org} if org else None
        url = self.api.session.ep(f"{MOVE_PATH}/{job_id}/errors")
        try:
            items = self.call(f"read errors of move job {job_id}",
                              lambda: list(self.api.session.follow_pagination(url=url, params=params, item_key="items")))
        except ActionError:
            return {}  # unknown: every user not accounted for fails with the job's exit code
        out: dict[str, dict] = {}
        for item in items:
            user = item.get("item")
            n = item.get("itemNumber")
            if not user and isinstance(n, int) and 0 <= n < len(moves):
                user = moves[n].person_id
            if user:
                out[str(user)] = item
        return out


def _reply(data: dict) -> tuple[dict | None, dict[str, dict]]:
    """(job or None, refused users) from ``{"response": {"usersList", "jobDetails"}}`` or the job itself."""
    if "response" in data and isinstance(data["response"], dict):
        response = data["response"]
        refused = {str(u.get("userId")): (u.get("errors") or [{}])[0]
                   for u in response.get("usersList") or [] if u.get("errors")}
        job = response.get("jobDetails")
        return (job if isinstance(job, dict) and job.get("id") else None), refused
    return (data if data.get("id") else None), {}


__all__ = ["UserMoveLocation", "MAX_MOVE_USERS"]
