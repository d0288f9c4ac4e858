"""A scripted executor: the engine (worker, ladder, store) tested in-process in seconds, no HTTP.

The fake of the ``Executor`` port (STYLE §5.10): each row plays a script of steps, keyed by its CSV
line number; its last step repeats. Steps:

``ok``         succeeded                       ``skip``       skipped (already as wanted)
``row``        RowFailure (HTTP 400)           ``transient``  TransientFailure (HTTP 503, ambiguous)
``throttle``   Throttled (HTTP 429, Retry-After ``retry_after_s``)
``systemic``   SystemicFailure (HTTP 503)      ``forbidden``  SystemicFailure (HTTP 403)
``auth``       AuthFailure (HTTP 401)          ``bug``        an exception that is not an ActionError
``hang``       blocks until :meth:`ScriptedExecutor.release_hung` (or ``hang_s``), then a timeout

Every step goes through the run's request hooks like a real request (``before_request``, then
``after_response`` with the step's status), so the run gate (pauses, rate, stop switch) is in play.
A :class:`ScriptedBulkExecutor` answers up to ``bulk_size`` rows per call; its ``call_script`` scripts
whole-call outcomes (``transient``…) before the per-row steps; a :class:`ScriptedListingBulkExecutor`
also tells which rows are already done (``already_done``), as a batched read would.

    factory = ScriptedExecutors(spec, {2: ["transient", "ok"], 3: ["row"]})
    run_work(WorkSettings(db, retry_profile="fast"), factory)
"""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence

from ledger.errors import ActionError, AuthFailure, RowFailure, SystemicFailure, Throttled, TransientFailure
from ledger.spec import ActionSpec
from ledger.work.ports import ActionResult, Executor, NoHooks, RequestHooks, RowInput

STEPS = ("ok", "skip", "row", "transient", "throttle", "systemic", "forbidden", "auth", "bug", "hang")
_STATUS = {"ok": 200, "skip": 200, "row": 400, "transient": 503, "throttle": 429, "systemic": 503,
           "forbidden": 403, "auth": 401, "bug": 200, "hang": None}


class ScriptedExecutor:
    """Plays each row's script (by line number; ``default`` for unscripted rows). Thread-safe."""

    def __init__(
        self,
        spec: ActionSpec,
        script: Mapping[int, Sequence[str]] | None = None,
        *,
        default: Sequence[str] = ("ok",),
        retry_after_s: float = 0.01,
        hang_s: float = 30.0,
    ) -> None:
        for steps in (*(script or {}).values(), default):
            unknown = set(steps) - set(STEPS)
            if unknown or not steps:
                raise ValueError(f"unknown or empty script steps: {sorted(unknown) or steps}")
        self.spec = spec
        self.script = {line: list(steps) for line, steps in (script or {}).items()}
        self.default = list(default)
        self.retry_after_s = retry_after_s
        self.hang_s = hang_s
        self.hooks: RequestHooks = NoHooks()
        self.calls: dict[int, list[RowInput]] = defaultdict(list)  # line_no → every execution of it
        self._lock = threading.Lock()
        self._unhang = threading.Event()
        self.hanging = threading.Semaphore(0)  # released once per row that starts hanging

    def release_hung(self) -> None:
        """Let every hanging row go on (it then fails with a timeout, as a cut request would)."""
        self._unhang.set()

    def _next_step(self, row: RowInput) -> str:
        with self._lock:
            self.calls[row.line_no].append(row)
            steps = self.script.get(row.line_no, self.default)
            n = len(self.calls[row.line_no])
            return steps[min(n, len(steps)) - 1]

    def execute(self, row: RowInput) -> ActionResult:
        result = self.play(self._next_step(row), row)
        if isinstance(result, Exception):
            raise result
        return result

    def play(self, step: str, row: RowInput) -> ActionResult | Exception:
        """One request of ``step`` through the hooks: its result, or the error it raises."""
        self.hooks.before_request()
        status = _STATUS[step]
        if step == "hang":
            self.hanging.release()
            self._unhang.wait(self.hang_s)
        headers = {"Retry-After": f"{self.retry_after_s:g}"} if step == "throttle" else {}
        self.hooks.after_response(status, headers, 0.0)
        return _outcome(step, row, self.retry_after_s)


def _outcome(step: str, row: RowInput, retry_after_s: float) -> ActionResult | Exception:
    what = f"line {row.line_no}"
    if step in ("ok", "skip"):
        return ActionResult("succeeded" if step == "ok" else "skipped", {"line": row.line_no, "attempt": row.attempt})
    if step == "bug":
        return ValueError(f"scripted executor bug on {what}")
    errors: dict[str, ActionError] = {
        "row": RowFailure(f"{what}: HTTP 400 bad data", code="400", http_status=400),
        "transient": TransientFailure(f"{what}: HTTP 503", http_status=503, ambiguous=True),
        "throttle": Throttled(f"{what}: HTTP 429", http_status=429, retry_after=retry_after_s),
        "systemic": SystemicFailure(f"{what}: HTTP 503 service down", http_status=503),
        "forbidden": SystemicFailure(f"{what}: HTTP 403 forbidden", http_status=403),
        "auth": AuthFailure(f"{what}: HTTP 401", http_status=401),
        "hang": TransientFailure(f"{what}: read timeout", ambiguous=True),
    }
    return errors[step]


class ScriptedBulkExecutor(ScriptedExecutor):
    """A bulk executor (``execute_many``): ``call_script`` scripts whole calls (its last step repeats;
    ``ok`` = the call is answered and each row plays its own script)."""

    def __init__(self, spec: ActionSpec, script: Mapping[int, Sequence[str]] | None = None, *,
                 call_script: Sequence[str] = ("ok",), bulk_size: int = 10, **kw: object) -> None:
        super().__init__(dataclasses.replace(spec, bulk_size=bulk_size), script, **kw)  # type: ignore[arg-type]
        self.call_script = list(call_script)
        self.bulk_calls: list[list[int]] = []  # line numbers sent in each call

    def execute_many(self, rows: Sequence[RowInput]) -> Mapping[int, ActionResult | Exception]:
        with self._lock:
            self.bulk_calls.append([r.line_no for r in rows])
            step = self.call_script[min(len(self.bulk_calls), len(self.call_script)) - 1]
        if step != "ok":
            outcome = self.play(step, rows[0])
            if isinstance(outcome, Exception):
                raise outcome
        else:
            self.hooks.before_request()
            self.hooks.after_response(200, {}, 0.0)
        return {r.row_id: _outcome(self._next_step(r), r, self.retry_after_s) for r in rows}


class ScriptedListingBulkExecutor(ScriptedBulkExecutor):
    """A bulk executor with a batched read (``already_done``): the rows in ``listed`` (line numbers) are
    shown done, ``skipped`` with no request, as SCIM's people list shows existing users."""

    def __init__(self, spec: ActionSpec, script: Mapping[int, Sequence[str]] | None = None, *,
                 listed: Sequence[int] = (), **kw: object) -> None:
        super().__init__(spec, script, **kw)  # type: ignore[arg-type]
        self.listed = set(listed)
        self.sorted: list[list[int]] = []  # line numbers given to each already_done

    def already_done(self, rows: Sequence[RowInput]) -> Mapping[int, ActionResult]:
        with self._lock:
            self.sorted.append([r.line_no for r in rows])
        return {r.row_id: ActionResult("skipped", {"reason": "listed"}) for r in rows if r.line_no in self.listed}


class ScriptedExecutors:
    """The ``ExecutorFactory`` port over one scripted executor (whatever the action)."""

    def __init__(self, executor: ScriptedExecutor) -> None:
        self.executor = executor
        self.preflights = 0

    def __call__(self, action: str, hooks: RequestHooks, timeout: tuple[float, float, float]) -> Executor:
        self.executor.hooks = hooks
        return self.executor

    def preflight(self) -> None:
        self.preflights += 1


__all__ = ["STEPS", "ScriptedBulkExecutor", "ScriptedExecutor", "ScriptedExecutors", "ScriptedListingBulkExecutor"]
