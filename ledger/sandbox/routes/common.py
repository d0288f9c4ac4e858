"""Handler factories for the routes that only read one part of a record, or hand a body to one state
method: the lookup, the lock and the Webex answer (a deep copy; 204 after a PUT) are written once."""

from __future__ import annotations

import copy
from typing import Any, Callable

from aiohttp import web

from ..app import Handler, body_of, json_response, state_of
from ..state import SandboxState

Find = Callable[[SandboxState, str], dict]


def view(find: Find, key: str, pick: Callable[[dict], Any]) -> Handler:
    """GET: ``pick`` of the record ``find(state, path[key])``, copied under the state's lock."""

    async def handler(request: web.Request) -> web.Response:
        st = state_of(request)
        with st.lock:
            return json_response(request, copy.deepcopy(pick(find(st, request.match_info[key]))))

    return handler


def update(apply: Callable[[SandboxState, str, dict], Any], key: str) -> Handler:
    """PUT answered 204 (no body): ``apply(state, path[key], body)`` under the state's lock."""

    async def handler(request: web.Request) -> web.Response:
        st = state_of(request)
        body = body_of(request)
        with st.lock:
            apply(st, request.match_info[key], body)
        return json_response(request, None)

    return handler


def set_permissions(find: Find, pick: Callable[[dict], dict]) -> Callable[[SandboxState, str, dict], None]:
    """An ``update`` that applies outgoing permissions to ``pick`` of the record ``find`` returns."""
    return lambda st, eid, body: st.api_set_permissions(pick(find(st, eid)), body)
