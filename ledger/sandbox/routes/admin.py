"""Admin endpoints (no auth, never faulted): state dump, request log, fault config, seeding, reset."""

from __future__ import annotations

from aiohttp import web

from ..app import SANDBOX, tracking_id_of, request_json, json_response
from ..faults import FaultConfig


async def admin_state(request: web.Request) -> web.Response:
    return json_response(request, request.app[SANDBOX].state.dump())


async def admin_requests(request: web.Request) -> web.Response:
    return json_response(request, [r.to_dict() for r in request.app[SANDBOX].requests()])


async def admin_faults_get(request: web.Request) -> web.Response:
    return json_response(request, request.app[SANDBOX].faults.to_dict())


async def admin_faults(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    body = request_json(request)
    try:
        if isinstance(body, dict) and "spec" in body and len(body) == 1:
            cfg = FaultConfig.parse(body["spec"])
        else:
            cfg = FaultConfig.from_dict(body or {})
    except (TypeError, ValueError) as e:
        return json_response(request, {"message": str(e), "errors": [{"description": str(e)}],
                                       "trackingId": tracking_id_of(request)}, status=400)
    sb.faults = cfg
    return json_response(request, cfg.to_dict())


async def admin_seed(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    body = request_json(request) or {}
    try:
        out = sb.state.seed_from_dict(body)
    except (KeyError, TypeError, ValueError) as e:
        return json_response(request, {"message": f"bad seed: {e}", "errors": [{"description": str(e)}],
                                       "trackingId": tracking_id_of(request)}, status=400)
    return json_response(request, out)


async def admin_reset(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    body = request_json(request) or {}
    sb.reset(defaults=bool(body.get("defaults", False)))
    return json_response(request, {"orgId": sb.state.org_id})


def setup(app: web.Application) -> None:
    app.router.add_get("/_admin/state", admin_state)
    app.router.add_get("/_admin/requests", admin_requests)
    app.router.add_get("/_admin/faults", admin_faults_get)
    app.router.add_post("/_admin/faults", admin_faults)
    app.router.add_post("/_admin/seed", admin_seed)
    app.router.add_post("/_admin/reset", admin_reset)
