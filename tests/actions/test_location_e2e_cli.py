"""End to end: the operators' Ubicaciones.csv (+ global.csv) through the location actions in order, with
`ledger import … --after N` and one `ledger work`, against a sandbox seeded from the same samples.

The sample's main numbers (``calling_line_id``) are NOT in its ``phone_numbers`` lists (v21 §3.2):
``location.numbers`` adds them too, so ``location.main_number`` finds them in the inventory (Webex
refuses a main number outside it) and every location step succeeds in one run.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.sandbox import ids

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
UBICACIONES, GLOBAL = SAMPLES / "Ubicaciones.csv", SAMPLES / "global.csv"
SITES = ("CUV93470292900", "CUV93516754500")
MAIN = {"CUV93470292900": "+34935678901", "CUV93516754500": "+34934567890"}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# the v21 location_profile.json with the Webex call type names (v21's INTERNAL/MOBILE are refused)
PROFILE = {
    "use_custom_enabled": True,
    "use_custom_permissions": True,
    "calling_permissions": [
        {"call_type": "INTERNAL_CALL", "action": "ALLOW", "transfer_enabled": True},
        {"call_type": "TOLL_FREE", "action": "ALLOW", "transfer_enabled": True},
        {"call_type": "NATIONAL", "action": "ALLOW", "transfer_enabled": True},
        {"call_type": "SPECIAL_SERVICES_I", "action": "ALLOW", "transfer_enabled": True},
        {"call_type": "INTERNATIONAL", "action": "BLOCK", "transfer_enabled": False},
        {"call_type": "OPERATOR_ASSISTED", "action": "BLOCK", "transfer_enabled": False},
        {"call_type": "CHARGEABLE_DIRECTORY_ASSISTED", "action": "BLOCK", "transfer_enabled": False},
        {"call_type": "SPECIAL_SERVICES_II", "action": "BLOCK", "transfer_enabled": False},
        {"call_type": "PREMIUM_SERVICES_I", "action": "BLOCK", "transfer_enabled": False},
        {"call_type": "PREMIUM_SERVICES_II", "action": "BLOCK", "transfer_enabled": False},
    ],
}

pytestmark = pytest.mark.skipif(not UBICACIONES.exists(), reason="operators' samples not available")


@pytest.fixture
def seeded(sandbox):
    summary = sandbox.state.seed_from_samples(UBICACIONES, None, GLOBAL, calling_enabled=False)
    sandbox.log.clear()
    return summary


class Ledger:
    def __init__(self, db: Path, sb):
        self.db, self.sb, self.runner = db, sb, CliRunner()

    def cli(self, *args: str, env: dict[str, str] | None = None):
        return self.runner.invoke(cli, ["--db", str(self.db), *args], env=env)

    def import_(self, path: Path, action: str, *extra: str) -> int:
        res = self.cli("import", str(path), "--action", action, "--global", str(GLOBAL), *extra)
        assert res.exit_code == 0, res.output
        return int(re.search(r"import (\d+):", res.output).group(1))

    def work(self, *extra: str) -> str:
        res = self.cli("work", *extra, env={"WEBEX_BASE_URL": self.sb.base_url, "WEBEX_ACCESS_TOKEN": self.sb.token})
        assert res.exit_code == 0, res.output
        assert self.sb.token not in res.output
        return res.output

    def rows(self) -> dict[tuple[str, int], tuple[str, str | None, str | None]]:
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT action, line_no, status, error_code, error_message FROM ledger").fetchall()
        return {(a, line): (status, code, msg) for a, line, status, code, msg in rows}


def import_in_order(lg: Ledger, profile: Path) -> dict[str, int]:
    """The README's recommended order: each import waits for the imports it needs (same location)."""
    pstn = lg.import_(UBICACIONES, "location.pstn")
    numbers = lg.import_(UBICACIONES, "location.numbers", "--after", str(pstn))
    main = lg.import_(UBICACIONES, "location.main_number", "--after", str(numbers))
    dialing = lg.import_(UBICACIONES, "location.internal_dialing", "--after", str(pstn))
    perms = lg.import_(UBICACIONES, "location.outgoing_permissions", "--after", str(pstn), "--profile", str(profile))
    return {"pstn": pstn, "numbers": numbers, "main": main, "dialing": dialing, "perms": perms}


@pytest.fixture
def profile(tmp_path) -> Path:
    path = tmp_path / "location_profile.json"
    path.write_text(json.dumps(PROFILE), encoding="utf-8")
    return path


def test_sample_ubicaciones_through_the_location_actions(tmp_path, sandbox, seeded, profile):
    lg = Ledger(tmp_path / "ledger.db", sandbox)
    import_in_order(lg, profile)
    lg.work()

    rows = lg.rows()
    status = {k: v[0] for k, v in rows.items()}
    assert status == {
        **{("location.pstn", n): "succeeded" for n in (2, 3)},
        **{("location.numbers", n): "succeeded" for n in (2, 3)},
        **{("location.main_number", n): "succeeded" for n in (2, 3)},
        **{("location.internal_dialing", n): "succeeded" for n in (2, 3)},
        **{("location.outgoing_permissions", n): "succeeded" for n in (2, 3)},
    }

    st = sandbox.state
    rg = seeded["route_groups"]["RG_TEST"]
    for site in SITES:
        loc = st.get_location(seeded["locations"][site])
        assert loc["_calling"] is True
        assert loc["_pstn"]["pstnConnectionType"] == "LOCAL_GATEWAY" and ids.same(loc["_pstn"]["routeId"], rg)
        numbers = st.numbers_in(loc["id"])
        # the six listed numbers and the main number (row 1's "34935678901" normalised to +E.164)
        assert len(numbers) == 7 and MAIN[site] in numbers
        assert {r["state"] for n, r in numbers.items() if n != MAIN[site]} == {"INACTIVE"}
        assert loc["_callingLineId"]["phoneNumber"] == MAIN[site]
        assert loc["_internalDialing"]["enableUnknownExtensionRoutePolicy"] is True
        assert ids.same(loc["_internalDialing"]["unknownExtensionRouteIdentity"]["id"], rg)
        intl = next(p for p in loc["_outgoingPermission"]["callingPermissions"] if p["callType"] == "INTERNATIONAL")
        assert (intl["action"], intl["transferEnabled"]) == ("BLOCK", False)
        assert "useCustomEnabled" not in loc["_outgoingPermission"]  # a location has callingPermissions only


def test_second_ledger_on_the_same_org_writes_nothing(tmp_path, sandbox, seeded, profile):
    first = Ledger(tmp_path / "first.db", sandbox)
    import_in_order(first, profile)
    first.work()
    sandbox.log.clear()

    second = Ledger(tmp_path / "second.db", sandbox)
    import_in_order(second, profile)
    second.work()

    status = {k: v[0] for k, v in second.rows().items()}
    assert set(status.values()) == {"skipped"}
    assert [(r.method, r.path) for r in sandbox.requests() if r.method in WRITES] == []


def test_failed_pstn_row_blocks_its_location_dependents_only(tmp_path, sandbox, seeded, profile):
    """A prerequisite that failed: the dependent rows of that location end blocked, naming it."""
    bad = tmp_path / "Ubicaciones.csv"
    lines = UBICACIONES.read_text(encoding="utf-8").splitlines()
    wrong_rg = ids.encode("ROUTE_GROUP", "00000000-0000-4000-8000-000000000000")
    lines[2] = lines[2].replace(seeded["route_groups"]["RG_TEST"], wrong_rg)  # second site: unknown route group
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")

    lg = Ledger(tmp_path / "ledger.db", sandbox)
    pstn = lg.import_(bad, "location.pstn")
    numbers = lg.import_(bad, "location.numbers", "--after", str(pstn))
    lg.work()

    rows = lg.rows()
    assert rows[("location.pstn", 2)][0] == "succeeded"
    assert rows[("location.numbers", 2)][0] == "succeeded"
    assert rows[("location.pstn", 3)][0] == "failed"
    status, code, message = rows[("location.numbers", 3)]
    assert (status, code) == ("blocked", "prerequisite_failed")
    assert f"import {pstn} line 3 (location.pstn" in message
    assert numbers != pstn
    site2 = seeded["locations"][SITES[1]]
    posts = [r.path for r in sandbox.requests() if r.method == "POST" and r.path.endswith("/numbers")]
    assert posts == [f"/v1/telephony/config/locations/{seeded['locations'][SITES[0]]}/numbers"]
    assert sandbox.state.numbers_in(site2) == {}


def test_dry_run_records_the_plan_and_writes_nothing(tmp_path, sandbox, seeded):
    lg = Ledger(tmp_path / "ledger.db", sandbox)
    lg.import_(UBICACIONES, "location.pstn")
    lg.work("--dry-run")

    assert [(r.method, r.path) for r in sandbox.requests() if r.method in WRITES] == []
    with sqlite3.connect(lg.db) as conn:
        rows = conn.execute("SELECT line_no, status, result FROM ledger ORDER BY line_no").fetchall()
    assert [(line, status) for line, status, _ in rows] == [(2, "pending"), (3, "pending")]
    plan = json.loads(rows[0][2])["planned"]
    route = {"pstnConnectionType": "LOCAL_GATEWAY", "routeType": "ROUTE_GROUP", "routeId": seeded["route_groups"]["RG_TEST"]}
    assert plan == {"enable_calling": True, "connection": route}
    assert all(not loc["_calling"] for loc in sandbox.state.locations.values())


def test_v21_location_profile_is_refused_at_import_naming_the_call_type(tmp_path, sandbox):
    v21 = tmp_path / "location_profile.json"
    v21.write_text(json.dumps({"calling_permissions": [
        {"call_type": "INTERNAL", "action": "ALLOW", "transfer_enabled": True},
        {"call_type": "MOBILE", "action": "ALLOW", "transfer_enabled": True}]}), encoding="utf-8")
    lg = Ledger(tmp_path / "ledger.db", sandbox)

    res = lg.cli("import", str(UBICACIONES), "--action", "location.outgoing_permissions", "--profile", str(v21))

    assert res.exit_code != 0
    assert "INTERNAL" in res.output and "location_profile.json" in res.output
    assert "Traceback" not in res.output
    assert sandbox.requests() == []
