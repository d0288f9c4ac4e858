"""Admin endpoints, state file, serve(), seeding from the operators' sample files, architecture rule."""

from __future__ import annotations

import ast
import json
import threading
import time
from pathlib import Path

import pytest
import requests
from wxc_sdk.licenses import LicenseProperties, LicenseRequest

from ledger.sandbox import Sandbox, serve
from ledger.sandbox import ids
from ledger.sandbox.state import SandboxState

from .conftest import make_api

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
H = {"Authorization": "Bearer test-token"}


def test_admin_endpoints(sandbox):
    r = requests.post(sandbox.root_url + "/_admin/seed", json={
        "route_groups": ["RG1"],
        "locations": [{"name": "L1", "calling_enabled": True, "numbers": ["+34930000001"]}],
        "people": [{"email": "a@x.com", "first_name": "A", "location": "L1", "extension": "100", "calling": True}],
        "workspaces": [{"display_name": "W1", "location": "L1"}]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out["locations"]) == {"L1"} and set(out["people"]) == {"a@x.com"}
    dump = requests.get(sandbox.root_url + "/_admin/state").json()
    assert any(p["emails"] == ["a@x.com"] and p["extension"] == "100" for p in dump["people"])
    assert [n["phoneNumber"] for n in dump["numbers"]] == ["+34930000001"]
    r = requests.post(sandbox.root_url + "/_admin/faults", json={"p503": 1.0})
    assert r.status_code == 200 and sandbox.faults.p503 == 1.0
    assert requests.get(sandbox.base_url + "/people/me", headers=H).status_code == 503
    assert requests.post(sandbox.root_url + "/_admin/faults", json={"spec": "429=0.5"}).json()["p429"] == 0.5
    assert requests.post(sandbox.root_url + "/_admin/faults", json={"nope": 1}).status_code == 400
    log = requests.get(sandbox.root_url + "/_admin/requests").json()
    assert [x["status"] for x in log if x["path"] == "/v1/people/me"] == [503]
    requests.post(sandbox.root_url + "/_admin/faults", json={})
    requests.post(sandbox.root_url + "/_admin/reset", json={})
    assert sandbox.state.person_by_email("a@x.com") is None and sandbox.requests() == []


def test_state_file_written_on_stop(tmp_path):
    f = tmp_path / "state.json"
    with Sandbox(state_file=f) as sb:
        sb.state.add_person("z@x.com")
        requests.get(sb.base_url + "/people", headers=H, params={"email": "z@x.com"})
    data = json.loads(f.read_text())
    assert any(p["emails"] == ["z@x.com"] for p in data["state"]["people"])
    assert data["requests"][0]["query"] == {"email": "z@x.com"}


def test_serve_prints_url_and_token_and_stops(tmp_path):
    lines: list[str] = []
    stop = threading.Event()
    f = tmp_path / "s.json"
    t = threading.Thread(target=serve, kwargs=dict(port=0, faults_spec="429=0", seed=3, state_file=f,
                                                   print_fn=lines.append, _stop_event=stop,
                                                   seed_samples_dir=SAMPLES))
    t.start()
    for _ in range(100):
        if lines:
            break
        time.sleep(0.05)
    assert "WEBEX_BASE_URL=http://127.0.0.1:" in lines[0] and "WEBEX_ACCESS_TOKEN=" in lines[0]
    base = lines[0].split("WEBEX_BASE_URL=")[1].split()[0]
    token = lines[0].split("WEBEX_ACCESS_TOKEN=")[1].split()[0]
    r = requests.get(base + "/locations", headers={"Authorization": f"Bearer {token}"})
    names = {l["name"] for l in r.json()["items"]}
    assert {"SANDBOX-HQ", "SANDBOX-BRANCH", "CUV93470292900", "CUV93516754500"} <= names
    stop.set()
    t.join(5)
    assert not t.is_alive() and f.exists()


def test_bad_fault_spec_in_serve():
    with pytest.raises(ValueError, match="bogus"):
        serve(faults_spec="bogus=1", print_fn=lambda s: None)


def test_seed_from_samples_ids_match_files(sandbox_factory):
    sb = sandbox_factory()
    summary = sb.state.seed_from_samples(SAMPLES / "Ubicaciones.csv", SAMPLES / "Usuarios.csv",
                                         SAMPLES / "global.csv", users=True)
    import csv
    g = next(csv.DictReader(open(SAMPLES / "global.csv", encoding="utf-8")))
    assert sb.state.org_id == g["org_id"]
    u = next(csv.DictReader(open(SAMPLES / "Usuarios.csv", encoding="utf-8")))
    api = make_api(sb)
    lic_ids = {l.license_id for l in api.licenses.list()}
    assert u["add_license_ids"] in lic_ids
    for x in u["remove_license_ids"].split(","):
        assert x in lic_ids
    rg = next(csv.DictReader(open(SAMPLES / "Ubicaciones.csv", encoding="utf-8")))["premise_route_id"]
    assert [c.route_id for c in api.telephony.route_choices()] == [rg]
    locs = {l.name: l.location_id for l in api.locations.list(name="CUV")}
    assert set(locs) == {"CUV93470292900", "CUV93516754500"} and summary["locations"] == locs
    person = list(api.people.list(email=u["email"]))[0]
    assert person.first_name == "Andres"
    # the sample rows run end to end: enable calling, PSTN, numbers, licence with location+extension
    loc_id = locs["CUV93470292900"]
    loc = api.locations.details(loc_id)
    api.session.rest_post(api.session.ep("telephony/config/locations"), json={
        "id": loc_id, "name": loc.name, "timeZone": loc.time_zone, "announcementLanguage": "ca_es",
        "preferredLanguage": "es_ES", "address": loc.address.model_dump(mode="json", by_alias=True, exclude_none=True)})
    api.telephony.pstn.configure(loc_id, premise_route_type="ROUTE_GROUP", premise_route_id=rg)
    assert api.telephony.location.number.add(loc_id, ["+34516789012", "+34935678901"]).errors == []
    r = api.licenses.assign_licenses_to_users(person_id=person.person_id, licenses=[LicenseRequest(
        id=u["add_license_ids"], properties=LicenseProperties(location_id=loc_id, extension=u["extension"]))])
    assert u["add_license_ids"] in r.licenses
    # SCIM with the base64 org id from global.csv
    assert api.scim.users.search(org_id=g["org_id"], filter=f'userName eq "{u["email"]}"').total_results == 1


def test_ids_padding_and_uuid():
    i = ids.make_id("LOCATION", "e2dc9a91-b724-4b66-8d2f-e6e0d1d4b0ed")
    assert "=" not in i
    padded = i + "=" * (-len(i) % 4)
    assert ids.key(i) == ids.key(padded) == "e2dc9a91-b724-4b66-8d2f-e6e0d1d4b0ed"
    st = SandboxState(seed=1)
    lid = st.add_location("X", location_id=i)
    assert st.get_location(padded)["id"] == lid == st.get_location(ids.key(i))["id"]


def test_seeded_ids_are_deterministic():
    a, b = SandboxState(seed=5), SandboxState(seed=5)
    assert a.org_id == b.org_id and a.add_location("L") == b.add_location("L")


def test_sandbox_package_is_standalone():
    pkg = Path(__file__).resolve().parents[2] / "ledger" / "sandbox"
    for f in pkg.glob("*.py"):
        if f.name == "testing.py":
            continue
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module or ""]
            for m in mods:
                assert not m.startswith(("wxc_sdk", "sqlalchemy", "ledger")), (f.name, m)


def test_default_dataset_list_endpoints_parse(sandbox_factory):
    sb = sandbox_factory(seed=1, seed_defaults=True)
    api = make_api(sb)
    assert [l.name for l in api.telephony.location.list()] == ["SANDBOX-HQ", "SANDBOX-BRANCH"]
    assert [t.name for t in api.telephony.prem_pstn.trunk.list()] == ["TRUNK_SANDBOX"]
    assert [g.name for g in api.telephony.prem_pstn.route_group.list()] == ["RG_SANDBOX"]
    assert len(list(api.telephony.phone_numbers())) == 20
    assert [o.org_id for o in api.organizations.list()] == [sb.state.org_id]
    lic = next(iter(api.licenses.list()))
    assert api.licenses.details(lic.license_id).name == lic.name
    hq = sb.state.location_by_name("SANDBOX-HQ")["id"]
    w = sb.state.add_workspace("W", hq, calling="webexCalling", extension="55")
    assert list(api.workspace_settings.available_numbers.call_forward(w))
    assert list(api.telephony.jobs.move_users.list()) == []


def test_seed_from_samples_reads_a_spanish_excel_file_as_the_import_does(sandbox_factory, tmp_path):
    """Excel's plain 'CSV' in Spain: Windows-1252, ';', CRLF. `ledger import` reads it; so must --samples."""
    for name in ("Ubicaciones.csv", "Usuarios.csv", "global.csv"):
        text = (SAMPLES / name).read_text(encoding="utf-8")
        rows = [line.split(",") if name == "global.csv" else line for line in text.splitlines()]
        if name == "global.csv":  # no quoted cells: a plain re-join
            text = "\r\n".join(";".join(r) for r in rows)
        else:  # quoted comma lists stay quoted; only the separators between cells change
            import csv
            import io

            out = io.StringIO()
            csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(csv.reader(io.StringIO(text)))
            text = out.getvalue()
        (tmp_path / name).write_bytes(text.encode("cp1252"))
    sb = sandbox_factory()
    summary = sb.state.seed_from_samples(tmp_path / "Ubicaciones.csv", tmp_path / "Usuarios.csv",
                                         tmp_path / "global.csv", users=True)
    assert set(summary["locations"]) == {"CUV93470292900", "CUV93516754500"}
    person = list(make_api(sb).people.list(email="andres.garcia@lab.example.com"))[0]
    assert person.last_name == "García-Toñez"


def test_sandbox_samples_that_cannot_be_read_are_one_line(run_cli, tmp_path):
    (tmp_path / "global.csv").write_bytes(b"org_id,country\r\nY2lz\x81,ES\r\n")  # 0x81: neither UTF-8 nor cp1252
    res = run_cli("sandbox", "--samples", str(tmp_path), "--port", "0")
    assert res.exit_code == 1
    assert res.stderr.startswith("ledger: error: ") and "global.csv: line 2" in res.stderr and "Traceback" not in res.stderr
