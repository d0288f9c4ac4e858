"""The aiohttp application: middleware (logging, faults, latency, auth, row errors), error helpers and
pagination. Route modules register their handlers through :func:`route`."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable, Iterable

from aiohttp import web

from . import contract
from . import errors as E
from . import ids
from .faults import FORBIDDEN_CODE, FORBIDDEN_MESSAGE, FaultConfig, forbidden_hit
from .state import SandboxState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FAULTABLE_PREFIXES = ("/v1/", "/identity/")

SANDBOX = web.AppKey("sandbox", object)
_RequestKey = getattr(web, "RequestKey", None)
TRACKING_KEY = _RequestKey("tracking_id", str) if _RequestKey else "tracking_id"
JSON_KEY = _RequestKey("json", object) if _RequestKey else "json"

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class RequestRecord:
    t: float  # arrival, time.time()
    method: str
    path: str
    query: dict[str, str]
    status: int | None = None  # None when no answer was sent (hang, reset)
    tracking_id: str | None = None
    body: Any = None
    fault: str | None = None
    retry_after: float | None = None
    t_end: float | None = None  # when the answer was sent (or the connection dropped)
    applied_status: int | None = None  # for fault "lost": the status the request was processed with
    route: str | None = None  # the matched route template (e.g. /v1/people/{pid}); None when none matched
    response: Any = None  # the JSON body answered (None for no body or not JSON)

    def to_dict(self) -> dict:
        return asdict(self)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RequestRecord] = []

    def add(self, rec: RequestRecord) -> None:
        with self._lock:
            self._items.append(rec)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# ---------------------------------------------------------------------------- response helpers
def tracking_id_of(request: web.Request) -> str:
    tid = request.get(TRACKING_KEY)
    if not tid:
        tid = request.headers.get("TrackingID") or f"SANDBOX_{uuid.uuid4()}"
        request[TRACKING_KEY] = tid
    return tid


def state_of(request: web.Request) -> SandboxState:
    """The state of the sandbox serving ``request``."""
    return request.app[SANDBOX].state


def request_json(request: web.Request) -> Any:
    """The parsed JSON body (None when empty)."""
    return request.get(JSON_KEY)


def json_response(request: web.Request, data: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    h = {"TrackingID": tracking_id_of(request)}
    if headers:
        h.update(headers)
    if data is None:
        return web.Response(status=status if status != 200 else 204, headers=h)
    return web.json_response(data, status=status, headers=h, dumps=lambda o: json.dumps(o, default=str))


def error_response(request: web.Request, status: int, message: str, code: int | None = None,
                   description: str | None = None, headers: dict[str, str] | None = None,
                   body: Any = None) -> web.Response:
    tid = tracking_id_of(request)
    if body is None:
        err: dict[str, Any] = {"description": description or message}
        if code is not None:
            err["errorCode"] = code
        body = {"message": message, "errors": [err], "trackingId": tid}
        if code is not None:
            body["errorCode"] = code
    return json_response(request, body, status=status, headers=headers)


def q(request: web.Request, *names: str, default: str | None = None) -> str | None:
    for n in names:
        if n in request.query:
            return request.query[n]
    return default


def qbool(request: web.Request, *names: str) -> bool:
    v = q(request, *names)
    return v is not None and v.lower() in ("true", "1", "yes")


def body_of(request: web.Request) -> dict:
    b = request_json(request)
    if b is None:
        return {}
    if not isinstance(b, dict):
        raise E.bad_request("JSON object expected")
    return b


def paginate(request: web.Request, items: list, key: str = "items", default_max: int = 100,
             view: Callable[[Any], Any] | None = None, max_cap: int | None = None) -> web.Response:
    """One page of ``items`` (``start``/``max``, ``Link: rel="next"``); ``view`` renders only the page's
    items, so a page costs the same whatever the size of the list; ``max_cap`` lowers a larger ``max``
    as Webex does ("`max` will not be more than …")."""
    try:
        start = int(q(request, "start", default="0"))
        mx = int(q(request, "max", default=str(default_max)))
    except ValueError:
        raise E.bad_request("start/max must be integers")
    if mx <= 0:
        raise E.bad_request("max must be > 0")
    if max_cap is not None:
        mx = min(mx, max_cap)
    page = items[start:start + mx]
    if view is not None:
        page = [view(x) for x in page]
    headers = {}
    if start + mx < len(items):
        query = dict(request.query)
        query["start"] = str(start + mx)
        query["max"] = str(mx)
        headers["Link"] = f'<{request.url.with_query(query)}>; rel="next"'
    return json_response(request, {key: page}, headers=headers)


def route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """Register ``path`` and ``path + '/'`` (trailing slash optional)."""
    app.router.add_route(method, path, handler)
    app.router.add_route(method, path.rstrip("/") + "/", handler)


# ---------------------------------------------------------------------------- middleware
def _strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _path_keys(state: SandboxState, path: str) -> set[str]:
    """The keys the segments of ``path`` touch (see :meth:`SandboxState.touch_keys`)."""
    return state.touch_keys([s for s in path.split("/") if s])


def _named(name: str, keys: set[str]) -> bool:
    """Whether a fault entry ``name`` (email, name or id) is among the touched ``keys``."""
    return name.strip().lower() in keys or ids.key(name) in keys


def row_error_hit(state: SandboxState, cfg: FaultConfig, request: web.Request, body: Any) -> str | None:
    if not cfg.row_errors:
        return None
    wanted = {}
    for k in cfg.row_errors:
        wanted[k.strip().lower()] = k
        wanted[ids.key(k)] = k
    segs = [s for s in request.path.split("/") if s]
    touched = state.touch_keys(list(segs) + list(request.query.values()) + list(_strings(body)))
    for t in touched:
        if t in wanted:
            return wanted[t]
    return None


@web.middleware
async def main_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    if request.path.startswith("/_admin"):
        # out-of-band: no auth, no faults, not logged
        if request.can_read_body:
            raw_admin = await request.read()
            try:
                request[JSON_KEY] = json.loads(raw_admin) if raw_admin else None
            except ValueError:
                return error_response(request, 400, "Invalid JSON body", E.INVALID)
        return await _call(request, handler)
    t0 = time.time()
    tid = tracking_id_of(request)
    raw = await request.read() if request.can_read_body else b""
    parsed: Any = None
    bad_json = False
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            bad_json = True
    request[JSON_KEY] = parsed
    resource = request.match_info.route.resource
    rec = RequestRecord(t=t0, method=request.method, path=request.path, query=dict(request.query),
                        tracking_id=tid, body=parsed, route=resource.canonical if resource is not None else None)
    try:
        resp = await _dispatch(request, handler, sb, rec, bad_json)
    except asyncio.CancelledError:
        rec.t_end = time.time()
        sb.log.add(rec)
        raise
    rec.t_end = time.time()
    if resp is not None:
        rec.status = resp.status
        rec.response = _json_body(resp)
    sb.log.add(rec)
    if resp is None:
        # the transport was dropped; aiohttp needs a response object but nobody will read it
        return web.Response(status=499)
    return resp


def _json_body(resp: web.StreamResponse) -> Any:
    body = getattr(resp, "body", None)
    if not isinstance(body, (bytes, bytearray)) or not body or resp.content_type != "application/json":
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


async def _dispatch(request: web.Request, handler: Handler, sb: Any, rec: RequestRecord,
                    bad_json: bool) -> web.StreamResponse | None:
    path = request.path
    cfg: FaultConfig = sb.faults
    if path.startswith(FAULTABLE_PREFIXES):
        d = sb.engine.decide(cfg)
        if d.latency_s:
            await asyncio.sleep(d.latency_s)
        if d.fault:
            rec.fault, rec.retry_after = d.fault, d.retry_after
            if d.fault == "hang":
                try:
                    await asyncio.wait_for(sb.stopping.wait(), timeout=cfg.hang_seconds)
                except asyncio.TimeoutError:
                    pass
                if request.transport is not None:
                    request.transport.abort()
                return None
            if d.fault == "reset":
                if request.transport is not None:
                    request.transport.abort()
                return None
            if d.fault == "lost":
                # process normally (auth included), then drop the answer: an ambiguous outcome
                resp = await _after_faults(request, handler, sb, cfg, rec, bad_json)
                rec.fault, rec.applied_status = "lost", resp.status
                if request.transport is not None:
                    request.transport.abort()
                return None
            headers = {"Retry-After": str(int(d.retry_after))} if d.retry_after is not None else None
            msgs = {429: "Too Many Requests", 423: "Locked", 500: "Internal Server Error", 502: "Bad Gateway",
                    503: "Service Unavailable"}
            return error_response(request, d.status, msgs.get(d.status, "Error"),
                                  description=f"Sandbox injected fault: {d.fault}", headers=headers)
    return await _after_faults(request, handler, sb, cfg, rec, bad_json)


async def _after_faults(request: web.Request, handler: Handler, sb: Any, cfg: FaultConfig, rec: RequestRecord,
                        bad_json: bool) -> web.StreamResponse:
    path = request.path
    auth = request.headers.get("Authorization", "")
    if auth != f"Bearer {sb.token}":
        return error_response(request, 401, "The request requires a valid access token set in the "
                                            "Authorization request header.",
                              description="Unauthorized")
    if forbidden_hit(cfg, request.method, path):  # a valid token without the scope/role: after the 401 check
        rec.fault = "forbidden"
        return error_response(request, 403, FORBIDDEN_MESSAGE, FORBIDDEN_CODE, FORBIDDEN_MESSAGE)
    if bad_json:
        return error_response(request, 400, "Invalid JSON body", E.INVALID)
    refused = contract_refusal(request, rec) if getattr(sb, "strict", True) else None
    if refused is not None:
        return refused
    if request.method in WRITE_METHODS and not path.endswith("/v2/Bulk"):
        hit = row_error_hit(sb.state, cfg, request, rec.body)
        if hit:
            rec.fault = "row_error"
            msg = f"Sandbox row error for {hit}"
            return error_response(request, 400, msg, cfg.row_error_code,
                                  f"[Error {cfg.row_error_code}] Invalid request for {hit}")
        if cfg.forwarding_busy and request.method == "PUT" and path.endswith("/features/callForwarding"):
            keys = _path_keys(sb.state, path)
            if any(_named(k, keys) for k in cfg.forwarding_busy):
                rec.fault = "forwarding_busy"
                return error_response(request, 400, "Call forwarding busy settings could not be changed", 4003,
                                      "[Error 4003] UserCallForwardingBusy: CFB settings cannot be modified.")
    denied = read_denied_hit(sb.state, cfg, request)
    if denied:
        rec.fault = "read_denied"
        return error_response(request, 400, "Unauthorized", 4003,
                              f"[Error 4003] The token is not authorized to read {denied}.")
    return await _call(request, handler)


def contract_refusal(request: web.Request, rec: RequestRecord) -> web.Response | None:
    """Webex's 400 for a request that breaks the contract (ledger/sandbox/contract.json): a missing
    required field, an unknown top-level field, a value outside a documented enum. The error body
    names the field, as Webex's does (e.g. "Missing Mandatory field name: announcementLanguage")."""
    endpoint = contract.find(request.method, request.path)
    if endpoint is None:
        return None
    problems = contract.request_problems(endpoint, dict(request.query), rec.body)
    if not problems:
        return None
    rec.fault = "contract"
    first = problems[0]
    code = E.CONTRACT_INVALID if "/telephony/" in request.path else None
    return error_response(request, 400, f"Invalid request: {first}", code,
                          "; ".join(str(p) for p in problems[:5]))


def read_denied_hit(state: SandboxState, cfg: FaultConfig, request: web.Request) -> str | None:
    """The feature name when ``cfg.read_denied`` refuses this GET of a callForwarding/outgoingPermission."""
    feature = request.path.rstrip("/").rsplit("/", 1)[-1]
    if not cfg.read_denied or request.method != "GET" or "/features/" not in request.path:
        return None
    if feature not in ("callForwarding", "outgoingPermission"):
        return None
    keys = _path_keys(state, request.path)
    for entry in cfg.read_denied:
        who, _, only = entry.partition(":")
        if (not only or only.strip() == feature) and _named(who, keys):
            return feature
    return None


async def _call(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except E.ApiError as e:
        return error_response(request, e.status, e.message, e.code, e.description, headers=e.headers,
                              body=e.body)
    except web.HTTPException as e:
        if e.status == 404:
            return error_response(request, 404, f"Resource not found: {request.path}", E.NOT_FOUND)
        if e.status == 405:
            return error_response(request, 405, f"Method {request.method} not allowed on {request.path}")
        return error_response(request, e.status, e.reason)
    except Exception as e:  # pragma: no cover - a sandbox bug: answer 500 so tests notice
        import traceback
        traceback.print_exc()
        return error_response(request, 500, f"Sandbox internal error: {type(e).__name__}: {e}")


def build_app(sandbox: Any) -> web.Application:
    from .routes import admin, locations, people, scim, telephony, workspaces

    app = web.Application(middlewares=[main_middleware], client_max_size=32 * 1024 * 1024)
    app[SANDBOX] = sandbox
    for mod in (admin, people, scim, locations, telephony, workspaces):
        mod.setup(app)
    return app


__all__ = ["RequestRecord", "RequestLog", "build_app", "json_response", "error_response", "paginate", "route",
           "q", "qbool", "body_of", "state_of"]
