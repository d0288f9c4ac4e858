"""Org-level telephony and person features: number inventory, move-users jobs, route choices, route
groups/trunks, person numbers/forwarding/outgoing permissions."""

from __future__ import annotations

from aiohttp import web

from .. import errors as E
from .. import ids
from ..app import body_of, json_response, paginate, q, route, tracking_id_of, state_of
from ..state import SandboxState
from ..state.model import public
from .common import set_permissions, update, view


async def list_numbers(request: web.Request) -> web.Response:
    st = state_of(request)
    st.check_org(q(request, "orgId", "org_id"))
    loc, num = q(request, "locationId"), q(request, "phoneNumber")
    state, owner = q(request, "state"), q(request, "ownerId")
    available = q(request, "available")
    with st.lock:
        if owner:
            recs = st.numbers_owned_by(owner)
        elif loc:
            recs = list(st.numbers_in(loc).values())
        elif num and "," not in num and num.strip() in st.numbers:
            recs = [st.numbers[num.strip()]]
        else:
            recs = list(st.numbers.values())
        if loc:
            recs = [r for r in recs if ids.same(r["locationId"], loc)]
        if num:
            wanted = {x.strip() for x in num.split(",")}
            recs = [r for r in recs if r["phoneNumber"] in wanted
                    or any(r["phoneNumber"].endswith(w.lstrip("+")) for w in wanted)]
        if state:
            recs = [r for r in recs if r["state"] == state.upper()]
        if owner:
            recs = [r for r in recs if r["_owner"] and ids.same(r["_owner"]["id"], owner)]
        if available is not None:
            want_free = available.lower() == "true"
            recs = [r for r in recs if (r["_owner"] is None) == want_free]
        return paginate(request, recs, key="phoneNumbers", default_max=2000, view=st.number_view)


async def move_users(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:  # tests set ``state.move_busy = N``: the next N move POSTs answer 409 (another job runs)
        busy = getattr(st, "move_busy", 0)
        if busy:
            st.move_busy = busy - 1
            raise E.ApiError(409, "Another move users job is in progress", 409, "Another move users job is in progress")
    status, answer = st.api_move_users(body_of(request), tracking_id_of(request))
    return json_response(request, answer, status=status)


async def move_jobs_list(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        # user-call-settings-2_auto.py JobDetailsResponse: a listed job has no name
        items = [{k: v for k, v in public(j).items() if k != "name"} for j in st.jobs.values()]
    return paginate(request, items)


async def move_job_get(request: web.Request) -> web.Response:
    st = state_of(request)
    return json_response(request, st.job_view(request.match_info["jid"]))


async def move_job_errors(request: web.Request) -> web.Response:
    """GET …/moveLocation/{jobId}/errors (reference: list_move_users_job_errors); see state/jobs.py."""
    return paginate(request, state_of(request).job_errors(request.match_info["jid"]))


async def route_choices(request: web.Request) -> web.Response:
    st = state_of(request)
    rg_name, tr_name = q(request, "routeGroupName"), q(request, "trunkName")
    with st.lock:
        items = [{"id": r["id"], "name": r["name"], "type": "ROUTE_GROUP"} for r in st.route_groups.values()
                 if not rg_name or rg_name.lower() in r["name"].lower()]
        items += [{"id": t["id"], "name": t["name"], "type": "TRUNK"} for t in st.trunks.values()
                  if not tr_name or tr_name.lower() in t["name"].lower()]
    return paginate(request, items, key="routeIdentities")


async def route_groups(request: web.Request) -> web.Response:
    st = state_of(request)
    name = q(request, "name")
    with st.lock:
        items = [{"id": r["id"], "name": r["name"], "inUse": r["inUse"]} for r in st.route_groups.values()
                 if not name or name.lower() in r["name"].lower()]
    return paginate(request, items, key="routeGroups")


async def route_group_get(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        r = st.found(st.route_groups, request.match_info["rid"], "Route group")
        return json_response(request, {"id": r["id"], "name": r["name"],
                                       "organization": {"id": st.org_id, "name": "Sandbox Org"},
                                       "localGateways": []})


async def trunks(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        items = []
        for t in st.trunks.values():
            loc = st.locations.get(ids.key(t.get("locationId") or ""))
            items.append({"id": t["id"], "name": t["name"], "trunkType": t["trunkType"], "inUse": t["inUse"],
                          "isRestrictedToDedicatedInstance": False,
                          "location": {"id": loc["id"] if loc else "", "name": loc["name"] if loc else ""}})
    return paginate(request, items, key="trunks")


# ----------------------------------------------------------------------------- person features
async def person_numbers_get(request: web.Request) -> web.Response:
    return json_response(request, state_of(request).person_numbers_view(request.match_info["pid"]))


person_numbers_put = update(SandboxState.api_update_person_numbers, "pid")
forwarding_get = view(SandboxState._calling_entity, "pid", lambda ent: ent["_features"]["callForwarding"])
forwarding_put = update(SandboxState.api_set_forwarding, "pid")
flat_forwarding_get = view(
    SandboxState._entity,
    "pid",
    lambda ent: {"callForwarding": {"always": ent["_features"]["callForwarding"]["callForwarding"]["always"]}},
)
# unmodelled `/telephony/config/{people|workspaces}/{id}/callForwarding`: flat or nested `always`
flat_forwarding_put = update(SandboxState.api_set_forwarding_always, "pid")
permissions_get = view(SandboxState._entity, "pid", lambda ent: ent["_features"]["outgoingPermission"])
permissions_put = update(
    set_permissions(SandboxState._entity, lambda ent: ent["_features"]["outgoingPermission"]), "pid"
)


async def available_forward_numbers(request: web.Request) -> web.Response:
    st = state_of(request)
    phone = q(request, "phoneNumber")
    with st.lock:
        ent = st._entity(request.match_info["pid"])
        recs = [r for r in st.numbers.values() if ids.same(r["locationId"], ent.get("locationId"))]
        if phone:
            wanted = set(phone.split(","))
            recs = [r for r in recs if r["phoneNumber"] in wanted]
        items = []
        for r in recs:
            v = st.number_view(r)
            items.append({k: v[k] for k in ("phoneNumber", "extension", "state", "owner") if k in v})
    return paginate(request, items, key="phoneNumbers")


def setup(app: web.Application) -> None:
    route(app, "GET", "/v1/telephony/config/numbers", list_numbers)
    route(app, "POST", "/v1/telephony/config/jobs/person/moveLocation", move_users)
    route(app, "GET", "/v1/telephony/config/jobs/person/moveLocation/{jid}/errors", move_job_errors)
    route(app, "GET", "/v1/telephony/config/jobs/person/moveLocation", move_jobs_list)
    route(app, "GET", "/v1/telephony/config/jobs/person/moveLocation/{jid}", move_job_get)
    route(app, "GET", "/v1/telephony/config/routeChoices", route_choices)
    route(app, "GET", "/v1/telephony/config/premisePstn/routeGroups", route_groups)
    route(app, "GET", "/v1/telephony/config/premisePstn/routeGroups/{rid}", route_group_get)
    route(app, "GET", "/v1/telephony/config/premisePstn/trunks", trunks)
    # people
    route(app, "GET", "/v1/people/{pid}/features/numbers", person_numbers_get)
    route(app, "PUT", "/v1/telephony/config/people/{pid}/numbers", person_numbers_put)
    route(app, "GET", "/v1/people/{pid}/features/callForwarding", forwarding_get)
    route(app, "PUT", "/v1/people/{pid}/features/callForwarding", forwarding_put)
    route(app, "GET", "/v1/telephony/config/people/{pid}/callForwarding", flat_forwarding_get)
    route(app, "PUT", "/v1/telephony/config/people/{pid}/callForwarding", flat_forwarding_put)
    for base in ("/v1/telephony/config/people/{pid}/outgoingPermission", "/v1/people/{pid}/features/outgoingPermission"):
        route(app, "GET", base, permissions_get)
        route(app, "PUT", base, permissions_put)
    # workspaces share the entity-generic handlers
    route(app, "GET", "/v1/workspaces/{pid}/features/callForwarding", forwarding_get)
    route(app, "PUT", "/v1/workspaces/{pid}/features/callForwarding", forwarding_put)
    route(app, "GET", "/v1/telephony/config/workspaces/{pid}/callForwarding", flat_forwarding_get)
    route(app, "PUT", "/v1/telephony/config/workspaces/{pid}/callForwarding", flat_forwarding_put)
    route(app, "GET", "/v1/telephony/config/workspaces/{pid}/callForwarding/availableNumbers",
          available_forward_numbers)
    for base in ("/v1/workspaces/{pid}/features/outgoingPermission",
                 "/v1/telephony/config/workspaces/{pid}/outgoingPermission"):
        route(app, "GET", base, permissions_get)
        route(app, "PUT", base, permissions_put)
