"""Locations and location-level telephony (/v1/locations, /v1/telephony/config/locations, PSTN)."""

from __future__ import annotations

import copy

from aiohttp import web

from .. import ids
from ..app import tracking_id_of, body_of, json_response, paginate, q, route, state_of
from ..state.model import public


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
    return paginate(request, items)


async def get_location(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        return json_response(request, public(st.get_location(request.match_info["lid"])))


async def create_location(request: web.Request) -> web.Response:
    st = state_of(request)
    loc = st.api_create_location(body_of(request))
    return json_response(request, public(loc))


async def update_location(request: web.Request) -> web.Response:
    st = state_of(request)
    st.api_update_location(request.match_info["lid"], body_of(request))
    return json_response(request, None)


async def list_calling_locations(request: web.Request) -> web.Response:
    st = state_of(request)
    name = q(request, "name")
    with st.lock:
        locs = [l for l in st.locations.values() if l["_calling"]]
        if name:
            locs = [l for l in locs if name.lower() in l["name"].lower()]
        items = [st.telephony_location_view(l) for l in locs]
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


async def pstn_get(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        loc = st._require_calling_location(request.match_info["lid"])
        return json_response(request, copy.deepcopy(loc["_pstn"]) or {})


async def pstn_put(request: web.Request) -> web.Response:
    st = state_of(request)
    st.api_set_pstn(request.match_info["lid"], body_of(request))
    return json_response(request, None)


async def add_numbers(request: web.Request) -> web.Response:
    st = state_of(request)
    status, body = st.api_add_numbers(request.match_info["lid"], body_of(request))
    if body is None:
        return web.Response(status=201, headers={"TrackingID": tracking_id_of(request)})
    return json_response(request, body, status=status)


async def internal_dialing_get(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        loc = st._require_calling_location(request.match_info["lid"])
        return json_response(request, copy.deepcopy(loc["_internalDialing"]))


async def internal_dialing_put(request: web.Request) -> web.Response:
    st = state_of(request)
    st.api_set_internal_dialing(request.match_info["lid"], body_of(request))
    return json_response(request, None)


async def location_permissions_get(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        loc = st._require_calling_location(request.match_info["lid"])
        # location-call-settings-call-handling_auto.py: a location has callingPermissions only
        return json_response(request, {"callingPermissions": copy.deepcopy(loc["_outgoingPermission"]["callingPermissions"])})


async def location_permissions_put(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        loc = st._require_calling_location(request.match_info["lid"])
        st.api_set_permissions(loc["_outgoingPermission"], body_of(request))
    return json_response(request, None)


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
