"""The seam between the engine (store, worker, policy) and the Webex actions.

The engine only knows these shapes; the actions (``ledger.actions``, the only code that imports
wxc_sdk) implement them. Neither side imports the other; ``ledger.cli`` wires them together.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from ledger.spec import ActionSpec

T = TypeVar("T")


@dataclass(frozen=True)
class RowInput:
    """One claimed ledger row, as an action sees it."""

    row_id: int
    line_no: int
    action: str
    payload: Mapping[str, Any]  # the normalised CSV row (global.csv merged under it)
    attempt: int = 1  # 1 for the first execution attempt of this row in this run
    recovered: bool = False  # reclaimed from a dead run: its write may already have reached Webex


@dataclass(frozen=True)
class ActionResult:
    """A row's successful outcome. Failures are raised as ``ledger.errors.ActionError``."""

    status: Literal["succeeded", "skipped"]
    result: Mapping[str, Any] = field(default_factory=dict)  # stored as JSON in ledger.result
    # --dry-run: what the row would change (nothing was written); None on a real run
    planned: Mapping[str, Any] | None = None


class Executor(Protocol):
    """Executes one row: resolve names → ids, read, compare, write the minimum."""

    spec: ActionSpec

    def execute(self, row: RowInput) -> ActionResult: ...


class BulkExecutor(Executor, Protocol):
    """An action that can execute up to ``spec.bulk_size`` rows in one Webex call.

    Returns one entry per input row id: its result, or the ActionError that failed it.
    """

    def execute_many(self, rows: Sequence[RowInput]) -> Mapping[int, ActionResult | Exception]: ...

    # optional: ``bulk_key(payload) -> str`` — the worker groups a claimed batch's rows by it before
    # cutting ``bulk_size`` groups (rows with different keys could not share one Webex call anyway)
    #
    # optional: ``already_done(rows) -> Mapping[int, ActionResult]`` — the rows a batched read shows need
    # no request (they end with that result, ``skipped``); it sends no write and answers ``{}`` when it
    # cannot tell. The worker then fills each bulk with rows that need a request, across claimed batches
    # (``ledger.work.bulks``), and ``execute_many`` gets only those.


def execute_one(executor: BulkExecutor, row: RowInput) -> ActionResult:
    """A BulkExecutor's ``execute``: its ``execute_many`` of the one row; raises the row's error."""
    outcome = executor.execute_many([row])[row.row_id]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


class RequestHooks(Protocol):
    """Called by the Webex client around every HTTP request (run-wide pause, rate, attempts log)."""

    def before_request(self) -> None:
        """Block while the run is paused (Retry-After) or over its rate; may raise to abort."""

    def after_response(self, status: int | None, headers: Mapping[str, str], elapsed_s: float) -> None:
        """Report the answer (status None = no answer: timeout or connection error)."""


class ExecutorFactory(Protocol):
    """Builds (once per action name) the executor of a run; all share one Webex API
    (``ledger.actions.runtime.WebexExecutors``; ``ledger.work.testing.ScriptedExecutors`` in tests)."""

    def __call__(self, action: str, hooks: RequestHooks, timeout: tuple[float, float, float]) -> Executor: ...

    def preflight(self) -> None:
        """One cheap request before the run claims anything: raise ``ledger.errors.WebexUnreachable``
        when nothing answers at the base URL (connection refused, DNS, TLS) or the token is rejected
        (401), naming the URL and never the token. Other answers (5xx, 429, 403) let the run start:
        its outage and breaker handling deal with them."""


class NoHooks:
    def before_request(self) -> None:
        return None

    def after_response(self, status: int | None, headers: Mapping[str, str], elapsed_s: float) -> None:
        return None


class ResolveCache:
    """Per-run cache for name → id lookups; one loader call per key even under concurrency."""

    def __init__(self) -> None:
        self._values: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._guard = threading.Lock()
        self.loads = 0  # number of loader calls (for tests and stats)

    def get_or_load(self, key: Any, loader: Callable[[], T]) -> T:
        if key in self._values:
            return self._values[key]  # type: ignore[no-any-return]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = loader()
                self.loads += 1
            return self._values[key]  # type: ignore[no-any-return]

    def invalidate(self, key: Any) -> None:
        self._values.pop(key, None)


#: Answers that throttle (pause the whole run for their Retry-After), for the engine and the actions.
THROTTLE_STATUSES = frozenset({429, 423})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110), None when absent/bad.

    Shared by the actions' error ladder and the engine's run-wide pause (wxc_sdk's own ``int()``
    fails on the HTTP-date form).
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)
