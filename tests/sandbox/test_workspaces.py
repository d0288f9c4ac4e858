"""Workspaces, workspace numbers/forwarding/permissions via the real wxc_sdk."""

from __future__ import annotations

import pytest
from wxc_sdk.person_settings.forwarding import PersonForwardingSetting
from wxc_sdk.person_settings.permissions_out import CallingPermissions, OutgoingPermissions
from wxc_sdk.rest import RestError
from wxc_sdk.workspace_settings.numbers import UpdateWorkspacePhoneNumber
from wxc_sdk.workspaces import CallingType, Workspace, WorkspaceCalling, WorkspaceWebexCalling


def test_create_list_get(sandbox, api, calling_loc):
    bcca = sandbox.state.license_by_sku("BCCA")["id"]
    w = api.workspaces.create(Workspace(display_name="Sala 1", location_id=calling_loc, calling=WorkspaceCalling(
        type=CallingType.webex, webex_calling=WorkspaceWebexCalling(extension="3001", location_id=calling_loc,
                                                                    licenses=[bcca]))))
    assert w.workspace_id and w.calling.type == "webexCalling"
    plain = api.workspaces.create(Workspace(display_name="Sala 2"))
    assert plain.calling.type == "none"
    found = list(api.workspaces.list(display_name="Sala 1"))
    assert [x.workspace_id for x in found] == [w.workspace_id]
    assert api.workspaces.details(w.workspace_id).display_name == "Sala 1"
    assert sandbox.state.workspace_create_counts["Sala 1"] == 1
    with pytest.raises(RestError) as ei:  # extension already used in that location
        api.workspaces.create(Workspace(display_name="Sala 3", calling=WorkspaceCalling(
            type=CallingType.webex, webex_calling=WorkspaceWebexCalling(extension="3001",
                                                                        location_id=calling_loc))))
    assert ei.value.response.status_code == 400


@pytest.fixture
def ws(sandbox, calling_loc):
    return sandbox.state.add_workspace("WS", calling_loc, calling="webexCalling", extension="4001")


def test_numbers_read_update(sandbox, api, ws, calling_loc):
    # the spec's answer (distinctiveRingEnabled, phoneNumbers) lacks the workspace/location/organization
    # wxc_sdk 1.41's model requires: read as plain JSON (as workspace.secondary_number does)
    with pytest.raises(ValueError):
        api.workspace_settings.numbers.read(ws)
    url = api.session.ep(f"workspaces/{ws}/features/numbers")
    nums = api.session.rest_get(url)
    assert set(nums) == {"distinctiveRingEnabled", "phoneNumbers"}
    assert nums["phoneNumbers"][0]["extension"] == "4001"
    api.workspace_settings.numbers.update(ws, [UpdateWorkspacePhoneNumber(primary=False, action="ADD",
                                                                          direct_number="+34931000004")],
                                          distinctive_ring_enabled=True)
    nums = api.session.rest_get(url)
    assert [n["external"] for n in nums["phoneNumbers"] if not n["primary"]] == ["+34931000004"]
    assert nums["distinctiveRingEnabled"] is True
    req = [r for r in sandbox.requests() if r.path.startswith("/v1/workspaces/") and "numbers" in r.path][0]
    assert req.path.endswith("/features/numbers/") and "org_id" not in req.query  # trailing slash accepted


def test_forwarding_and_permissions(sandbox, api, ws):
    fwd = api.workspace_settings.forwarding.read(ws)
    fwd.call_forwarding.always.enabled = True
    fwd.call_forwarding.always.destination = "534001"
    api.workspace_settings.forwarding.configure(ws, fwd)
    assert api.workspace_settings.forwarding.read(ws).call_forwarding.always.destination == "534001"
    api.workspace_settings.forwarding.configure(ws, PersonForwardingSetting.default())
    with pytest.raises(RestError):  # wxc_sdk 1.41 sends LOCAL/TOLL
        api.workspace_settings.permissions_out.configure(ws, OutgoingPermissions(
            use_custom_enabled=True, calling_permissions=CallingPermissions.allow_all()))
    api.session.rest_put(api.session.ep(f"workspaces/{ws}/features/outgoingPermission"),
                         json={"useCustomEnabled": True, "callingPermissions": []})
    assert api.workspace_settings.permissions_out.read(ws).use_custom_enabled is True


def test_non_calling_workspace_numbers_400(sandbox, api):
    w = sandbox.state.add_workspace("plain")
    with pytest.raises(RestError) as ei:
        api.workspace_settings.numbers.read(w)
    assert ei.value.response.status_code == 400
