"""user.secondary_number against the sandbox."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ledger.actions.users import UserSecondaryNumber
from ledger.errors import RowFailure

NUMBER = "+34935550101"


@pytest.fixture
def calling_user(sandbox):
    loc = sandbox.state.add_location("HQ", calling_enabled=True)
    sandbox.state.add_number(loc, NUMBER)
    pid = sandbox.state.add_person("ana@example.com", "Ana", "Ruiz", location_id=loc, extension="1001", calling=True)
    sandbox.log.clear()
    return pid


def _alternates(sb, pid):
    return [a["directNumber"] for a in sb.state.get_person(pid)["_features"]["alternates"]]


def test_adds_the_number_as_non_primary(sandbox, act, calling_user):
    a = act(sandbox, "user.secondary_number")
    res = a.run({"email": "ana@example.com", "legacy_phone_number": "34935550101"})  # '+' restored at import

    assert res.status == "succeeded"
    assert res.result == {"changed": {"add_number": NUMBER, "primary": False}, "person_id": calling_user}
    assert a.bodies("PUT", f"/telephony/config/people/{calling_user}/numbers") == [
        {"phoneNumbers": [{"primary": False, "action": "ADD", "external": NUMBER}]}
    ]
    assert _alternates(sandbox, calling_user) == [NUMBER]


def test_second_run_writes_nothing(sandbox, act, calling_user):
    act(sandbox, "user.secondary_number").run({"email": "ana@example.com", "legacy_phone_number": NUMBER})
    sandbox.log.clear()
    again = act(sandbox, "user.secondary_number")
    res = again.run({"email": "ana@example.com", "legacy_phone_number": NUMBER})
    assert res.status == "skipped" and res.result["reason"] == "number_already_present"
    assert again.writes() == []
    assert _alternates(sandbox, calling_user) == [NUMBER]


def test_the_primary_direct_number_counts_as_present(sandbox, act):
    loc = sandbox.state.add_location("HQ", calling_enabled=True)
    sandbox.state.add_person(
        "bob@example.com", "Bob", "B", location_id=loc, extension="1002", calling=True, phone_number=NUMBER
    )
    a = act(sandbox, "user.secondary_number")
    assert a.run({"email": "bob@example.com", "legacy_phone_number": NUMBER}).status == "skipped"
    assert a.writes() == []


def test_number_reported_as_external_counts_as_present():
    """Workspaces (and possibly people) report the number as `external`, not `directNumber` (v21 bug)."""
    entry = SimpleNamespace(direct_number=None, model_extra={"external": NUMBER})
    assert UserSecondaryNumber._holds(entry, NUMBER)
    assert not UserSecondaryNumber._holds(SimpleNamespace(direct_number="+34935550102", model_extra={}), NUMBER)


def test_number_not_in_the_location_is_a_row_failure(sandbox, act, calling_user):
    with pytest.raises(RowFailure, match="not found in the location") as err:
        act(sandbox, "user.secondary_number").run({"email": "ana@example.com", "legacy_phone_number": "+34935559999"})
    assert err.value.http_status == 400 and err.value.code == "4727"
    assert err.value.detail["reason"] == "number_not_available"


def test_non_calling_user_is_a_row_failure(sandbox, act):
    sandbox.state.add_person("plain@example.com", "P", "U")
    with pytest.raises(RowFailure, match="Calling") as err:
        act(sandbox, "user.secondary_number").run({"email": "plain@example.com", "legacy_phone_number": NUMBER})
    assert err.value.code == "1026010"


def test_unknown_user_is_a_row_failure(sandbox, act, calling_user):
    with pytest.raises(RowFailure, match="unknown user 'ghost@example.com'"):
        act(sandbox, "user.secondary_number").run({"email": "ghost@example.com", "legacy_phone_number": NUMBER})


def test_dry_run_writes_nothing(sandbox, act, calling_user):
    a = act(sandbox, "user.secondary_number", dry_run=True)
    res = a.run({"email": "ana@example.com", "legacy_phone_number": NUMBER})
    assert res.status == "succeeded" and res.planned == {"add_number": NUMBER, "primary": False}
    assert a.writes() == []
    assert _alternates(sandbox, calling_user) == []
