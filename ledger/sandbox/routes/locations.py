"""Locations and location-level telephony (/v1/locations, /v1/telephony/config/locations, PSTN)."""

from __future__ import annotations

from aiohttp import web

from .. import ids
from ..app import tracking_id_of, body_of, json_response, paginate, q, route, state_of
from ..state import SandboxState
from ..state.model import public
from .common import set_permissions, update, view


async def list_locations(request: web.Request) -> web.Response:
    st = state_of(request)
    st.check_org(q(request, "orgId", "org_id"))
    name, lid = q(request, "name"), q(request, "id")
    with st.lock:
        locs = list(st.locations.values())
        if name:
            locs = [l for l in locs if name.lower() in l["name"].lower()]
        if lid:
            locs = [l for l in locs if ids.same(l["id"], lid)]
        items = [public(l) for l in locs]
    return paginate(request, items, default_max=500)  # webex-device.json GET /locations: `max` default 500


get_location = view(SandboxState.get_location, "lid", public)


async def create_location(request: web.Request) -> web.Response:
    st = state_of(request)
    loc = st.api_create_location(body_of(request))
    return json_response(request, public(loc))


update_location = update(SandboxState.api_update_location, "lid")


async def list_calling_locations(request: web.Request) -> web.Response:
    st = state_of(request)
    name = q(request, "name")
    with st.lock:
        locs = [l for l in st.locations.values() if l["_calling"]]
        if name:
            locs = [l for l in locs if name.lower() in l["name"].lower()]
        items = [st.telephony_location_list_view(l) for l in locs]
    return paginate(request, items, key="locations")


async def get_telephony_location(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        loc = st._require_calling_location(request.match_info["lid"])
        return json_response(request, st.telephony_location_view(loc))


async def enable_calling(request: web.Request) -> web.Response:
    st = state_of(request)
    return json_response(request, st.api_enable_calling(body_of(request)))


async def update_telephony_location(request: web.Request) -> web.Response:
    st = state_of(request)
    return json_response(request, st.api_update_telephony_location(request.match_info["lid"], body_of(request)))


async def pstn_options(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        st._require_calling_location(request.match_info["lid"])
        return json_response(request, {"items": st.pstn_options(request.match_info["lid"])})


pstn_get = view(SandboxState._require_calling_location, "lid", lambda loc: loc["_pstn"] or {})
pstn_put = update(SandboxState.api_set_pstn, "lid")


async def add_numbers(request: web.Request) -> web.Response:
    st = state_of(request)
    status, body = st.api_add_numbers(request.match_info["lid"], body_of(request))
    if body is None:
        return web.Response(status=201, headers={"TrackingID": tracking_id_of(request)})
    return json_response(request, body, status=status)


internal_dialing_get = view(SandboxState._require_calling_location, "lid", lambda loc: loc["_internalDialing"])
internal_dialing_put = update(SandboxState.api_set_internal_dialing, "lid")
# location-call-settings-call-handling_auto.py: a location has callingPermissions only
location_permissions_get = view(
    SandboxState._require_calling_location, "lid", lambda loc: {"callingPermissions": loc["_outgoingPermission"]["callingPermissions"]}
)
location_permissions_put = update(set_permissions(SandboxState._require_calling_location, lambda loc: loc["_outgoingPermission"]), "lid")


def setup(app: web.Application) -> None:
    route(app, "GET", "/v1/locations", list_locations)
    route(app, "POST", "/v1/locations", create_location)
    route(app, "GET", "/v1/locations/{lid}", get_location)
    route(app, "PUT", "/v1/locations/{lid}", update_location)
    base = "/v1/telephony/config/locations"
    route(app, "GET", base, list_calling_locations)
    route(app, "POST", base, enable_calling)
    route(app, "GET", base + "/{lid}", get_telephony_location)
    route(app, "PUT", base + "/{lid}", update_telephony_location)
    route(app, "POST", base + "/{lid}/numbers", add_numbers)
    route(app, "GET", base + "/{lid}/internalDialing", internal_dialing_get)
    route(app, "PUT", base + "/{lid}/internalDialing", internal_dialing_put)
    route(app, "GET", base + "/{lid}/outgoingPermission", location_permissions_get)
    route(app, "PUT", base + "/{lid}/outgoingPermission", location_permissions_put)
    route(app, "GET", "/v1/telephony/pstn/locations/{lid}/connectionOptions", pstn_options)
    route(app, "GET", "/v1/telephony/pstn/locations/{lid}/connection", pstn_get)
    route(app, "PUT", "/v1/telephony/pstn/locations/{lid}/connection", pstn_put)
