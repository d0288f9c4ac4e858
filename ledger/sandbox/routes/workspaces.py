"""Workspaces (/v1/workspaces) and workspace numbers."""

from __future__ import annotations

from aiohttp import web

from .. import ids
from ..app import body_of, json_response, paginate, q, route, state_of
from ..state import SandboxState
from .common import update


async def list_workspaces(request: web.Request) -> web.Response:
    st = state_of(request)
    st.check_org(q(request, "orgId", "org_id"))
    name, loc, calling = q(request, "displayName"), q(request, "locationId", "workspaceLocationId"), q(request,
                                                                                                      "calling")
    with st.lock:
        ws = list(st.workspaces.values())
        if name:
            ws = [w for w in ws if name.lower() in w["displayName"].lower()]
        if loc:
            ws = [w for w in ws if ids.same(w.get("locationId"), loc)]
        if calling:
            ws = [w for w in ws if w["calling"].get("type") == calling]
        return paginate(request, ws, view=st.workspace_view)


async def create_workspace(request: web.Request) -> web.Response:
    st = state_of(request)
    w = st.api_create_workspace(body_of(request))
    return json_response(request, st.workspace_view(w), status=201)  # webex-device.json POST /workspaces: 201


async def get_workspace(request: web.Request) -> web.Response:
    st = state_of(request)
    with st.lock:
        return json_response(request, st.workspace_view(st.get_workspace(request.match_info["wid"])))


async def workspace_numbers_get(request: web.Request) -> web.Response:
    return json_response(request, state_of(request).workspace_numbers_view(request.match_info["wid"]))


workspace_numbers_put = update(SandboxState.api_update_workspace_numbers, "wid")


def setup(app: web.Application) -> None:
    route(app, "GET", "/v1/workspaces", list_workspaces)
    route(app, "POST", "/v1/workspaces", create_workspace)
    route(app, "GET", "/v1/workspaces/{wid}", get_workspace)
    route(app, "GET", "/v1/workspaces/{wid}/features/numbers", workspace_numbers_get)
    route(app, "PUT", "/v1/telephony/config/workspaces/{wid}/numbers", workspace_numbers_put)
