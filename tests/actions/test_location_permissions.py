"""location.outgoing_permissions against the sandbox: shared permission logic, UUID path, minimal PUT."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure
from ledger.sandbox import errors as sandbox_errors
from ledger.sandbox import ids

SITE = "CUV93470292900"
PROFILE = {
    "use_custom_enabled": True,
    "use_custom_permissions": True,
    "calling_permissions": [
        {"call_type": "INTERNAL_CALL", "action": "ALLOW", "transfer_enabled": True},
        {"call_type": "NATIONAL", "action": "ALLOW", "transfer_enabled": True},
        {"call_type": "INTERNATIONAL", "action": "BLOCK", "transfer_enabled": False},
        {"call_type": "PREMIUM_SERVICES_I", "action": "BLOCK", "transfer_enabled": True},
    ],
}


@pytest.fixture
def loc(sandbox):
    lid = sandbox.state.add_location(SITE, calling_enabled=True)
    sandbox.log.clear()
    return lid


def perm(sandbox, lid, call_type):
    entries = sandbox.state.permissions_of(lid)["callingPermissions"]
    return next((e["action"], e["transferEnabled"]) for e in entries if e["callType"] == call_type)


def test_profile_sends_only_what_differs_on_the_uuid_path(sandbox, act, loc):
    a = act(sandbox, "location.outgoing_permissions")
    res = a.run({"name": SITE, "profile": PROFILE})

    assert res.status == "succeeded"
    # the default location permissions already allow INTERNAL_CALL/NATIONAL and block INTERNATIONAL
    assert a.writes() == [
        (
            "PUT",
            f"/v1/telephony/config/locations/{ids.key(loc)}/outgoingPermission",
            {
                "useCustomEnabled": True,
                "useCustomPermissions": True,
                "callingPermissions": [
                    {"action": "BLOCK", "transferEnabled": True, "isCallTypeRestrictionEnabled": None,
                     "callType": "PREMIUM_SERVICES_I"}
                ],
            },
        )
    ]
    state = sandbox.state.permissions_of(loc)
    assert (state["useCustomEnabled"], state["useCustomPermissions"]) == (True, True)
    assert perm(sandbox, loc, "PREMIUM_SERVICES_I") == ("BLOCK", True)
    assert perm(sandbox, loc, "INTERNATIONAL") == ("BLOCK", False)


def test_second_run_is_skipped_without_writes(sandbox, act, loc):
    act(sandbox, "location.outgoing_permissions").run({"name": SITE, "profile": PROFILE})
    sandbox.log.clear()
    again = act(sandbox, "location.outgoing_permissions")

    res = again.run({"name": SITE, "profile": PROFILE})

    assert res.status == "skipped"
    assert again.writes() == []


def test_row_columns_override_the_profile(sandbox, act, loc):
    a = act(sandbox, "location.outgoing_permissions")
    res = a.run({"name": SITE, "profile": PROFILE, "call_type": "INTERNATIONAL", "action": "ALLOW",
                 "transfer_enabled": "TRUE"})
    assert res.status == "succeeded"
    assert perm(sandbox, loc, "INTERNATIONAL") == ("ALLOW", True)


def test_v21_call_type_names_are_a_row_error_before_any_call(sandbox, act, loc):
    bad = {"calling_permissions": [{"call_type": "INTERNAL", "action": "ALLOW", "transfer_enabled": True}]}
    a = act(sandbox, "location.outgoing_permissions")
    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "profile": bad})
    assert "INTERNAL" in err.value.message and "INTERNAL_CALL" in err.value.message
    assert sandbox.requests() == []


def test_base64_path_is_used_when_the_uuid_form_is_refused(sandbox, act, loc):
    """Real Webex documents the base64 id; v21 found the UUID form needed. Either works here."""
    original = sandbox.state.get_location

    def base64_only(lid):
        if ids.decode(lid) is None:
            raise sandbox_errors.not_found("Location", lid)
        return original(lid)

    sandbox.state.get_location = base64_only
    a = act(sandbox, "location.outgoing_permissions")

    assert a.run({"name": SITE, "profile": PROFILE}).status == "succeeded"
    (put,) = [w for w in a.writes() if w[0] == "PUT"]
    assert put[1] == f"/v1/telephony/config/locations/{loc}/outgoingPermission"
    # the form that worked is remembered for the rest of the run: one GET per later row
    sandbox.log.clear()
    a.run({"name": SITE, "profile": PROFILE})
    gets = [r.path for r in sandbox.requests() if r.path.endswith("/outgoingPermission")]
    assert gets == [f"/v1/telephony/config/locations/{loc}/outgoingPermission"]


def test_non_calling_location_is_a_row_error(sandbox, act):
    sandbox.state.add_location("OFF", calling_enabled=False)
    a = act(sandbox, "location.outgoing_permissions")
    with pytest.raises(RowFailure) as err:
        a.run({"name": "OFF", "profile": PROFILE})
    assert err.value.code == "location_not_calling"
    assert a.writes() == []


def test_dry_run_writes_nothing(sandbox, act, loc):
    a = act(sandbox, "location.outgoing_permissions", dry_run=True)
    res = a.run({"name": SITE, "profile": PROFILE})
    assert res.status == "succeeded"
    assert res.planned == {
        "use_custom_enabled": True,
        "use_custom_permissions": True,
        "calling_permissions": {"PREMIUM_SERVICES_I": {"action": "BLOCK", "transfer_enabled": True}},
    }
    assert a.writes() == []
    assert sandbox.state.permissions_of(loc)["useCustomEnabled"] is False
