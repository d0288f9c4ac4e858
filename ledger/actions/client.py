"""The one place a wxc_sdk ``WebexSimpleApi`` is built (it wraps the SDK's sharp edges once).

- ``retry_429=False``: our policy, not the SDK's endless loop, sees every 429.
- Every request gets a (connect, read) timeout; the SDK sets none.
- Every URL is rewritten to the configured origin (WEBEX_BASE_URL's scheme/host/port), including
  SCIM, which the SDK hard-codes to https://webexapis.com; a request to any other host is refused.
- ``RequestHooks`` run around every HTTP request (run-wide Retry-After pause, rate, bookkeeping).
- A whole-call bound: ``requests``' read timeout bounds each socket read, not the response, so a
  server trickling bytes could hold a call for ever. One watchdog thread per process shuts down the
  socket of any call still running at its deadline; the call then fails with ``requests.Timeout``.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from wxc_sdk import WebexSimpleApi
from wxc_sdk.rest import RestSession
from wxc_sdk.tokens import Tokens

from ledger.work.ports import NoHooks, RequestHooks

DEFAULT_BASE_URL = "https://webexapis.com/v1"
SDK_ORIGIN = "https://webexapis.com"


class ForeignHostError(RuntimeError):
    """A request tried to leave the configured Webex host."""


class _Call:
    """One HTTP call under the watchdog: the connection it uses, and whether its deadline passed."""

    __slots__ = ("conn", "fired", "done")

    def __init__(self) -> None:
        self.conn: Any = None
        self.fired = False
        self.done = False

    def abort(self) -> None:
        if self.done:
            return
        self.fired = True
        sock = getattr(self.conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv/send at once
            except OSError:
                pass


_current = threading.local()  # the _Call of the request running on this thread


class _Watchdog:
    """A single daemon thread aborting calls that pass their deadline (cheap to arm and disarm)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Call]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, call: _Call) -> None:
        with self._cond:
            was_empty = not self._heap
            heapq.heappush(self._heap, (deadline, next(self._seq), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ledger-http-watchdog", daemon=True)
                self._thread.start()
            elif was_empty or self._heap[0][2] is call:
                # only when the watchdog sleeps without a deadline or this call is due first: the
                # bound is the same for every call, so a new call is normally due last (no wake-up)
                self._cond.notify()

    def _loop(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)  # finished calls are dropped lazily
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, _, call = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                call.abort()


_WATCHDOG = _Watchdog()


class _TrackingMixin:
    """Connection pools that tell the running call which connection it got (for the watchdog)."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        call = getattr(_current, "call", None)
        if call is not None:
            call.conn = conn
            if call.fired:  # the deadline passed while waiting for a connection
                call.abort()
        return conn


class _TrackingHTTPPool(_TrackingMixin, HTTPConnectionPool):
    pass


class _TrackingHTTPSPool(_TrackingMixin, HTTPSConnectionPool):
    pass


class _BoundedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackingHTTPPool, "https": _TrackingHTTPSPool}


class LedgerRestSession(RestSession):
    """RestSession bound to one origin, with timeouts and hooks on every request."""

    def __init__(
        self,
        *,
        tokens: Tokens,
        base_url: str,
        hooks: RequestHooks,
        timeout: tuple[float, float],
        concurrent_requests: int,
        call_timeout: float | None = None,
    ) -> None:
        super().__init__(tokens=tokens, concurrent_requests=concurrent_requests, retry_429=False)
        self.BASE = base_url.rstrip("/")  # instance attribute shadows the class default
        parts = urlsplit(self.BASE)
        self._origin = (parts.scheme, parts.netloc)
        self._hooks = hooks
        self._timeout = timeout
        self._call_timeout = call_timeout or (timeout[0] + 2 * timeout[1])
        self.trust_env = False  # no proxy lookups from the environment on every call
        adapter = _BoundedAdapter(pool_connections=4, pool_maxsize=max(concurrent_requests, 10))
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def _rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) == self._origin:
            return url
        if url.startswith(SDK_ORIGIN + "/"):
            return urlunsplit((*self._origin, parts.path, parts.query, parts.fragment))
        raise ForeignHostError(f"refusing a request to {parts.scheme}://{parts.netloc} (only {self.BASE})")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        url = self._rewrite(url)
        kwargs.setdefault("timeout", self._timeout)
        self._hooks.before_request()
        start = time.monotonic()
        call = _Call()
        _current.call = call
        _WATCHDOG.arm(start + self._call_timeout, call)
        try:
            response = super().request(method, url, *args, **kwargs)  # body read here (stream=False)
        except Exception:
            self._hooks.after_response(None, {}, time.monotonic() - start)
            if call.fired:
                raise requests.Timeout(f"no complete answer within {self._call_timeout:g}s") from None
            raise
        finally:
            call.done = True
            _current.call = None
        if call.fired:  # the answer completed exactly at the deadline: treat as late
            self._hooks.after_response(None, {}, time.monotonic() - start)
            raise requests.Timeout(f"no complete answer within {self._call_timeout:g}s")
        self._hooks.after_response(response.status_code, response.headers, time.monotonic() - start)
        return response


def make_api(
    token: str,
    base_url: str = DEFAULT_BASE_URL,
    *,
    hooks: RequestHooks | None = None,
    timeout: tuple[float, float] | tuple[float, float, float] = (5.0, 30.0),
    concurrency: int = 4,
) -> WebexSimpleApi:
    """Build the run's one Webex API object (one HTTP session, connection reuse).

    ``timeout``: (connect, read) seconds, optionally (connect, read, whole call); the whole-call bound
    defaults to connect + 2 x read.
    """
    tokens = Tokens(access_token=token)
    session = LedgerRestSession(
        tokens=tokens,
        base_url=base_url,
        hooks=hooks or NoHooks(),
        timeout=(timeout[0], timeout[1]),
        call_timeout=timeout[2] if len(timeout) > 2 else None,  # type: ignore[misc]
        concurrent_requests=max(concurrency, 1) + 2,
    )
    return WebexSimpleApi(tokens=tokens, session=session, retry_429=False)
