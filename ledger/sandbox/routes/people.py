"""People, licences and organizations (/v1/people, /v1/licenses, /v1/organizations)."""

from __future__ import annotations

from aiohttp import web

from .. import errors as E
from .. import ids
from ..app import SANDBOX, tracking_id_of, body_of, json_response, paginate, q, qbool, route, state_of
from ..faults import licence_dropped
from ..state import SandboxState
from ..state.model import public
from .common import view


async def list_people(request: web.Request) -> web.Response:
    st = state_of(request)
    st.check_org(q(request, "orgId", "org_id"))
    calling = qbool(request, "callingData")
    email = q(request, "email")
    name = q(request, "displayName")
    id_list = q(request, "id")
    loc = q(request, "locationId")
    with st.lock:
        # email and id are answered from the indexes (one request costs the same whatever the org's size)
        if email:
            people = st.people_by_email(email)
        elif id_list:
            people = [p for p in (st.people.get(ids.key(x)) for x in id_list.split(",")) if p is not None]
        else:
            people = [p for p in st.people.values() if not ids.same(p["id"], st.me_id)]
        if email and id_list:
            wanted = {ids.key(x) for x in id_list.split(",")}
            people = [p for p in people if ids.key(p["id"]) in wanted]
        if name:
            people = [p for p in people if p["displayName"].lower().startswith(name.lower())]
        if loc:
            people = [p for p in people if ids.same(p.get("locationId"), loc)]
        # webex-admin.json, GET /people `max`: "If `callingData`=true, then `max` will not be more than 100.
        # If `locationId` is specified then `max` will not be more than 50."
        cap = 50 if loc else 100 if calling else None
        return paginate(request, people, view=lambda p: st.person_view(p, calling), max_cap=cap)


async def create_person(request: web.Request) -> web.Response:
    st = state_of(request)
    calling = qbool(request, "callingData")
    p = st.api_create_person(body_of(request), calling, _licence_filter(request))
    created_400 = request.app[SANDBOX].faults.created_400
    if calling and created_400 and any(e.lower() in created_400 for e in p.get("emails", [])):
        # Webex sometimes answers 400 to a create with calling data although it created the person
        raise E.ApiError(400, "Calling data could not be applied", 400045,
                         "[Error 400045] The user was created but calling data could not be applied")
    return json_response(request, st.person_view(p, calling))


async def get_person(request: web.Request) -> web.Response:
    st = state_of(request)
    pid = request.match_info["pid"]
    if pid == "me":
        return json_response(request, st.person_view(st.get_person(st.me_id), True))
    with st.lock:
        return json_response(request, st.person_view(st.get_person(pid), qbool(request, "callingData")))


async def update_person(request: web.Request) -> web.Response:
    st = state_of(request)
    calling = qbool(request, "callingData")
    p = st.api_update_person(request.match_info["pid"], body_of(request), calling)
    return json_response(request, st.person_view(p, calling))


async def delete_person(request: web.Request) -> web.Response:
    state_of(request).api_delete_person(request.match_info["pid"])
    return web.Response(status=204, headers={"TrackingID": tracking_id_of(request)})


async def list_licenses(request: web.Request) -> web.Response:
    st = state_of(request)
    st.check_org(q(request, "orgId", "org_id"))
    with st.lock:
        items = [public(l) for l in st.licenses.values()]
    return paginate(request, items)


get_license = view(SandboxState.get_license, "lid", public)


async def assign_licenses(request: web.Request) -> web.Response:
    st = state_of(request)
    body = body_of(request)
    st.check_org(body.get("orgId"))
    status, answer = st.api_assign_licenses(body, _licence_filter(request))
    return json_response(request, answer, status=status)


def _licence_filter(request: web.Request):
    """The licences the fault config leaves out per user (None when it leaves none out)."""
    cfg = request.app[SANDBOX].faults
    if not cfg.licenses_partial:
        return None
    return lambda email, lic: licence_dropped(cfg, email, lic["id"], lic["_sku"])


async def list_orgs(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        return paginate(request, [dict(o) for o in st.orgs.values()])


async def get_org(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        return json_response(request, dict(st.found(st.orgs, request.match_info["oid"], "Organization")))


def setup(app: web.Application) -> None:
    route(app, "GET", "/v1/people", list_people)
    route(app, "POST", "/v1/people", create_person)
    route(app, "GET", "/v1/people/{pid}", get_person)
    route(app, "PUT", "/v1/people/{pid}", update_person)
    route(app, "DELETE", "/v1/people/{pid}", delete_person)
    route(app, "GET", "/v1/licenses", list_licenses)
    route(app, "GET", "/v1/licenses/{lid}", get_license)
    route(app, "PATCH", "/v1/licenses/users", assign_licenses)
    route(app, "GET", "/v1/organizations", list_orgs)
    route(app, "GET", "/v1/organizations/{oid}", get_org)
