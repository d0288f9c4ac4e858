"""workspace.create against the sandbox: calling block sent, existing by name in the location → skipped."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure
from ledger.sandbox import FaultConfig, ids

SITE = "CUV93470292900"


@pytest.fixture
def loc(sandbox):
    lid = sandbox.state.add_location(SITE, calling_enabled=True)
    sandbox.state.add_number(lid, "+34935678901")
    sandbox.log.clear()
    return lid


def test_creates_a_webex_calling_workspace_with_the_calling_block(sandbox, act, loc):
    bcca = sandbox.state.license_by_sku("BCCA")["id"]
    a = act(sandbox, "workspace.create")

    res = a.run({"display_name": "Sala Juntas", "location_name": SITE, "extension": "8001",
                 "phone_number": "34935678901", "licenses": bcca})

    assert res.status == "succeeded"
    assert a.writes() == [
        (
            "POST",
            "/v1/workspaces",
            {
                "displayName": "Sala Juntas",
                "locationId": loc,
                "supportedDevices": "phones",
                "calling": {
                    "type": "webexCalling",
                    "webexCalling": {"locationId": loc, "extension": "8001", "phoneNumber": "+34935678901",
                                     "licenses": [bcca]},
                },
            },
        )
    ]
    (ws,) = sandbox.state.workspaces_by_name("Sala Juntas")
    assert res.result["workspace_id"] == ws["id"]
    assert ws["calling"]["type"] == "webexCalling"
    assert (ws["_extension"], ws["_phoneNumber"]) == ("8001", "+34935678901")
    assert ids.same(ws["locationId"], loc)


def test_without_extension_or_number_no_calling_block_is_sent(sandbox, act, loc):
    a = act(sandbox, "workspace.create")
    assert a.run({"display_name": "Almacén", "location_id": loc}).status == "succeeded"
    assert a.bodies("POST", "/v1/workspaces") == [{"displayName": "Almacén", "locationId": loc,
                                                   "supportedDevices": "phones"}]
    assert sandbox.state.workspaces_by_name("Almacén")[0]["calling"]["type"] == "none"


def test_existing_name_in_the_location_is_skipped_with_its_id(sandbox, act, loc):
    existing = sandbox.state.add_workspace("Sala Juntas", loc, calling="webexCalling", extension="8001")
    sandbox.log.clear()
    a = act(sandbox, "workspace.create")

    res = a.run({"display_name": "Sala Juntas", "location_name": SITE, "extension": "8001"})

    assert res.status == "skipped"
    assert res.result["reason"] == "workspace_already_exists"
    assert res.result["workspace_id"] == existing
    assert a.writes() == []


def test_same_name_in_another_location_is_created(sandbox, act, loc):
    other = sandbox.state.add_location("OTHER", calling_enabled=True)
    sandbox.state.add_workspace("Sala Juntas", other)
    sandbox.log.clear()
    a = act(sandbox, "workspace.create")

    assert a.run({"display_name": "Sala Juntas", "location_name": SITE}).status == "succeeded"
    assert len(sandbox.state.workspaces_by_name("Sala Juntas")) == 2


def test_second_run_is_skipped_without_writes(sandbox, act, loc):
    row = {"display_name": "Sala Juntas", "location_name": SITE, "extension": "8001"}
    first = act(sandbox, "workspace.create").run(row)
    sandbox.log.clear()
    again = act(sandbox, "workspace.create")

    res = again.run(row)

    assert res.status == "skipped"
    assert res.result["workspace_id"] == first.result["workspace_id"]
    assert again.writes() == []
    assert sandbox.state.workspace_create_counts["Sala Juntas"] == 1


def test_extension_in_use_is_a_row_error_and_other_rows_go_on(sandbox, act, loc):
    sandbox.state.add_workspace("Recepción", loc, calling="webexCalling", extension="8001")
    a = act(sandbox, "workspace.create")

    with pytest.raises(RowFailure) as err:
        a.run({"display_name": "Sala Juntas", "location_name": SITE, "extension": "8001"})
    assert err.value.http_status == 400
    assert err.value.detail["reason"] == "extension_in_use"
    assert "8001" in err.value.message

    assert a.run({"display_name": "Sala Juntas", "location_name": SITE, "extension": "8002"}).status == "succeeded"
    assert sandbox.state.workspaces_by_name("Sala Juntas")[0]["_extension"] == "8002"


def test_calling_workspace_without_location_is_a_row_error_before_any_call(sandbox, act, loc):
    a = act(sandbox, "workspace.create")
    with pytest.raises(RowFailure) as err:
        a.run({"display_name": "Sala Juntas", "extension": "8001"})
    assert err.value.code == "missing_location"
    assert sandbox.requests() == []


def test_unknown_location_is_a_row_error(sandbox, act, loc):
    a = act(sandbox, "workspace.create")
    with pytest.raises(RowFailure) as err:
        a.run({"display_name": "Sala Juntas", "location_name": "NOPE", "extension": "8001"})
    assert err.value.code == "unknown_location"
    assert a.writes() == []


def test_400_after_the_workspace_was_created_is_rechecked(sandbox_factory, act):
    """A create answered 400 although Webex created it: found by name, not created twice."""
    sb = sandbox_factory(faults=FaultConfig(row_errors={"Sala Juntas"}))
    loc = sb.state.add_location(SITE, calling_enabled=True)
    a = act(sb, "workspace.create")
    # the sandbox refuses the POST; the workspace appears anyway, as if Webex had created it
    original = sb.state.touch_keys

    def create_then_refuse(strings):
        keys = original(strings)
        if "sala juntas" in keys and not sb.state.workspaces_by_name("Sala Juntas"):
            sb.state.add_workspace("Sala Juntas", loc)
        return keys

    sb.state.touch_keys = create_then_refuse
    res = a.run({"display_name": "Sala Juntas", "location_name": SITE})

    assert res.status == "succeeded"
    assert res.result["note"] == "created although Webex answered HTTP 400"
    assert res.result["workspace_id"] == sb.state.workspaces_by_name("Sala Juntas")[0]["id"]
    assert [r.status for r in sb.requests() if r.method == "POST"] == [400]


def test_dry_run_writes_nothing(sandbox, act, loc):
    a = act(sandbox, "workspace.create", dry_run=True)
    res = a.run({"display_name": "Sala Juntas", "location_name": SITE, "extension": "8001"})
    assert res.status == "succeeded"
    bcstd = sandbox.state.license_by_sku("BCSTD")["id"]
    assert res.planned == {
        "displayName": "Sala Juntas",
        "locationId": loc,
        "supportedDevices": "phones",
        "calling": {"type": "webexCalling", "webexCalling": {"locationId": loc, "extension": "8001",
                                                             "licenses": [bcstd]}},
    }
    assert a.writes() == []
    assert sandbox.state.workspaces_by_name("Sala Juntas") == []


def test_existing_non_calling_workspace_asked_as_calling_is_a_row_error(sandbox, act, loc):
    existing = sandbox.state.add_workspace("Sala Juntas", loc)  # calling type "none"
    sandbox.log.clear()
    a = act(sandbox, "workspace.create")

    with pytest.raises(RowFailure) as err:
        a.run({"display_name": "Sala Juntas", "location_name": SITE, "extension": "8001"})

    assert err.value.code == "workspace_exists_not_calling"
    assert err.value.detail == {"workspace_id": existing}
    assert a.writes() == []
    # without calling data the same workspace is simply there
    assert a.run({"display_name": "Sala Juntas", "location_name": SITE}).status == "skipped"


def test_calling_workspace_states_a_professional_licence_and_phones_by_default(sandbox, act, loc):
    """Old code sent no licence: Webex applied "the oldest suitable" one (here Webex Calling -
    Workspaces), and workspace.secondary_number could never add the legacy number afterwards."""
    bcstd = sandbox.state.license_by_sku("BCSTD")["id"]
    a = act(sandbox, "workspace.create")
    res = a.run({"display_name": "Recepción", "location_name": SITE, "extension": "8002"})
    assert res.status == "succeeded"
    (body,) = a.bodies("POST", "/v1/workspaces")
    assert body["supportedDevices"] == "phones"
    assert body["calling"]["webexCalling"]["licenses"] == [bcstd]
    (ws,) = sandbox.state.workspaces_by_name("Recepción")
    assert sandbox.state.workspace_is_professional(ws)
    # so the secondary number the same migration adds is accepted
    sandbox.state.add_number(loc, "+34935670000")
    sec = act(sandbox, "workspace.secondary_number").run({"workspace_name": "Recepción",
                                                           "legacy_phone_number": "+34935670000"})
    assert sec.status == "succeeded"


def test_licence_and_supported_devices_from_global_csv(sandbox, act, loc):
    bcca = sandbox.state.license_by_sku("BCCA")["id"]
    a = act(sandbox, "workspace.create")
    res = a.run({"display_name": "Sala 2", "location_name": SITE, "extension": "8003"},
                {"licenses": bcca, "supported_devices": "collaborationDevices"})
    assert res.status == "succeeded"
    (body,) = a.bodies("POST", "/v1/workspaces")
    assert body["supportedDevices"] == "collaborationDevices"
    assert body["calling"]["webexCalling"]["licenses"] == [bcca]


def test_no_free_professional_licence_is_a_row_error_asking_for_licenses(sandbox, act, loc):
    lic = sandbox.state.license_by_sku("BCSTD")
    lic["consumedUnits"] = lic["totalUnits"]
    a = act(sandbox, "workspace.create")
    with pytest.raises(RowFailure) as err:
        a.run({"display_name": "Sala 3", "location_name": SITE, "extension": "8004"})
    assert err.value.code == "no_workspace_license" and "`licenses`" in err.value.message
    assert a.writes() == []


def test_several_licences_are_a_row_error(sandbox, act, loc):
    ids_ = [sandbox.state.license_by_sku(s)["id"] for s in ("BCSTD", "BCCA")]
    with pytest.raises(RowFailure) as err:
        act(sandbox, "workspace.create").run({"display_name": "Sala 4", "location_name": SITE, "extension": "8005",
                                              "licenses": ",".join(ids_)})
    assert err.value.code == "several_licenses"


def test_sandbox_without_a_licence_applies_the_oldest_suitable_workspaces_one(sandbox, loc):
    import requests

    body = {"displayName": "Raw", "calling": {"type": "webexCalling",
                                              "webexCalling": {"locationId": loc, "extension": "8100"}}}
    r = requests.post(f"{sandbox.base_url}/workspaces", json=body,
                      headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=5)
    assert r.status_code == 201
    assert r.json()["calling"]["webexCalling"]["licenses"] == [sandbox.state.license_by_sku("BCCA")["id"]]
