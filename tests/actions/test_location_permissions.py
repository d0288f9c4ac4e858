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
    # the default location permissions already allow INTERNAL_CALL/NATIONAL and block INTERNATIONAL;
    # a location has callingPermissions only: the profile's use-custom flags are not sent (contract)
    assert a.writes() == [
        (
            "PUT",
            f"/v1/telephony/config/locations/{ids.key(loc)}/outgoingPermission",
            {"callingPermissions": [{"callType": "PREMIUM_SERVICES_I", "action": "BLOCK", "transferEnabled": True}]},
        )
    ]
    assert "useCustomEnabled" not in sandbox.state.permissions_of(loc)
    assert "use_custom" in res.result["ignored"]
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
        "calling_permissions": {"PREMIUM_SERVICES_I": {"action": "BLOCK", "transfer_enabled": True}},
    }
    assert a.writes() == []


def test_unchanged_location_is_skipped_although_the_profile_has_use_custom_flags(sandbox, act, loc):
    """Old code compared the location's (absent) useCustom* flags with the profile's: never equal,
    so an unchanged location was written again on every run (and the PUT refused by the contract)."""
    unchanged = {**PROFILE, "calling_permissions": PROFILE["calling_permissions"][:3]}
    a = act(sandbox, "location.outgoing_permissions")
    res = a.run({"name": SITE, "profile": unchanged})
    assert res.status == "skipped" and res.result["reason"] == "permissions_already_set"
    assert a.writes() == []


def test_system_locked_call_type_is_left_alone_and_said(sandbox, act, loc):
    for entry in sandbox.state.permissions_of(loc)["callingPermissions"]:
        if entry["callType"] == "PREMIUM_SERVICES_I":
            entry["isCallTypeRestrictionEnabled"] = True
    a = act(sandbox, "location.outgoing_permissions")
    res = a.run({"name": SITE, "profile": PROFILE, "call_type": "INTERNATIONAL", "action": "ALLOW"})
    assert res.status == "succeeded"
    assert res.result["system_locked"] == ["PREMIUM_SERVICES_I"] and "left alone" in res.result["note"]
    (put,) = a.writes()
    assert [p["callType"] for p in put[2]["callingPermissions"]] == ["INTERNATIONAL"]
    assert perm(sandbox, loc, "PREMIUM_SERVICES_I") == ("BLOCK", False)


def test_only_locked_call_types_differ_ends_skipped_saying_so(sandbox, act, loc):
    for entry in sandbox.state.permissions_of(loc)["callingPermissions"]:
        if entry["callType"] == "INTERNATIONAL":
            entry["isCallTypeRestrictionEnabled"] = True
    a = act(sandbox, "location.outgoing_permissions")
    res = a.run({"name": SITE, "call_type": "INTERNATIONAL", "action": "ALLOW"})
    assert res.status == "skipped" and res.result["reason"] == "call_types_system_locked"
    assert res.result["system_locked"] == ["INTERNATIONAL"]
    assert a.writes() == []


def test_sandbox_refuses_a_change_to_a_locked_call_type(sandbox, loc):
    import requests

    for entry in sandbox.state.permissions_of(loc)["callingPermissions"]:
        if entry["callType"] == "INTERNATIONAL":
            entry["isCallTypeRestrictionEnabled"] = True
    r = requests.put(
        f"{sandbox.base_url}/telephony/config/locations/{loc}/outgoingPermission",
        json={"callingPermissions": [{"callType": "INTERNATIONAL", "action": "ALLOW", "transferEnabled": True}]},
        headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=5,
    )
    assert r.status_code == 400 and "INTERNATIONAL" in r.json()["errors"][0]["description"]
