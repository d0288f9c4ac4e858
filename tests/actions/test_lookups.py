"""Lookups by email / name: a found id is kept for the run, "not found" only briefly (issue 11)."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _people_lookups(sb, email):
    return [r for r in sb.requests() if r.path == "/v1/people" and r.query.get("email") == email]


@pytest.fixture
def loc(sandbox):
    lid = sandbox.state.add_location("HQ", calling_enabled=True)
    sandbox.log.clear()
    return lid


def test_user_created_later_in_the_run_is_found_after_the_short_not_found_time(sandbox, act, loc):
    """Old code cached "not found" for the whole run: the user created by another admin (or an
    earlier step) after the first miss stayed unknown until the next run."""
    a = act(sandbox, "user.forwarding")
    clock = a.executor.clock = Clock()
    with pytest.raises(RowFailure) as err:
        a.run({"email": "late@example.com", "extension": "1001"})
    assert err.value.code == "unknown_user"
    # within the short time: answered from the cache, no second request
    with pytest.raises(RowFailure):
        a.run({"email": "late@example.com", "extension": "1001"})
    assert len(_people_lookups(sandbox, "late@example.com")) == 1

    sandbox.state.add_person("late@example.com", "Late", "User", location_id=loc, extension="1001", calling=True)
    clock.now += a.executor.not_found_ttl_s
    res = a.run({"email": "late@example.com", "extension": "1001"})
    assert res.status == "succeeded"
    assert len(_people_lookups(sandbox, "late@example.com")) == 2


def test_found_ids_are_kept_for_the_run(sandbox, act, loc):
    sandbox.state.add_person("ana@example.com", "Ana", "Ruiz", location_id=loc, extension="1002", calling=True)
    a = act(sandbox, "user.forwarding")
    a.executor.clock = clock = Clock()
    a.run({"email": "ana@example.com", "extension": "1002"})
    clock.now += 10 * a.executor.not_found_ttl_s
    a.run({"email": "ana@example.com", "extension": "1002"})
    assert len(_people_lookups(sandbox, "ana@example.com")) == 1


def test_location_created_later_in_the_run_is_found(sandbox, act):
    a = act(sandbox, "location.internal_dialing")
    a.executor.clock = clock = Clock()
    row = {"name": "NEWSITE", "enable_unknown_extension_route_policy": "FALSE"}
    with pytest.raises(RowFailure) as err:
        a.run(row)
    assert err.value.code == "unknown_location"
    sandbox.state.add_location("NEWSITE", calling_enabled=True)
    clock.now += a.executor.not_found_ttl_s
    assert a.run(row).status in ("succeeded", "skipped")
