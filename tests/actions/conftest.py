"""Fixtures for the action tests: a real sandbox, the real wxc_sdk, real executors.

``act(sb, "user.forwarding")`` builds the action's executor (as ``ledger work`` does: spec from the
registry, ``make_api(token, sb.base_url)``, a per-run ``ResolveCache``) and runs raw CSV-like rows
through the importer's normalisers, so the executor sees production-shaped payloads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from ledger.actions import get_spec
from ledger.actions.client import make_api
from ledger.actions.runtime import executor_class
from ledger.importing.normalize import normalizer_for
from ledger.work.ports import ActionResult, ResolveCache, RowInput
from ledger.sandbox import Sandbox
from ledger.sandbox import testing as sandbox_testing
from ledger.sandbox.testing import sandbox, sandbox_factory  # noqa: F401 - fixtures

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def normalise(action: str, raw: Mapping[str, Any], global_row: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Like ``ledger import``: global values under the row, defaults applied, cells normalised."""
    spec = get_spec(action)
    out: dict[str, Any] = {}
    for key, value in {**(global_row or {}), **raw}.items():
        try:
            col = spec.column(key)
        except KeyError:
            out[key] = value
            continue
        if isinstance(value, str):
            value = value.strip() or col.default
            if value is None:
                continue
            value = normalizer_for(col)(value)
        out[key] = value
    for col in spec.columns:
        if col.name not in out and col.default is not None:
            out[col.name] = normalizer_for(col)(col.default)
    return out


class Act:
    """One run of one action against one sandbox (a new Act = a new run with a fresh cache)."""

    def __init__(self, sb: Sandbox, action: str, *, dry_run: bool = False, cache: ResolveCache | None = None):
        self.sb = sb
        self.spec = get_spec(action)
        self.cache = cache or ResolveCache()
        self.api = make_api(sb.token, sb.base_url)
        self.executor = executor_class(self.spec)(self.spec, self.api, cache=self.cache, dry_run=dry_run)
        self._next = 0

    def row(
        self,
        raw: Mapping[str, Any],
        global_row: Mapping[str, Any] | None = None,
        *,
        line_no: int | None = None,
        row_id: int | None = None,
        attempt: int = 1,
        recovered: bool = False,
    ) -> RowInput:
        self._next += 1
        return RowInput(
            row_id=row_id if row_id is not None else self._next,
            line_no=line_no if line_no is not None else self._next + 1,
            action=self.spec.name,
            payload=normalise(self.spec.name, raw, global_row),
            attempt=attempt,
            recovered=recovered,
        )

    def run(self, raw: Mapping[str, Any], global_row: Mapping[str, Any] | None = None, **kw: Any) -> ActionResult:
        return self.executor.execute(self.row(raw, global_row, **kw))

    def run_many(self, rows: Sequence[RowInput]) -> Mapping[int, ActionResult | Exception]:
        return self.executor.execute_many(rows)

    # --- what the sandbox received ----------------------------------------------------------
    def writes(self) -> list[tuple[str, str, Any]]:
        return [(r.method, r.path, r.body) for r in self.sb.requests() if r.method in WRITE_METHODS]

    def bodies(self, method: str, suffix: str) -> list[Any]:
        return [r.body for r in self.sb.requests() if r.method == method and r.path.rstrip("/").endswith(suffix)]


class LoseNth:
    """RequestHooks that make the sandbox apply the n-th request but drop its answer ('lost' fault).

    This is an ambiguous write for real: Webex changed, the client saw a connection reset.
    """

    def __init__(self, sb: Sandbox, n: int) -> None:
        self.sb, self.n, self.count = sb, n, 0

    def before_request(self) -> None:
        from ledger.sandbox import FaultConfig

        self.count += 1
        self.sb.faults = FaultConfig(plost=1.0) if self.count == self.n else FaultConfig()

    def after_response(self, status: int | None, headers: Mapping[str, str], elapsed_s: float) -> None:
        return None


def lose_nth(a: Act, n: int) -> LoseNth:
    """Rebuild ``a``'s Webex client so that its n-th request from now on is applied but unanswered."""
    hooks = LoseNth(a.sb, n)
    a.api = make_api(a.sb.token, a.sb.base_url, hooks=hooks)
    a.executor.api = a.api
    return hooks


@pytest.fixture(autouse=True)
def requests_within_contract() -> Iterator[None]:
    """Every action test fails when an action called an endpoint the Webex contract does not have
    (ledger/sandbox/contract.json), sent a request the contract refuses (missing required field,
    unknown field, undocumented enum), or when the sandbox answered with a status or a field the
    contract does not have: the request logs of the sandboxes the test started are checked."""
    before = len(sandbox_testing.STARTED)
    yield
    started = sandbox_testing.STARTED[before:]
    gaps = sorted({gap for sb in started for gap in sandbox_testing.contract_gaps(sb)})
    invented = sorted({p for sb in started for p in sandbox_testing.contract_response_problems(sb)})
    refused = sorted({f"{r.method} {r.path}: {r.response}" for sb in started for r in sb.requests()
                      if r.fault == "contract"})
    del sandbox_testing.STARTED[before:]
    assert not gaps, f"endpoints called that are not in the Webex contract: {gaps}"
    assert not refused, f"requests the Webex contract refuses (400): {refused}"
    assert not invented, f"sandbox answers outside the Webex contract: {invented}"


@pytest.fixture
def act() -> Callable[..., Act]:
    return Act


@pytest.fixture
def lose() -> Callable[[Act, int], LoseNth]:
    return lose_nth
