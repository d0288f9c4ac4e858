"""user.outgoing_permissions against the sandbox, and the shared permission logic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger.actions import get_spec
from ledger.actions.catalog import CALL_TYPES
from ledger.actions.permissions import (
    locked_call_types,
    permission_changes,
    profile_target,
    request_body,
    target_from_payload,
    without,
)
from ledger.errors import RowFailure


def desired_permissions(current, payload, *, flags=True):
    """The PUT body BaseExecutor.apply_permissions would send for this row, or None (skipped)."""
    target = target_from_payload(payload)
    changes = permission_changes(current, without(target, locked_call_types(current, target)), flags=flags)
    return request_body(changes, flags=flags) if changes else None


@pytest.fixture
def calling_user(sandbox):
    loc = sandbox.state.add_location("HQ", calling_enabled=True)
    pid = sandbox.state.add_person("ana@example.com", "Ana", "Ruiz", location_id=loc, extension="1001", calling=True)
    sandbox.log.clear()
    return pid


def _perm(state: dict, call_type: str) -> tuple[str, bool]:
    entry = next(p for p in state["callingPermissions"] if p["callType"] == call_type)
    return entry["action"], entry["transferEnabled"]


def _set(state: dict, call_type: str, action: str, transfer: bool) -> None:
    entry = next(p for p in state["callingPermissions"] if p["callType"] == call_type)
    entry.update(action=action, transferEnabled=transfer)


def test_catalog_call_types_are_the_documented_enum():
    from ledger.sandbox import contract

    eps = contract.load()["endpoints"]
    for key in (
        "PUT /v1/people/{personId}/features/outgoingPermission",
        "PUT /v1/workspaces/{workspaceId}/features/outgoingPermission",
        "PUT /v1/telephony/config/locations/{locationId}/outgoingPermission",
    ):
        item = eps[key]["request"]["fields"]["callingPermissions"]["items"]["fields"]
        assert set(CALL_TYPES) == set(item["callType"]["enum"]), key
    assert get_spec("user.outgoing_permissions").column("call_type").choices == CALL_TYPES


@pytest.mark.parametrize("spelling", ["LOCAL", "TOLL"])
def test_wxc_sdk_only_call_types_are_invalid_at_import_listing_the_valid_ones(tmp_path, spelling):
    from ledger.importing.validate import parse_profile as import_profile
    from ledger.actions.catalog import PERMISSION_ACTIONS
    from ledger.errors import InputError
    from ledger.importing.normalize import normalizer_for

    with pytest.raises(ValueError, match="NATIONAL") as err:
        normalizer_for(get_spec("user.outgoing_permissions").column("call_type"))(spelling)
    assert "INTERNAL_CALL" in str(err.value)
    path = tmp_path / "p.json"
    path.write_text('{"calling_permissions": [{"call_type": "%s", "action": "BLOCK"}]}' % spelling)
    with pytest.raises(InputError, match="NATIONAL covers"):
        import_profile(path, call_types=CALL_TYPES, actions=PERMISSION_ACTIONS)


ROW = {
    "email": "ana@example.com",
    "call_type": "INTERNATIONAL",
    "transfer_enabled": "TRUE",
    "use_custom_enabled": "FALSE",
    "use_custom_permissions": "TRUE",
}


def _permission_requests(sb):
    return [(r.method, r.body) for r in sb.requests() if r.path.endswith("/outgoingPermission")]


def test_first_attempt_writes_what_the_row_sets_without_reading(sandbox, act, calling_user):
    a = act(sandbox, "user.outgoing_permissions")
    res = a.run(ROW)

    assert res.status == "succeeded" and res.result["read_first"] is False
    assert _permission_requests(sandbox) == [
        (
            "PUT",
            {
                "useCustomEnabled": False,
                "useCustomPermissions": True,
                "callingPermissions": [{"callType": "INTERNATIONAL", "action": "BLOCK", "transferEnabled": True}],
            },
        )
    ]
    state = sandbox.state.permissions_of(calling_user)
    assert state["useCustomPermissions"] is True and _perm(state, "INTERNATIONAL") == ("BLOCK", True)
    assert _perm(state, "NATIONAL") == ("ALLOW", True)  # untouched: a PUT changes the call types it lists


def test_a_row_that_keeps_a_transfer_flag_as_it_is_reads_first(sandbox, act, calling_user):
    a = act(sandbox, "user.outgoing_permissions")
    res = a.run({"email": "ana@example.com", "call_type": "NATIONAL", "action": "BLOCK"})  # no transfer_enabled

    assert res.status == "succeeded" and "read_first" not in res.result
    assert [m for m, _ in _permission_requests(sandbox)] == ["GET", "PUT"]
    assert _perm(sandbox.state.permissions_of(calling_user), "NATIONAL") == ("BLOCK", True)  # transfer kept


def test_a_locked_call_type_refused_on_the_first_write_falls_back_to_reading(sandbox, act, calling_user):
    perms = sandbox.state.permissions_of(calling_user)["callingPermissions"]
    next(p for p in perms if p["callType"] == "PREMIUM_SERVICES_I")["isCallTypeRestrictionEnabled"] = True
    a = act(sandbox, "user.outgoing_permissions")
    res = a.run({"email": "ana@example.com", "profile": {"calling_permissions": [
        {"call_type": "PREMIUM_SERVICES_I", "action": "ALLOW", "transfer_enabled": True},
        {"call_type": "TOLL_FREE", "action": "BLOCK", "transfer_enabled": False},
    ]}})

    assert res.status == "succeeded" and res.result["system_locked"] == ["PREMIUM_SERVICES_I"]
    assert [m for m, _ in _permission_requests(sandbox)] == ["PUT", "GET", "PUT"]  # refused, read, the rest
    state = sandbox.state.permissions_of(calling_user)
    assert _perm(state, "TOLL_FREE") == ("BLOCK", False)
    assert _perm(state, "PREMIUM_SERVICES_I") == ("BLOCK", False)


def test_a_rechecked_row_writes_only_what_differs(sandbox, act, calling_user):
    # sandbox default: INTERNATIONAL BLOCK without transfer, use_custom_* FALSE
    a = act(sandbox, "user.outgoing_permissions")
    res = a.executor.execute(a.row(ROW, recovered=True))

    assert res.status == "succeeded"
    assert res.result["changed"] == {
        "use_custom_permissions": True,
        "calling_permissions": {"INTERNATIONAL": {"action": "BLOCK", "transfer_enabled": True}},
    }
    # the spec's path and only documented fields (wxc_sdk 1.41 sent all 12 of its call types, LOCAL/TOLL too)
    assert a.bodies("PUT", f"/people/{calling_user}/features/outgoingPermission") == [
        {
            "useCustomPermissions": True,
            "callingPermissions": [{"callType": "INTERNATIONAL", "action": "BLOCK", "transferEnabled": True}],
        }
    ]
    state = sandbox.state.permissions_of(calling_user)
    assert state["useCustomPermissions"] is True and state["useCustomEnabled"] is False
    assert _perm(state, "INTERNATIONAL") == ("BLOCK", True)
    assert _perm(state, "NATIONAL") == ("ALLOW", True)  # untouched


def test_rerun_sends_one_put_and_a_recovered_row_writes_nothing(sandbox, act, calling_user):
    row = {
        "email": "ana@example.com",
        "call_type": "NATIONAL",
        "action": "BLOCK",
        "transfer_enabled": "FALSE",
        "use_custom_permissions": "TRUE",
    }
    assert act(sandbox, "user.outgoing_permissions").run(row).status == "succeeded"
    sandbox.log.clear()
    again = act(sandbox, "user.outgoing_permissions")
    assert again.run(row).status == "succeeded"  # a first attempt: the idempotent PUT alone
    assert [m for m, _ in _permission_requests(sandbox)] == ["PUT"]
    sandbox.log.clear()
    res = again.executor.execute(again.row(row, recovered=True))
    assert res.status == "skipped" and res.result["reason"] == "permissions_already_set"
    assert again.writes() == []


def test_profile_applies_and_row_columns_override_it(sandbox, act, calling_user):
    profile = {
        "use_custom_enabled": True,
        "use_custom_permissions": True,
        "calling_permissions": [
            {"call_type": "INTERNAL_CALL", "action": "ALLOW", "transfer_enabled": True},
            {"call_type": "TOLL_FREE", "action": "BLOCK", "transfer_enabled": False},
            {"call_type": "PREMIUM_SERVICES_I", "action": "BLOCK", "transfer_enabled": False},  # already so
        ],
    }
    a = act(sandbox, "user.outgoing_permissions")
    row = {"email": "ana@example.com", "profile": profile, "use_custom_enabled": "FALSE"}
    first = act(sandbox, "user.outgoing_permissions").run(row)  # first attempt: all the profile sets
    assert first.status == "succeeded"
    (sent,) = a.bodies("PUT", "/outgoingPermission")
    assert sent["useCustomEnabled"] is False and sent["useCustomPermissions"] is True
    assert [p["callType"] for p in sent["callingPermissions"]] == ["INTERNAL_CALL", "PREMIUM_SERVICES_I", "TOLL_FREE"]
    sandbox.state.permissions_of(calling_user).update(useCustomEnabled=False, useCustomPermissions=False)
    _set(sandbox.state.permissions_of(calling_user), "TOLL_FREE", "ALLOW", True)
    sandbox.log.clear()

    res = a.executor.execute(a.row(row, recovered=True))  # a re-check reads: only what differs is sent

    assert res.status == "succeeded"
    (body,) = a.bodies("PUT", "/outgoingPermission")
    assert "useCustomEnabled" not in body  # the row's FALSE beat the profile's true: unchanged, not sent
    assert body["useCustomPermissions"] is True
    assert [p["callType"] for p in body["callingPermissions"]] == ["TOLL_FREE"]  # only what differs
    state = sandbox.state.permissions_of(calling_user)
    assert _perm(state, "TOLL_FREE") == ("BLOCK", False)
    sandbox.log.clear()
    assert a.executor.execute(a.row(row, recovered=True)).status == "skipped"
    assert a.writes() == []


def test_v21_profile_call_types_are_rejected_before_any_call(sandbox, act, calling_user):
    profile = {"calling_permissions": [{"call_type": "INTERNAL", "action": "ALLOW", "transfer_enabled": True}]}
    with pytest.raises(RowFailure, match="INTERNAL_CALL") as err:
        act(sandbox, "user.outgoing_permissions").run({"email": "ana@example.com", "profile": profile})
    assert err.value.code == "invalid_call_type"
    assert sandbox.requests() == []


def test_nothing_to_set_is_a_row_failure(sandbox, act, calling_user):
    with pytest.raises(RowFailure, match="nothing to set"):
        act(sandbox, "user.outgoing_permissions").run({"email": "ana@example.com"})


def test_dry_run_writes_nothing(sandbox, act, calling_user):
    a = act(sandbox, "user.outgoing_permissions", dry_run=True)
    res = a.run(
        {"email": "ana@example.com", "call_type": "INTERNATIONAL", "action": "ALLOW", "transfer_enabled": "TRUE"}
    )
    assert res.status == "succeeded"
    assert res.planned == {"calling_permissions": {"INTERNATIONAL": {"action": "ALLOW", "transfer_enabled": True}}}
    assert a.writes() == []
    assert _perm(sandbox.state.permissions_of(calling_user), "INTERNATIONAL") == ("BLOCK", False)


def test_unknown_user_is_a_row_failure(sandbox, act, calling_user):
    with pytest.raises(RowFailure, match="unknown user 'ghost@example.com'"):
        act(sandbox, "user.outgoing_permissions").run({"email": "ghost@example.com", "call_type": "NATIONAL"})


def test_unknown_person_id_is_a_row_failure(sandbox, act, calling_user):
    from ledger.sandbox.ids import make_id

    with pytest.raises(RowFailure) as err:
        act(sandbox, "user.outgoing_permissions").run({"person_id": make_id("PEOPLE"), "call_type": "NATIONAL"})
    assert err.value.http_status == 404


# --- the shared, entity-agnostic logic -------------------------------------------------------------


def _current(**overrides):
    data = {
        "useCustomEnabled": True,
        "useCustomPermissions": True,
        "callingPermissions": [
            {"callType": "INTERNATIONAL", "action": "BLOCK", "transferEnabled": False},
            {"callType": "NATIONAL", "action": "ALLOW", "transferEnabled": True},
        ],
    }
    data.update(overrides)
    return data


def test_desired_is_none_when_equal_and_missing_transfer_keeps_current():
    assert desired_permissions(_current(), {"call_type": "NATIONAL", "action": "ALLOW"}) is None
    assert desired_permissions(_current(), {"use_custom_enabled": True}) is None


def test_desired_for_a_call_type_absent_from_the_current_settings():
    desired = desired_permissions(_current(), {"call_type": "TOLL_FREE", "action": "ALLOW"})
    assert desired == {"callingPermissions": [{"callType": "TOLL_FREE", "action": "ALLOW", "transferEnabled": True}]}


def test_location_bodies_carry_calling_permissions_only():
    row = {"call_type": "TOLL_FREE", "action": "BLOCK", "use_custom_enabled": False}
    assert desired_permissions(_current(), row, flags=False) == {
        "callingPermissions": [{"callType": "TOLL_FREE", "action": "BLOCK", "transferEnabled": False}]
    }
    assert desired_permissions(_current(), {"call_type": "NATIONAL", "action": "ALLOW",
                                            "use_custom_enabled": False}, flags=False) is None


def test_camel_case_profile_dumped_from_webex_is_accepted():
    target = profile_target(
        {
            "useCustomEnabled": True,
            "callingPermissions": [{"callType": "NATIONAL", "action": "BLOCK", "transferEnabled": False}],
        }
    )
    assert target.use_custom_enabled is True
    assert target.calling_permissions["NATIONAL"].action == "BLOCK"


@pytest.mark.parametrize(
    "profile, message",
    [
        ([], "JSON object"),
        ({"calling_permissions": {"x": 1}}, "must be a list"),
        ({"calling_permissions": [{"call_type": "MOBILE", "action": "ALLOW"}]}, "MOBILE"),
        ({"calling_permissions": [{"call_type": "LOCAL", "action": "ALLOW"}]}, "NATIONAL covers"),
        ({"calling_permissions": [{"call_type": "NATIONAL", "action": "MAYBE"}]}, "unknown permission action"),
        ({"use_custom_enabled": "perhaps"}, "not a boolean"),
    ],
)
def test_invalid_profiles_are_row_failures(profile, message):
    with pytest.raises(RowFailure, match=message):
        profile_target(profile)


# --- property: writing what desired_permissions returns makes the next comparison equal --------------

_CT = sorted(CALL_TYPES)
_ACTIONS = ["ALLOW", "BLOCK", "AUTH_CODE", "TRANSFER_NUMBER_1"]
_entry = st.fixed_dictionaries({"action": st.sampled_from(_ACTIONS), "transferEnabled": st.booleans()})
_current_st = st.fixed_dictionaries(
    {
        "useCustomEnabled": st.booleans(),
        "useCustomPermissions": st.booleans(),
        "callingPermissions": st.dictionaries(st.sampled_from(_CT), _entry, max_size=6),
    }
)
_row_st = st.fixed_dictionaries(
    {},
    optional={
        "call_type": st.sampled_from(_CT),
        "action": st.sampled_from(_ACTIONS),
        "transfer_enabled": st.booleans(),
        "use_custom_enabled": st.booleans(),
        "use_custom_permissions": st.booleans(),
        "profile": st.fixed_dictionaries(
            {
                "calling_permissions": st.lists(
                    st.fixed_dictionaries(
                        {"call_type": st.sampled_from(_CT), "action": st.sampled_from(_ACTIONS)},
                        optional={"transfer_enabled": st.booleans()},
                    ),
                    max_size=4,
                )
            },
            optional={"use_custom_enabled": st.booleans()},
        ),
    },
)


def _apply(current: dict, put: dict) -> dict:
    """What Webex (and the sandbox) do with a PUT: flags replaced, listed call types replaced."""
    out = {**current, "callingPermissions": dict(current["callingPermissions"])}
    for key in ("useCustomEnabled", "useCustomPermissions"):
        if put.get(key) is not None:
            out[key] = put[key]
    for p in put.get("callingPermissions") or []:
        out["callingPermissions"][p["callType"]] = {"action": p["action"], "transferEnabled": p["transferEnabled"]}
    return out


def _model(state: dict) -> dict:
    """The JSON Webex answers for ``state``."""
    perms = [{"callType": ct, **p} for ct, p in state["callingPermissions"].items()]
    return {**state, "callingPermissions": perms}


def _holds(state: dict, row: dict) -> bool:
    """Does ``state`` already satisfy ``row`` (profile overridden by the row's columns)? Written independently."""
    profile = row.get("profile") or {}
    wanted = {p["call_type"]: (p["action"], p.get("transfer_enabled")) for p in profile.get("calling_permissions", [])}
    if row.get("call_type"):
        wanted[row["call_type"]] = (row.get("action") or "BLOCK", row.get("transfer_enabled"))
    flags = {"useCustomEnabled": profile.get("use_custom_enabled")}
    flags["useCustomEnabled"] = row.get("use_custom_enabled", flags["useCustomEnabled"])
    flags["useCustomPermissions"] = row.get("use_custom_permissions")
    if any(v is not None and state[k] != v for k, v in flags.items()):
        return False
    for ct, (action, transfer) in wanted.items():
        now = state["callingPermissions"].get(ct)
        if now is None or now["action"] != action or (transfer is not None and now["transferEnabled"] != transfer):
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(_current_st, _row_st)
def test_writing_the_desired_model_reaches_the_target(current, row):
    try:
        desired = desired_permissions(_model(current), row)
    except RowFailure as exc:
        assert "nothing to set" in str(exc)
        return
    if desired is None:
        assert _holds(current, row)
        return
    assert not _holds(current, row)
    after = _apply(current, desired)
    assert _holds(after, row)
    assert desired_permissions(_model(after), row) is None
    # nothing the row did not ask for changed
    asked = {row["call_type"]} if row.get("call_type") else set()
    asked |= {p["call_type"] for p in (row.get("profile") or {}).get("calling_permissions", [])}
    for ct, before in current["callingPermissions"].items():
        if ct not in asked:
            assert after["callingPermissions"][ct] == before
