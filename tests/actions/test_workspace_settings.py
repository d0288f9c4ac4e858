"""workspace.secondary_number / forwarding / outgoing_permissions against the sandbox."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure
from ledger.sandbox import FaultConfig

SITE = "CUV93470292900"


def seed(sb):
    st = sb.state
    loc = st.add_location(SITE, calling_enabled=True)
    st.add_number(loc, "+34935678901")
    st.add_number(loc, "+34934567890")
    ws = st.add_workspace("Sala Juntas", loc, calling="webexCalling", extension="8001", phone_number="+34935678901")
    plain = st.add_workspace("Almacén", loc)
    sb.log.clear()
    return {"loc": loc, "ws": ws, "plain": plain}


@pytest.fixture
def site(sandbox):
    return seed(sandbox)


# --- workspace.secondary_number ---------------------------------------------------------------------


def test_secondary_number_is_added_as_non_primary(sandbox, act, site):
    a = act(sandbox, "workspace.secondary_number")
    res = a.run({"workspace_name": "Sala Juntas", "location_name": SITE, "legacy_phone_number": "34934567890"})

    assert res.status == "succeeded"
    assert res.result["workspace_id"] == site["ws"]
    assert a.writes() == [
        (
            "PUT",
            f"/v1/telephony/config/workspaces/{site['ws']}/numbers",
            {"phoneNumbers": [{"primary": False, "action": "ADD", "directNumber": "+34934567890"}]},
        )
    ]
    alternates = sandbox.state.get_workspace(site["ws"])["_features"]["alternates"]
    assert [x["directNumber"] for x in alternates] == ["+34934567890"]


def test_secondary_number_present_as_external_is_skipped(sandbox, act, site):
    """v21 compared directNumber, which the model does not have: it never saw the number."""
    act(sandbox, "workspace.secondary_number").run({"workspace_name": "Sala Juntas", "legacy_phone_number": "+34934567890"})
    sandbox.log.clear()
    again = act(sandbox, "workspace.secondary_number")

    res = again.run({"workspace_name": "Sala Juntas", "legacy_phone_number": "+34934567890"})

    assert res.status == "skipped"
    assert res.result["reason"] == "number_already_present"
    assert again.writes() == []


def test_secondary_number_on_a_non_calling_workspace_is_a_row_error(sandbox, act, site):
    a = act(sandbox, "workspace.secondary_number")
    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Almacén", "legacy_phone_number": "+34934567890"})
    assert err.value.detail["reason"] == "not_calling_workspace"
    assert a.writes() == []


def test_secondary_number_not_in_the_location_is_a_row_error(sandbox, act, site):
    a = act(sandbox, "workspace.secondary_number")
    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Sala Juntas", "legacy_phone_number": "+34939999999"})
    assert err.value.http_status == 400
    assert "+34939999999" in err.value.message
    assert sandbox.state.get_workspace(site["ws"])["_features"]["alternates"] == []


def test_secondary_number_dry_run_writes_nothing(sandbox, act, site):
    a = act(sandbox, "workspace.secondary_number", dry_run=True)
    res = a.run({"workspace_name": "Sala Juntas", "legacy_phone_number": "+34934567890"})
    assert res.planned == {"add_number": "+34934567890", "primary": False}
    assert a.writes() == []


# --- workspace resolution ---------------------------------------------------------------------------


def test_unknown_workspace_is_a_row_error(sandbox, act, site):
    a = act(sandbox, "workspace.secondary_number")
    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Nope", "location_name": SITE, "legacy_phone_number": "+34934567890"})
    assert err.value.code == "unknown_workspace"
    assert SITE in err.value.message


def test_same_name_in_two_locations_needs_the_location(sandbox, act, site):
    other = sandbox.state.add_location("OTHER", calling_enabled=True)
    sandbox.state.add_workspace("Sala Juntas", other, calling="webexCalling", extension="8001")
    a = act(sandbox, "workspace.forwarding")

    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Sala Juntas", "extension": "8001"})
    assert err.value.code == "ambiguous_workspace"

    assert a.run({"workspace_name": "Sala Juntas", "location_name": SITE, "extension": "8001"}).status == "succeeded"
    (put,) = [w for w in a.writes() if w[0] == "PUT"]
    assert site["ws"] in put[1]


def test_workspace_lookup_is_cached_per_run(sandbox, act, site):
    a = act(sandbox, "workspace.outgoing_permissions")
    a.run({"workspace_name": "Sala Juntas", "call_type": "INTERNATIONAL", "action": "ALLOW"})
    a.run({"workspace_name": "Sala Juntas", "call_type": "PREMIUM_SERVICES_I", "action": "ALLOW"})
    assert len([r for r in sandbox.requests() if r.path == "/v1/workspaces"]) == 1


# --- workspace.forwarding ---------------------------------------------------------------------------


def test_forwarding_sends_the_full_object_with_the_workspace_flags(sandbox, act, site):
    a = act(sandbox, "workspace.forwarding")
    res = a.run({"workspace_name": "Sala Juntas", "extension": "8001"})

    assert res.status == "succeeded"
    assert a.writes() == [
        (
            "PUT",
            f"/v1/workspaces/{site['ws']}/features/callForwarding",
            {
                "callForwarding": {
                    "always": {"enabled": True, "destination": "538001", "destinationVoicemailEnabled": True,
                               "ringReminderEnabled": True},
                    "busy": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False},
                    "noAnswer": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False,
                                 "numberOfRings": 3},
                },
                "businessContinuity": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False},
            },
        )
    ]
    always = sandbox.state.forwarding_of(site["ws"])["callForwarding"]["always"]
    assert (always["enabled"], always["destination"], always["ringReminderEnabled"]) == (True, "538001", True)


def test_forwarding_second_run_is_skipped_without_writes(sandbox, act, site):
    act(sandbox, "workspace.forwarding").run({"workspace_name": "Sala Juntas", "destination": "530001"})
    sandbox.log.clear()
    again = act(sandbox, "workspace.forwarding")

    res = again.run({"workspace_name": "Sala Juntas", "destination": "530001"})

    assert res.status == "skipped"
    assert again.writes() == []


def test_forwarding_with_same_destination_but_v21_flags_off_is_rewritten(sandbox, act, site):
    sandbox.state.forwarding_of(site["ws"])["callForwarding"]["always"].update(enabled=True, destination="530001")
    a = act(sandbox, "workspace.forwarding")
    res = a.run({"workspace_name": "Sala Juntas", "destination": "530001"})
    assert res.status == "succeeded"
    assert sandbox.state.forwarding_of(site["ws"])["callForwarding"]["always"]["ringReminderEnabled"] is True


def test_forwarding_disable_is_idempotent(sandbox, act, site):
    sandbox.state.forwarding_of(site["ws"])["callForwarding"]["always"].update(enabled=True, destination="530001")
    a = act(sandbox, "workspace.forwarding")
    assert a.run({"workspace_name": "Sala Juntas", "extension": "8001", "enabled": "FALSE"}).status == "succeeded"
    assert sandbox.state.forwarding_of(site["ws"])["callForwarding"]["always"]["enabled"] is False
    sandbox.log.clear()
    assert a.run({"workspace_name": "Sala Juntas", "extension": "8001", "enabled": "FALSE"}).status == "skipped"
    assert a.writes() == []


def test_forwarding_busy_4003_is_a_row_error(sandbox_factory, act):
    sb = sandbox_factory(faults=FaultConfig(forwarding_busy={"Sala Juntas"}))
    site = seed(sb)
    a = act(sb, "workspace.forwarding")
    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Sala Juntas", "extension": "8001"})
    assert err.value.code == "4003"
    assert "UserCallForwardingBusy" in err.value.message
    assert sb.state.forwarding_of(site["ws"])["callForwarding"]["always"]["enabled"] is False


def test_forwarding_dry_run_writes_nothing(sandbox, act, site):
    a = act(sandbox, "workspace.forwarding", dry_run=True)
    res = a.run({"workspace_name": "Sala Juntas", "extension": "8001"})
    assert res.planned == {"always": {"enabled": True, "destination": "538001", "ring_reminder_enabled": True,
                                      "destination_voicemail_enabled": True}}
    assert a.writes() == []


# --- workspace.outgoing_permissions -----------------------------------------------------------------


def test_permissions_written_first_on_a_first_attempt(sandbox, act, site):
    a = act(sandbox, "workspace.outgoing_permissions")
    res = a.run({"workspace_name": "Sala Juntas", "call_type": "INTERNATIONAL", "action": "ALLOW",
                 "transfer_enabled": "TRUE", "use_custom_enabled": "TRUE", "use_custom_permissions": "TRUE"})

    assert res.status == "succeeded" and res.result["read_first"] is False
    assert [r.method for r in sandbox.requests() if r.path.endswith("/outgoingPermission")] == ["PUT"]
    perms = sandbox.state.permissions_of(site["ws"])
    assert (perms["useCustomEnabled"], perms["useCustomPermissions"]) == (True, True)
    intl = next(p for p in perms["callingPermissions"] if p["callType"] == "INTERNATIONAL")
    assert (intl["action"], intl["transferEnabled"]) == ("ALLOW", True)


def test_permissions_send_only_the_difference_when_the_row_is_rechecked(sandbox, act, site):
    sandbox.state.permissions_of(site["ws"])["useCustomPermissions"] = True
    a = act(sandbox, "workspace.outgoing_permissions")
    row = a.row({"workspace_name": "Sala Juntas", "call_type": "INTERNATIONAL", "action": "ALLOW",
                 "transfer_enabled": "TRUE", "use_custom_enabled": "TRUE", "use_custom_permissions": "TRUE"},
                recovered=True)
    res = a.executor.execute(row)

    assert res.status == "succeeded"
    assert a.writes() == [
        (
            "PUT",
            f"/v1/workspaces/{site['ws']}/features/outgoingPermission",
            {"callingPermissions": [{"callType": "INTERNATIONAL", "action": "ALLOW", "transferEnabled": True}],
             "useCustomEnabled": True},
        )
    ]
    perms = sandbox.state.permissions_of(site["ws"])
    assert perms["useCustomEnabled"] is True
    intl = next(p for p in perms["callingPermissions"] if p["callType"] == "INTERNATIONAL")
    assert (intl["action"], intl["transferEnabled"]) == ("ALLOW", True)


def test_permissions_recheck_of_a_done_row_is_skipped_without_writes(sandbox, act, site):
    row = {"workspace_name": "Sala Juntas", "call_type": "INTERNATIONAL", "action": "ALLOW", "transfer_enabled": "TRUE"}
    act(sandbox, "workspace.outgoing_permissions").run(row)
    sandbox.log.clear()
    again = act(sandbox, "workspace.outgoing_permissions")
    assert again.executor.execute(again.row(row, recovered=True)).status == "skipped"
    assert again.writes() == []


def test_permissions_without_a_transfer_flag_read_first_and_keep_it(sandbox, act, site):
    a = act(sandbox, "workspace.outgoing_permissions")
    assert a.run({"workspace_name": "Sala Juntas", "call_type": "NATIONAL", "action": "BLOCK"}).status == "succeeded"
    assert [r.method for r in sandbox.requests() if r.path.endswith("/outgoingPermission")] == ["GET", "PUT"]
    national = next(p for p in sandbox.state.permissions_of(site["ws"])["callingPermissions"]
                    if p["callType"] == "NATIONAL")
    assert (national["action"], national["transferEnabled"]) == ("BLOCK", True)


def test_permissions_dry_run_writes_nothing(sandbox, act, site):
    a = act(sandbox, "workspace.outgoing_permissions", dry_run=True)
    res = a.run({"workspace_name": "Sala Juntas", "call_type": "INTERNATIONAL", "action": "ALLOW",
                 "transfer_enabled": "TRUE"})
    assert res.planned == {"calling_permissions": {"INTERNATIONAL": {"action": "ALLOW", "transfer_enabled": True}}}
    assert a.writes() == []


def test_secondary_number_needs_a_professional_workspace_and_says_so(sandbox, act, site):
    """A workspace holding 'Webex Calling - Workspaces' (Webex's usual pick): the sandbox refuses the
    numbers PUT as Webex documents, and the row error says what to do (old code passed it)."""
    ws = sandbox.state.get_workspace(site["ws"])
    ws["calling"]["webexCalling"]["licenses"] = [sandbox.state.license_by_sku("BCCA")["id"]]
    sandbox.state.add_number(site["loc"], "+34931000077")
    a = act(sandbox, "workspace.secondary_number")
    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Sala Juntas", "legacy_phone_number": "+34931000077"})
    assert err.value.code == "workspace_not_professional"
    assert "Webex Calling - Professional" in err.value.message and "ledger retry" in err.value.message
    (put,) = [r for r in sandbox.requests() if r.method == "PUT"]
    assert put.status == 400 and "professional licensed workspaces" in put.response["errors"][0]["description"]


def test_workspace_forwarding_refused_with_4003_uses_no_undocumented_fallback(sandbox, act, site):
    """The v21 workspace script retried on telephony/config/workspaces/{id}/callForwarding, which is
    not in the Webex contract: only the documented PUT is sent, and the row says what to do."""
    sandbox.faults = FaultConfig(forwarding_busy={"Sala Juntas"})
    a = act(sandbox, "workspace.forwarding")
    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Sala Juntas", "extension": "8001"})
    assert err.value.code == "4003"
    assert "workspace Sala Juntas" in err.value.message and "Control Hub" in err.value.message
    assert "ledger retry" in err.value.message
    assert [(m, p) for m, p, _ in a.writes()] == [("PUT", f"/v1/workspaces/{site['ws']}/features/callForwarding")]
