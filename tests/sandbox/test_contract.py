"""The derived Webex contract (ledger/sandbox/contract.json) and its generator (tools/contract_gen.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ledger.sandbox import contract
from ledger.sandbox.testing import contract_gaps

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("LEDGER_WEBEX_REFERENCE", ROOT.parent / "shared" / "reference" / "webex-api"))


@pytest.mark.skipif(not (REFERENCE / "openapi").is_dir(), reason="the reference webex-api folder is not here")
def test_checked_in_contract_is_what_the_generator_derives_from_the_reference(tmp_path: Path) -> None:
    out = tmp_path / "contract.json"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "contract_gen.py"), str(REFERENCE), "-o", str(out)],
        check=True, capture_output=True, text=True,
    )
    assert json.loads(out.read_text()) == contract.load(), "re-run tools/contract_gen.py and check the result in"


def test_generator_refuses_a_folder_that_is_not_the_reference(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "contract_gen.py"), str(tmp_path), "-o", str(tmp_path / "c.json")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2 and "not a reference folder" in proc.stderr and "Traceback" not in proc.stderr


def test_contract_carries_the_attributions() -> None:
    text = " ".join(contract.load()["attribution"])
    assert "Webex OpenAPI specifications, Cisco, CC BY 4.0" in text
    assert "wxc_sdk" in text and "MIT" in text


def test_known_conflicts_are_recorded_with_both_forms() -> None:
    # README: flat wxc_sdk 1.41 paths are aliases of the spec's /people/{id}/features/... endpoints
    flat = contract.find("PUT", "/v1/telephony/config/people/abc/outgoingPermission")
    assert flat is not None and flat.key == "PUT /v1/people/{personId}/features/outgoingPermission"
    numbers = contract.load()["endpoints"]["GET /v1/workspaces/{workspaceId}/features/numbers"]
    assert any(f["also"] == "phoneNumbers[].external" for f in numbers["accepted_forms"])
    move = contract.load()["endpoints"]["POST /v1/telephony/config/jobs/person/moveLocation"]
    fields = move["responses"]["201"]["fields"]
    assert "response" in fields and "latestExecutionStatus" in fields


def test_facts_from_the_reference() -> None:
    eps = contract.load()["endpoints"]
    enable = eps["POST /v1/telephony/config/locations"]["request"]
    assert {"announcementLanguage", "preferredLanguage"} <= set(enable["required"])
    assert 206 in eps["PATCH /v1/licenses/users"]["statuses"]
    scim_user = eps["POST /identity/scim/{orgId}/v2/Users"]["request"]
    assert {"schemas", "userName", "userType"} <= set(scim_user["required"])
    options = eps["GET /v1/telephony/pstn/locations/{locationId}/connectionOptions"]["responses"]["200"]
    assert set(options["fields"]["items"]["items"]["fields"]) == {"id", "displayName", "pstnServices"}
    location = eps["PUT /v1/telephony/config/locations/{locationId}/outgoingPermission"]["request"]
    assert set(location["fields"]) == {"callingPermissions"}
    call_types = location["fields"]["callingPermissions"]["items"]["fields"]["callType"]["enum"]
    assert "LOCAL" not in call_types and "TOLL" not in call_types and "NATIONAL" in call_types


def test_contract_gaps_name_an_endpoint_outside_the_contract(sandbox) -> None:
    url = f"{sandbox.base_url}/telephony/config/premisePstn/trunks"
    requests.get(url, headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=5)
    requests.get(f"{sandbox.base_url}/people", headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=5)
    assert contract_gaps(sandbox) == ["GET /v1/telephony/config/premisePstn/trunks"]


# --- the sandbox refuses what the contract lacks, naming the field (as Webex does) -----------------


@pytest.fixture
def loc(sandbox):
    return sandbox.state.add_location("HQ", calling_enabled=True)


@pytest.fixture
def site(sandbox):
    return {"loc": sandbox.state.add_location("CUV93470292900", calling_enabled=False)}


@pytest.mark.parametrize("body, field", [
    ({"useCustomEnabled": True, "callingPermissions": []}, "useCustomEnabled"),
    ({"callingPermissions": [{"callType": "LOCAL", "action": "BLOCK"}]}, "callingPermissions[0].callType"),
])
def test_sandbox_refuses_what_the_location_contract_lacks(sandbox, loc, body, field):
    r = requests.put(
        f"{sandbox.base_url}/telephony/config/locations/{loc}/outgoingPermission",
        json=body, headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=5,
    )
    assert r.status_code == 400 and field in r.json()["errors"][0]["description"]


def test_sandbox_refuses_enabling_without_languages_naming_the_field(sandbox, site):
    body = {"id": site["loc"], "name": "CUV93470292900", "timeZone": "Europe/Madrid", "preferredLanguage": "es_ES",
            "address": {"address1": "x", "city": "y", "country": "ES"}}
    r = requests.post(f"{sandbox.base_url}/telephony/config/locations", json=body,
                      headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["errors"][0]["description"] == "Missing required field: announcementLanguage"


def test_unknown_top_level_field_and_missing_required_field_answer_webex_shaped_400(sandbox):
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    r = requests.post(f"{sandbox.base_url}/workspaces", json={"displayName": "x", "colour": "red"}, headers=auth,
                      timeout=5)
    body = r.json()
    assert r.status_code == 400 and set(body) >= {"message", "errors", "trackingId"}
    assert body["errors"][0]["description"] == "Unrecognized field: colour"
    r = requests.post(f"{sandbox.base_url}/workspaces", json={"type": "notSet"}, headers=auth, timeout=5)
    assert r.status_code == 400 and "Missing required field: displayName" in r.json()["errors"][0]["description"]
    r = requests.post(f"{sandbox.base_url}/workspaces", json={"displayName": "x", "supportedDevices": "fax"},
                      headers=auth, timeout=5)
    assert r.status_code == 400 and "supportedDevices" in r.json()["errors"][0]["description"]
    assert [x.fault for x in sandbox.requests()] == ["contract"] * 3


def test_a_lenient_sandbox_can_be_asked_for(sandbox_factory):
    sb = sandbox_factory(strict=False)
    r = requests.post(f"{sb.base_url}/workspaces", json={"displayName": "x", "colour": "red"},
                      headers={"Authorization": f"Bearer {sb.token}"}, timeout=5)
    assert r.status_code == 201


def test_response_check_names_invented_fields_enum_values_and_statuses():
    ep = contract.find("GET", "/v1/telephony/pstn/locations/x/connection")
    assert contract.response_problems(ep, 200, {"pstnConnectionType": "LOCAL_GATEWAY", "routeType": "TRUNK"}) == []
    problems = contract.response_problems(ep, 200, {"pstnConnectionType": "CISCO_CLOUD_CONNECTED_PSTN", "x": 1})
    assert any("CISCO_CLOUD_CONNECTED_PSTN" in p for p in problems) and any("field x" in p for p in problems)
    assert "status 299" in contract.response_problems(ep, 299, None)[0]


def test_nested_required_fields_and_enums_are_checked():
    ep = contract.find("PATCH", "/v1/licenses/users")
    problems = contract.request_problems(ep, {}, {"personId": "p", "licenses": [{"operation": "add"}]})
    assert [p.field for p in problems] == ["licenses[0].id"]
    ep = contract.find("PUT", "/v1/people/p/features/outgoingPermission")
    problems = contract.request_problems(ep, {}, {"callingPermissions": [{"callType": "TOLL", "action": "ALLOW"}]})
    assert [p.field for p in problems] == ["callingPermissions[0].callType"]
    assert "NATIONAL" in str(problems[0])
