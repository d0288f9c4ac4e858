"""End to end: a Workspaces.csv (the layout the README documents; the operators' samples have none) through
`ledger import … --after N` and `ledger work`, against a sandbox seeded from the operators' samples."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
UBICACIONES, GLOBAL = SAMPLES / "Ubicaciones.csv", SAMPLES / "global.csv"
SITE_A, SITE_B = "CUV93470292900", "CUV93516754500"
WORKSPACES = (
    "display_name,location_name,extension,phone_number,legacy_phone_number,destination\n"
    f"Sala Juntas,{SITE_A},8001,34516789012,+34517890123,\n"
    f"Recepción,{SITE_A},8002,,,530002\n"
    f"Almacén,{SITE_B},,,,\n"
)
PROFILE = {"use_custom_enabled": True, "calling_permissions": [
    {"call_type": "INTERNATIONAL", "action": "BLOCK", "transfer_enabled": False},
    {"call_type": "PREMIUM_SERVICES_I", "action": "BLOCK", "transfer_enabled": False},
]}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

pytestmark = pytest.mark.skipif(not UBICACIONES.exists(), reason="operators' samples not available")


@pytest.fixture
def seeded(sandbox):
    summary = sandbox.state.seed_from_samples(UBICACIONES, None, GLOBAL, calling_enabled=True)
    for n in ("+34516789012", "+34517890123"):
        sandbox.state.add_number(summary["locations"][SITE_A], n)
    sandbox.log.clear()
    return summary


@pytest.fixture
def files(tmp_path):
    ws = tmp_path / "Workspaces.csv"
    ws.write_text(WORKSPACES, encoding="utf-8")
    profile = tmp_path / "workspace_profile.json"
    profile.write_text(json.dumps(PROFILE), encoding="utf-8")
    return ws, profile


def run_all(db: Path, sb, ws: Path, profile: Path) -> dict[str, str]:
    runner = CliRunner()

    def imp(action: str, *extra: str) -> int:
        args = ["--db", str(db), "import", str(ws), "--action", action, "--global", str(GLOBAL), *extra]
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, res.output
        return int(re.search(r"import (\d+):", res.output).group(1))

    create = imp("workspace.create")
    check = imp("workspace.check_permissions", "--after", str(create))
    imp("workspace.secondary_number", "--after", str(create))
    imp("workspace.forwarding", "--after", str(check))
    imp("workspace.outgoing_permissions", "--after", str(check), "--profile", str(profile))
    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
    res = runner.invoke(cli, ["--db", str(db), "work"], env=env)
    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT action, line_no, status FROM ledger").fetchall()
    return {f"{a}:{line}": status for a, line, status in rows}


def test_workspaces_file_end_to_end(tmp_path, sandbox, seeded, files):
    status = run_all(tmp_path / "ledger.db", sandbox, *files)

    assert status == {
        **{f"workspace.create:{n}": "succeeded" for n in (2, 3, 4)},
        **{f"workspace.check_permissions:{n}": "succeeded" for n in (2, 3, 4)},
        # only Sala Juntas has a legacy number; only Almacén has neither destination nor extension
        "workspace.secondary_number:2": "succeeded",
        "workspace.secondary_number:3": "nothing_to_do",  # no legacy number: not an error (issue 13)
        "workspace.secondary_number:4": "nothing_to_do",
        "workspace.forwarding:2": "succeeded",
        "workspace.forwarding:3": "succeeded",
        "workspace.forwarding:4": "invalid",
        **{f"workspace.outgoing_permissions:{n}": "succeeded" for n in (2, 3, 4)},
    }
    st = sandbox.state
    (sala,) = st.workspaces_by_name("Sala Juntas")
    (recepcion,) = st.workspaces_by_name("Recepción")
    (almacen,) = st.workspaces_by_name("Almacén")
    assert sala["calling"]["type"] == "webexCalling" and sala["_phoneNumber"] == "+34516789012"
    assert recepcion["_extension"] == "8002" and almacen["calling"]["type"] == "none"
    assert [x["directNumber"] for x in sala["_features"]["alternates"]] == ["+34517890123"]
    assert st.forwarding_of(sala["id"])["callForwarding"]["always"]["destination"] == "538001"
    assert st.forwarding_of(recepcion["id"])["callForwarding"]["always"]["destination"] == "530002"
    for w in (sala, recepcion, almacen):
        perms = st.permissions_of(w["id"])
        premium = next(p for p in perms["callingPermissions"] if p["callType"] == "PREMIUM_SERVICES_I")
        assert perms["useCustomEnabled"] is True and premium["action"] == "BLOCK"


def _workspace_permissions(sandbox) -> str:
    st = sandbox.state
    return json.dumps({w["id"]: st.permissions_of(w["id"]) for w in st.workspaces.values()}, sort_keys=True)


def test_second_ledger_changes_nothing(tmp_path, sandbox, seeded, files):
    run_all(tmp_path / "first.db", sandbox, *files)
    sandbox.log.clear()
    perms_before = _workspace_permissions(sandbox)

    status = run_all(tmp_path / "second.db", sandbox, *files)

    assert {s for s in status.values()} == {"skipped", "invalid", "succeeded", "nothing_to_do"}
    succeeded = {k for k, s in status.items() if s == "succeeded"}
    # read-only: always succeeds; outgoing permissions are written first (idempotent PUT, one request a row)
    assert succeeded == {f"{a}:{n}" for a in ("workspace.check_permissions", "workspace.outgoing_permissions")
                         for n in (2, 3, 4)}
    writes = [(r.method, r.path) for r in sandbox.requests() if r.method in WRITES]
    assert len(writes) == 3 and {(m, p.rsplit("/", 1)[1]) for m, p in writes} == {("PUT", "outgoingPermission")}
    assert perms_before == _workspace_permissions(sandbox)
    assert sandbox.state.workspace_create_counts["Sala Juntas"] == 1
