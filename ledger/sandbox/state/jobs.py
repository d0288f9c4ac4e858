"""Move-users jobs (``/v1/telephony/config/jobs/person/moveLocation``), modelled on the reference files.

What the model follows (``/work/shared/reference/webex-api/``):
- ``wxc_sdk_open_api/user-call-settings-2_auto.py``, ``validate_or_initiate_move_users_job``: "A maximum of
  `100` users can be moved at a time" (1026018 beyond), "Duplicate entry for user is not allowed" (1026019),
  "Validate 'true' is supported only for single user" (1026020); errors found while validating the request
  are listed per user (``usersList[].errors``, ``ErrorOrImpactItem`` code + message) and no job starts.
- the same file, ``JobDetailsResponse``: a job goes ``STARTING`` → ``STARTED`` → ``COMPLETED`` (or ``FAILED``)
  with ``latestExecutionExitCode`` ``COMPLETED`` / ``COMPLETED_WITH_ERRORS`` / ``FAILED`` and ``counts``
  (``totalMoves``, ``moved``, ``failed``); ``list_move_users_job_errors`` (``GET …/{jobId}/errors``) lists
  ``ItemObject`` items (``item``, ``itemNumber``, ``trackingId``, ``error.key``, ``error.message[]``
  with ``description``/``code``/``locationId``) and "will not list any errors if `exitCode` is `COMPLETED`".
- ``wxc_sdk_live_tests/test_telephony_move_users_jobs.py``: a real job needs several polls (the test polls
  every 10 s until ``COMPLETED``); here a job ends on its ``move_job_polls``-th status read (default 3),
  and users move only then.
- README "Known conflicts": wxc_sdk 1.41 reads the answer under ``response`` (``usersList`` +
  ``jobDetails``); the 2026 spec returns the job object itself.  ``move_reply = "job"`` answers that way.

Knobs (tests set them on the state): ``move_job_polls``; ``move_fail`` (emails or person ids whose move
fails while the job runs: error 1026015); ``move_reply`` ("response" or "job"); ``move_busy`` (routes).
"""

from __future__ import annotations

from typing import Any

from .. import errors as E
from .. import ids
from .model import StateCore, now_iso, public

MAX_MOVE_USERS = 100
MOVE_TOO_MANY = 1026018
MOVE_DUPLICATE_USER = 1026019
MOVE_VALIDATE_SINGLE = 1026020
MOVE_NUMBER_FAILED = 1026015


class MoveJobsMixin(StateCore):
    """Move-users jobs of :class:`~ledger.sandbox.state.SandboxState`."""

    move_job_polls: int = 3
    move_fail: set[str] = set()
    move_reply: str = "response"

    def api_move_users(self, body: dict, tracking_id: str) -> tuple[int, dict]:
        """(status, body) of a move POST: validation errors per user (no job), or a started job."""
        with self.lock:
            entry, users = self._move_request(body)
            target = self.get_location(entry.get("locationId") or "")
            results = []
            for u in users:
                p = self.people.get(ids.key(u.get("userId") or ""))
                results.append({"userId": u.get("userId"), "errors": self._move_errors(p, u, target), "impacts": []})
            refused = [r for r in results if r["errors"]]
            if refused and self.move_reply == "job":
                first = refused[0]["errors"][0]
                raise E.ApiError(400, first["message"], first["code"], f"{refused[0]['userId']}: {first['message']}")
            response: dict[str, Any] = {"usersList": results}
            if refused or entry.get("validate"):
                return 200, {"response": response}
            job = public(self._new_move_job(users, target["id"], tracking_id))
            if self.move_reply == "job":
                return 201, job
            response["jobDetails"] = job
            return 200, {"response": response}

    @staticmethod
    def _move_request(body: dict) -> tuple[dict, list[dict]]:
        lists = body.get("usersList")
        if not isinstance(lists, list) or len(lists) != 1:
            raise E.bad_request("usersList must contain exactly one entry")
        entry = lists[0]
        users = entry.get("users") or []
        if not users:
            raise E.bad_request("Users should not be empty.", 1026012)
        if len(users) > MAX_MOVE_USERS:
            raise E.bad_request("Selected Users list exceeds the maximum limit.", MOVE_TOO_MANY)
        keys = [ids.key(u.get("userId") or "") for u in users]
        if len(set(keys)) != len(keys):
            raise E.bad_request("Duplicate entry for user is not allowed.", MOVE_DUPLICATE_USER)
        if entry.get("validate") and len(users) > 1:
            raise E.bad_request("Validate 'true' is supported only for single user.", MOVE_VALIDATE_SINGLE)
        return entry, users

    def _move_errors(self, p: dict | None, u: dict, target: dict) -> list[dict]:
        """Why user ``u`` (stored as ``p``) cannot move to ``target``: Webex lists them in the answer."""
        if p is None or not p.get("locationId"):
            return [{"code": E.MOVE_NOT_CALLING_USER, "message": f"{u.get('userId')} is not a valid Calling user"}]
        if ids.same(p["locationId"], target["id"]):
            return [{"code": E.MOVE_SAME_LOCATION, "message": "Target location is same as user's current location."}]
        if not target["_calling"]:
            return [{"code": E.LOCATION_NOT_CALLING, "message": "Target location is not a Webex Calling location."}]
        ext = u.get("extension") or p.get("extension")
        other = self._extension_owner(target["id"], ext) if ext else None
        if other is not None and not ids.same(other["id"], p["id"]):
            return [{"code": E.EXTENSION_IN_USE, "message": f"Extension {ext} is already in use in the target"}]
        return []

    def _move_person(self, p: dict, u: dict, target: dict) -> str:
        """Move ``p`` (with a new extension/number when ``u`` gives one, else its numbers) to ``target``;
        returns the location it left."""
        old = p["locationId"]
        p["locationId"] = target["id"]
        if u.get("extension"):
            p["extension"] = str(u["extension"])
        if u.get("phoneNumber"):
            self._release_numbers(p["id"])
            self._assign_number(u["phoneNumber"], p["id"], "PEOPLE")
        else:
            for rec in self.numbers_owned_by(p["id"]):
                rec["locationId"] = target["id"]
                self.reindex_number(rec)
        self.reindex(p)
        return old

    def _new_move_job(self, users: list[dict], target_id: str, tracking_id: str) -> dict:
        """Record a started job (``STARTING``); it runs on its status reads, see :meth:`job_view`."""
        t = now_iso()
        job_id = ids.encode("JOB_ID", self._uuid())
        n = len(self.jobs) + 1
        job = {
            "name": "moveusers", "id": job_id, "trackingId": tracking_id or "",
            "sourceUserId": self.me_id, "sourceCustomerId": self.org_id, "targetCustomerId": self.org_id,
            "instanceId": n,
            "jobExecutionStatus": [{"id": n, "startTime": t, "lastUpdated": t, "statusMessage": "STARTING",
                                    "exitCode": "UNKNOWN", "createdTime": t, "timeElapsed": "PT0S",
                                    "stepExecutionStatuses": []}],
            "latestExecutionStatus": "STARTING", "latestExecutionExitCode": "UNKNOWN",
            "counts": {"totalMoves": len(users), "moved": 0, "failed": 0},
            "_to": target_id, "_users": [dict(u) for u in users], "_polls": 0, "_errors": [],
        }
        self.jobs[ids.key(job_id)] = job
        return job

    def job_view(self, job_id: str) -> dict:
        """A status read: the job advances one step per read and runs the moves on its last one."""
        with self.lock:
            job = self._job(job_id)
            if job["latestExecutionStatus"] in ("COMPLETED", "FAILED"):
                return public(job)
            job["_polls"] += 1
            status = job["jobExecutionStatus"][0]
            if job["_polls"] < self.move_job_polls:
                job["latestExecutionStatus"] = status["statusMessage"] = "STARTED"
                status["lastUpdated"] = now_iso()
                return public(job)
            self._run_move_job(job)
            return public(job)

    def _run_move_job(self, job: dict) -> None:
        target = self.get_location(job["_to"])
        fail = {str(x).lower() for x in self.move_fail}
        for i, u in enumerate(job["_users"]):
            p = self.people.get(ids.key(u.get("userId") or ""))
            errs = self._move_errors(p, u, target)
            if not errs and p is not None and fail & ({e.lower() for e in p["emails"]} | {ids.key(p["id"])}):
                errs = [{"code": MOVE_NUMBER_FAILED,
                         "message": "Error occurred while moving user number to target location."}]
            if errs:
                job["_errors"].append(self._job_error(job, i, u, errs[0], target["id"]))
                continue
            self._move_person(p, u, target)
        failed = len(job["_errors"])
        moved = len(job["_users"]) - failed
        job["counts"].update(moved=moved, failed=failed)
        done = "FAILED" if failed and not moved else "COMPLETED"
        code = "COMPLETED" if not failed else "FAILED" if not moved else "COMPLETED_WITH_ERRORS"
        job["latestExecutionStatus"], job["latestExecutionExitCode"] = done, code
        job["jobExecutionStatus"][0].update(statusMessage=done, exitCode=code, endTime=now_iso(),
                                            lastUpdated=now_iso())

    def _job_error(self, job: dict, i: int, u: dict, err: dict, target_id: str) -> dict:
        return {"item": u.get("userId"), "itemNumber": i, "trackingId": f"{job['trackingId']}_{i}",
                "error": {"key": "400", "message": [{"description": err["message"], "code": str(err["code"]),
                                                     "locationId": target_id}]}}

    def job_errors(self, job_id: str) -> list[dict]:
        with self.lock:
            job = self._job(job_id)
            return [dict(e) for e in job["_errors"]] if job["latestExecutionExitCode"] != "COMPLETED" else []

    def _job(self, job_id: str) -> dict:
        job = self.jobs.get(ids.key(job_id))
        if job is None:
            raise E.not_found("Job", job_id)
        return job
