"""The one place a wxc_sdk ``WebexSimpleApi`` is built (it wraps the SDK's sharp edges once).

- ``retry_429=False``: our policy, not the SDK's endless loop, sees every 429.
- Every request gets a (connect, read) timeout; the SDK sets none.
- Every URL is rewritten to the configured origin (WEBEX_BASE_URL's scheme/host/port), including
  SCIM, which the SDK hard-codes to https://webexapis.com; a request to any other host is refused.
- ``RequestHooks`` run around every HTTP request (run-wide Retry-After pause, rate, bookkeeping).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from wxc_sdk import WebexSimpleApi
from wxc_sdk.rest import RestSession
from wxc_sdk.tokens import Tokens

from ledger.ports import NoHooks, RequestHooks

DEFAULT_BASE_URL = "https://webexapis.com/v1"
SDK_ORIGIN = "https://webexapis.com"


class ForeignHostError(RuntimeError):
    """A request tried to leave the configured Webex host."""


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
    ) -> None:
        super().__init__(tokens=tokens, concurrent_requests=concurrent_requests, retry_429=False)
        self.BASE = base_url.rstrip("/")  # instance attribute shadows the class default
        parts = urlsplit(self.BASE)
        self._origin = (parts.scheme, parts.netloc)
        self._hooks = hooks
        self._timeout = timeout
        self.trust_env = False  # no proxy lookups from the environment on every call

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
        import time

        start = time.monotonic()
        try:
            response = super().request(method, url, *args, **kwargs)
        except Exception:
            self._hooks.after_response(None, {}, time.monotonic() - start)
            raise
        self._hooks.after_response(response.status_code, response.headers, time.monotonic() - start)
        return response


def make_api(
    token: str,
    base_url: str = DEFAULT_BASE_URL,
    *,
    hooks: RequestHooks | None = None,
    timeout: tuple[float, float] = (5.0, 30.0),
    concurrency: int = 4,
) -> WebexSimpleApi:
    """Build the run's one Webex API object (one HTTP session, connection reuse)."""
    tokens = Tokens(access_token=token)
    session = LedgerRestSession(
        tokens=tokens,
        base_url=base_url,
        hooks=hooks or NoHooks(),
        timeout=timeout,
        concurrent_requests=max(concurrency, 1) + 2,
    )
    return WebexSimpleApi(tokens=tokens, session=session, retry_429=False)
