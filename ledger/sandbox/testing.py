"""Pytest fixtures: ``from ledger.sandbox.testing import sandbox, sandbox_factory`` in a conftest."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from .server import Sandbox

#: every Sandbox the fixtures started, in order (tests/actions checks their request logs against the contract)
STARTED: list[Sandbox] = []


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh Sandbox (default org + licences, token "test-token") on a free port."""
    sb = Sandbox(token="test-token", seed=1).start()
    STARTED.append(sb)
    try:
        yield sb
    finally:
        sb.stop()
    assert_indexes(sb)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """A callable taking Sandbox kwargs and returning a started Sandbox; all are stopped at teardown."""
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        kwargs.setdefault("token", "test-token")
        sb = Sandbox(**kwargs).start()
        started.append(sb)
        STARTED.append(sb)
        return sb

    try:
        yield make
    finally:
        for sb in started:
            sb.stop()
    for sb in started:
        assert_indexes(sb)


def assert_indexes(sb: Sandbox) -> None:
    """Fail when a state mutation forgot to reindex what it changed (see ``state/indexes.py``)."""
    stale = sb.state.check_indexes()
    assert not stale, f"sandbox indexes out of date (a mutation must call reindex): {stale}"


def wire_sdk(api: Any, sb: Sandbox) -> Any:
    """Point a ``wxc_sdk.WebexSimpleApi`` at ``sb`` (test helper; duck-typed, no wxc_sdk import).

    Sets ``api.session.BASE`` and redirects the SCIM children, whose ``ep()`` hard-codes webexapis.com."""
    api.session.BASE = sb.base_url
    scim_base = sb.scim_url
    scim = getattr(api, "scim", None)
    for name in ("users", "bulk", "groups"):
        child = getattr(scim, name, None)
        if child is not None:
            child.ep = lambda path=None, _b=scim_base: f"{_b}/{path}" if path else _b
    return api


def contract_gaps(sb: Sandbox) -> list[str]:
    """The requests in ``sb``'s log (Webex paths only) whose endpoint the contract does not have."""
    from . import contract

    gaps = {
        f"{r.method} {r.route or r.path}"
        for r in sb.requests()
        if r.path.startswith(("/v1/", "/identity/")) and contract.find(r.method, r.path) is None
    }
    return sorted(gaps)


def contract_response_problems(sb: Sandbox) -> list[str]:
    """What the answers in ``sb``'s log have that the contract does not (undocumented status, field).

    Injected faults (hang, reset, lost) have no answer and are not checked."""
    from . import contract

    out: set[str] = set()
    for r in sb.requests():
        endpoint = contract.find(r.method, r.path) if r.path.startswith(("/v1/", "/identity/")) else None
        if endpoint is None or r.status is None:
            continue
        out.update(contract.response_problems(endpoint, r.status, r.response))
    return sorted(out)
