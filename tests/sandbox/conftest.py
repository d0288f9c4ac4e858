"""Fixtures for the sandbox tests: the real wxc_sdk pointed at a real local Sandbox over HTTP."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from wxc_sdk import WebexSimpleApi

from ledger.sandbox import Sandbox
from ledger.sandbox.testing import sandbox, sandbox_factory, wire_sdk  # noqa: F401  (fixtures)


def make_api(sb: Sandbox, token: str | None = None) -> WebexSimpleApi:
    """A WebexSimpleApi aimed at the sandbox, SCIM included (wxc_sdk hard-codes webexapis.com for SCIM)."""
    return wire_sdk(WebexSimpleApi(tokens=token or sb.token, retry_429=False), sb)


@pytest.fixture
def api(sandbox: Sandbox) -> WebexSimpleApi:  # noqa: F811
    return make_api(sandbox)


@pytest.fixture
def api_factory() -> Callable[..., WebexSimpleApi]:
    return make_api


@pytest.fixture
def calling_loc(sandbox: Sandbox) -> Iterator[str]:  # noqa: F811
    """A calling-enabled location (country ES) with 5 numbers +34931000000..4 in its inventory."""
    lid = sandbox.state.add_location("HQ", calling_enabled=True, routing_prefix="81")
    for i in range(5):
        sandbox.state.add_number(lid, f"+3493100000{i}")
    yield lid
