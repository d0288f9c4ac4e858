"""SCIM 2 users and bulk (/identity/scim/{orgId}/v2/...). SCIM user ids are the person's UUID."""

from __future__ import annotations

import random
import re

from aiohttp import web

from .. import contract
from .. import errors as E
from .. import ids
from ..app import SANDBOX, body_of, json_response, q, route, row_error_hit, tracking_id_of, state_of

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CISCO = "urn:scim:schemas:extension:cisco:webexidentity:2.0:User"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
CISCO_ERROR = "urn:scim:schemas:extension:cisco:webexidentity:api:messages:2.0:Error"
FILTER_RE = re.compile(r'^\s*(userName|emails\.value|emails|id|displayName)\s+(eq|sw|co)\s+"([^"]*)"\s*$', re.I)


def _org(request) -> None:
    """404 unless the path names one of the sandbox's orgs."""
    state_of(request).check_org(request.match_info["org"])


def scim_user(request, p: dict) -> dict:
    uid = ids.key(p["id"])
    org = request.match_info["org"]
    return {
        "schemas": [CORE, ENTERPRISE, CISCO],
        "id": uid,
        "userName": p["emails"][0],
        "active": p.get("_active", True),
        "name": {"givenName": p.get("firstName", ""), "familyName": p.get("lastName", "")},
        "displayName": p.get("displayName"),
        "emails": [{"value": e, "type": "work", "primary": i == 0} for i, e in enumerate(p["emails"])],
        "userType": "user",
        "meta": {"resourceType": "User", "created": p.get("created"), "lastModified": p.get("lastModified",
                                                                                          p.get("created")),
                 "location": f"{request.url.scheme}://{request.url.host}:{request.url.port}"
                             f"/identity/scim/{org}/v2/Users/{uid}"},
    }


def scim_error(request, status: int, detail: str, scim_type: str | None = None, code: int | None = None) -> dict:
    tid = tracking_id_of(request)
    body = {"schemas": [ERROR_SCHEMA, CISCO_ERROR], "status": str(status), "detail": detail,
            CISCO_ERROR: {"trackingId": tid, "errorCode": code or status * 1000, "details": detail},
            # Webex-shaped keys so wxc_sdk's RestError parses .detail/.code
            "message": detail, "errors": [{"description": detail, "errorCode": code or status * 1000}],
            "trackingId": tid}
    if scim_type:
        body["scimType"] = scim_type
    return body


def _create(request, data: dict) -> tuple[int, dict]:
    """Create one SCIM user; returns (status, user-or-error-body)."""
    st = state_of(request)
    # the SCIM user schema (webex-admin.json POST /identity/scim/{orgId}/v2/Users): schemas, userName and
    # userType are required, also for a /Bulk operation's data
    users = contract.find("POST", "/identity/scim/org/v2/Users")
    problems = contract.request_problems(users, {}, data) if users is not None else []
    if problems:
        return 400, scim_error(request, 400, "; ".join(map(str, problems)), "invalidValue", 400001)
    user_name = (data or {}).get("userName")
    if not user_name or "@" not in user_name:
        return 400, scim_error(request, 400, "userName (an email address) is required", "invalidValue", 400001)
    with st.lock:
        if st.people_by_email(user_name):
            return 409, scim_error(request, 409, f"User {user_name} already exists", "uniqueness", 409001)
        name = data.get("name") or {}
        pid = st.add_person(user_name, first_name=name.get("givenName", ""), last_name=name.get("familyName", ""),
                            display_name=data.get("displayName"), _count=False)
        p = st.people[ids.key(pid)]
        p["_active"] = bool(data.get("active", True))
        st.create_counts[user_name.strip().lower()] += 1
        return 201, scim_user(request, p)


async def search_users(request: web.Request) -> web.Response:
    st = state_of(request)
    _org(request)
    flt = q(request, "filter")
    try:
        start = max(1, int(q(request, "startIndex", default="1")))
        count = int(q(request, "count", default="100"))
    except ValueError:
        raise E.bad_request("startIndex/count must be integers")
    with st.lock:
        people = [p for p in st.people.values() if not ids.same(p["id"], st.me_id)]
        if flt:
            m = FILTER_RE.match(flt)
            if not m:
                raise E.ApiError(400, f"Unsupported filter {flt}", 400002, body=scim_error(
                    request, 400, f"Unsupported filter {flt}", "invalidFilter", 400002))
            attr, op, val = m.group(1).lower(), m.group(2).lower(), m.group(3).lower()

            def values(p):
                if attr in ("username", "emails.value", "emails"):
                    return [e.lower() for e in p["emails"]]
                if attr == "id":
                    return [ids.key(p["id"])]
                return [(p.get("displayName") or "").lower()]

            test = {"eq": lambda a: a == val, "sw": lambda a: a.startswith(val), "co": lambda a: val in a}[op]
            people = [p for p in people if any(test(v) for v in values(p))]
        page = people[start - 1:start - 1 + count]
        res = [scim_user(request, p) for p in page]
    return json_response(request, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                                   "totalResults": len(people), "itemsPerPage": len(res), "startIndex": start,
                                   "Resources": res})


async def create_user(request: web.Request) -> web.Response:
    _org(request)
    status, body = _create(request, body_of(request))
    return json_response(request, body, status=status)


async def get_user(request: web.Request) -> web.Response:
    st = state_of(request)
    _org(request)
    with st.lock:
        p = st.people.get(ids.key(request.match_info["uid"]))
        if p is None:
            return json_response(request, scim_error(request, 404, "User not found", None, 404001), status=404)
        return json_response(request, scim_user(request, p))


async def bulk(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    _org(request)
    body = body_of(request)
    ops = body.get("Operations", body.get("operations"))
    if not isinstance(ops, list) or not ops:
        return json_response(request, scim_error(request, 400, "Operations is required", "invalidSyntax"), 400)
    if len(ops) > 100:
        return json_response(request, scim_error(request, 413, "At most 100 operations per bulk request",
                                                 "tooMany"), 413)
    fail_on_errors = body.get("failOnErrors")
    results = []
    n_err = 0
    for op in ops:
        bulk_id = op.get("bulkId")
        method = (op.get("method") or "").upper()
        path = op.get("path") or ""
        out = {"method": method, "bulkId": bulk_id}
        if fail_on_errors and n_err >= int(fail_on_errors):
            break  # the rest is not processed
        if method != "POST" or path.rstrip("/") != "/Users":
            status, res = 400, scim_error(request, 400, f"Unsupported bulk operation {method} {path}",
                                          "invalidSyntax")
        else:
            hit = row_error_hit(sb.state, sb.faults, request, op.get("data"))
            if hit:
                status, res = 400, scim_error(request, 400, f"Sandbox row error for {hit}", "invalidValue",
                                              sb.faults.row_error_code)
            else:
                status, res = _create(request, op.get("data") or {})
        out["status"] = str(status)
        if status < 300:
            out["location"] = res["meta"]["location"]
            out["version"] = 'W/"1"'
        else:
            n_err += 1
            out["response"] = res
        results.append(out)
    # the service does not keep request order: shuffle deterministically so clients map by bulkId
    random.Random(f"{sb.seed}:{len(sb.log.snapshot())}").shuffle(results)
    if fail_on_errors and n_err >= int(fail_on_errors):
        # webex-admin.json BulkUser.failOnErrors: "the maximum number of errors ... before the operation is
        # terminated and an error response is returned": an error status, with the operations processed
        detail = (f"failOnErrors ({fail_on_errors}) reached: the bulk request was stopped after {n_err} errors; "
                  f"{len(ops) - len(results)} operations were not processed")
        err = scim_error(request, 400, detail, "tooMany", 400003)
        err["Operations"] = results
        return json_response(request, err, status=400)
    return json_response(request, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],
                                   "Operations": results}, status=200)


def setup(app: web.Application) -> None:
    base = "/identity/scim/{org}/v2"
    route(app, "GET", base + "/Users", search_users)
    route(app, "POST", base + "/Users", create_user)
    route(app, "GET", base + "/Users/{uid}", get_user)
    route(app, "POST", base + "/Bulk", bulk)
