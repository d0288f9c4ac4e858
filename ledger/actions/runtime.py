"""Building the run's executors: the one ``WebexSimpleApi`` and ``ResolveCache`` of a ``ledger work`` run.

``ledger.cli`` builds a :class:`WebexExecutors` (the engine's ``ledger.work.ports.ExecutorFactory``) and
hands it to the engine (``ledger.work.worker``),
which never imports wxc_sdk: the engine calls ``factory(spec, hooks, timeout)`` once per action it
meets; every executor of the run shares one API object (one HTTP session, connection reuse) and
one resolve cache.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any

import requests
import urllib3
from wxc_sdk import WebexSimpleApi
from wxc_sdk.rest import RestError

from ledger.actions import get_spec
from ledger.actions.client import DEFAULT_BASE_URL, make_api

#: (connect, read, whole call) seconds for the preflight request: a wrong URL must end the run in seconds
PREFLIGHT_TIMEOUT = (5.0, 10.0, 12.0)
from ledger.errors import ConfigError, WebexUnreachable
from ledger.settings import clean_token
from ledger.work.ports import Executor, RequestHooks, ResolveCache
from ledger.spec import ActionSpec


def executor_class(spec: ActionSpec) -> type[Any]:
    """The class named by ``spec.executor`` ("module:Class")."""
    module_name, _, class_name = spec.executor.partition(":")
    if not module_name or not class_name:
        raise ConfigError(f"action {spec.name} has no executor yet; it cannot be run by `ledger work`")
    try:
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        raise ConfigError(f"action {spec.name}: its executor {spec.executor} is not available") from None


class WebexExecutors:
    """The engine's ``ExecutorFactory`` (``ledger.work.ports``) on Webex: one API and cache per run.

    The token lives only here (and in the SDK's session); ``repr`` never shows it.
    """

    def __init__(self, *, token: str, base_url: str = DEFAULT_BASE_URL, concurrency: int = 4, dry_run: bool = False):
        if not token:
            raise ConfigError("WEBEX_ACCESS_TOKEN is not set: export a Webex access token and run again")
        self._token = token
        self.base_url = base_url
        self.concurrency = concurrency
        self.dry_run = dry_run
        self.cache = ResolveCache()
        self._api: WebexSimpleApi | None = None
        self._executors: dict[str, Executor] = {}
        self._lock = threading.Lock()
        self.notes: tuple[str, ...] = ()  # one line each for the operator (never the token)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, concurrency: int = 4, dry_run: bool = False) -> WebexExecutors:
        """From ``WEBEX_ACCESS_TOKEN`` (a ``Bearer `` prefix is dropped, with a note in ``notes``)
        and ``WEBEX_BASE_URL`` (default: the Webex API)."""
        token, note = clean_token(env.get("WEBEX_ACCESS_TOKEN"))
        made = cls(
            token=token,
            base_url=env.get("WEBEX_BASE_URL") or DEFAULT_BASE_URL,
            concurrency=concurrency,
            dry_run=dry_run,
        )
        made.notes = (note,) if note else ()
        return made

    def __call__(
        self, action: str | ActionSpec, hooks: RequestHooks, timeout: tuple[float, float, float] = (5.0, 30.0, 60.0)
    ) -> Executor:
        spec = get_spec(action) if isinstance(action, str) else action
        with self._lock:
            if spec.name not in self._executors:
                if self._api is None:
                    self._api = make_api(
                        self._token, self.base_url, hooks=hooks, timeout=timeout, concurrency=self.concurrency
                    )
                self._executors[spec.name] = executor_class(spec)(
                    spec, self._api, cache=self.cache, dry_run=self.dry_run
                )
            return self._executors[spec.name]

    def preflight(self) -> None:
        """``GET /people/me`` (the cheapest call any token may make; reference: webex-admin
        ``GET /people/me``), see :meth:`ledger.work.ports.ExecutorFactory.preflight`."""
        api = make_api(self._token, self.base_url, timeout=PREFLIGHT_TIMEOUT, concurrency=1)
        try:
            api.people.me()
        except RestError as exc:
            if exc.response is not None and exc.response.status_code == 401:
                raise WebexUnreachable(
                    f"Webex at {self.base_url} rejected the access token (HTTP 401): set a valid "
                    "WEBEX_ACCESS_TOKEN and run `ledger work` again (no row was claimed: the ledger is unchanged)"
                ) from None
        except (requests.ConnectionError, requests.exceptions.ConnectTimeout) as exc:
            why = _why(exc)
            if why is None:
                return  # a dropped connection or similar: transient, the run's own retries handle it
            raise WebexUnreachable(
                f"cannot reach Webex at {self.base_url} ({why}): check WEBEX_BASE_URL and the network, "
                "then run `ledger work` again (no row was claimed: the ledger is unchanged)"
            ) from None
        except Exception:  # noqa: BLE001 - any other answer: the run's own handling decides
            return
        finally:
            api.session.close()

    def __repr__(self) -> str:
        return f"<WebexExecutors {self.base_url} dry_run={self.dry_run}>"


def _why(exc: BaseException) -> str | None:
    """Why nothing usable answers at the base URL (no URL, no headers in it), or None for a failure
    that may pass (a connection dropped after it was made)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None  # urllib3's MaxRetryError.reason
    text = repr(exc)
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(reason, urllib3.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(reason, urllib3.exceptions.NameResolutionError) or "Failed to resolve" in text:
        return "host name not found in DNS"
    if isinstance(reason, urllib3.exceptions.NewConnectionError) or "refused" in text.lower():
        return "connection refused: nothing listening"  # (a NewConnectionError is also a ConnectTimeoutError)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    return None


__all__ = ["WebexExecutors", "executor_class"]
