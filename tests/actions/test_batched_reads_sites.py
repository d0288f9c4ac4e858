"""Batched reads for the workspace and location actions (issue 14): a run where 10 % of the rows need a
change sends the list pages + the writes + a small constant, not one read per row; a list is never trusted
for a row to re-check, nor past its age, nor for a name the run itself created."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# the single reads before a list is worth it (SNAPSHOT_AFTER, a few more while 4 threads start), the
# preflight, the location and licence lookups
SMALL = 25


def _run(tmp_path: Path, sb, action: str, header: str, lines: list[str]) -> dict[str, int]:
    src = tmp_path / "rows.csv"
    src.write_text(header + "\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
    db = tmp_path / "ledger.db"
    res = CliRunner().invoke(cli, ["--db", str(db), "import", str(src), "--action", action])
    assert res.exit_code == 0, res.output
    sb.log.clear()
    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
    res = CliRunner().invoke(cli, ["--db", str(db), "work"], env=env)
    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM ledger GROUP BY status").fetchall())


def _gets(sb, path_part: str) -> list:
    return [r for r in sb.requests() if r.method == "GET" and path_part in r.path]


# --- workspaces ------------------------------------------------------------------------------------


def test_200_workspace_secondary_numbers_where_20_need_one_send_the_list_pages_and_20_puts(tmp_path, sandbox):
    st = sandbox.state
    site = st.add_location("WSITE", calling_enabled=True)
    for i in range(200):
        number = f"+3493{i:07d}"
        st.add_number(site, number)
        wid = st.add_workspace(f"Sala {i:03d}", site, calling="webexCalling", extension=str(3000 + i))
        if i % 10:
            st.api_update_workspace_numbers(wid, {"phoneNumbers": [{"primary": False, "action": "ADD",
                                                                     "directNumber": number}]})
    lines = [f"Sala {i:03d},+3493{i:07d}" for i in range(200)]

    assert _run(tmp_path, sandbox, "workspace.secondary_number", "workspace_name,legacy_phone_number", lines) == {
        "succeeded": 20, "skipped": 180}

    log = sandbox.requests()
    puts = [r for r in log if r.method == "PUT"]
    inventory = [r for r in log if r.path == "/v1/telephony/config/numbers"]
    assert len(puts) == 20 and all(r.status == 204 for r in puts)
    assert len(inventory) <= 12  # single reads until the inventory is worth listing, then one page
    assert len(_gets(sandbox, "/features/numbers")) <= 12  # not one per workspace
    assert len(log) <= 20 + 2 + SMALL, [(r.method, r.path) for r in log if r.method == "GET"][:40]
    assert all(len(st.numbers_owned_by(st.workspaces_by_name(f"Sala {i:03d}")[0]["id"])) == 1 for i in range(200))


def test_200_workspace_creates_where_20_are_new_send_the_list_pages_and_20_posts(tmp_path, sandbox):
    st = sandbox.state
    site = st.add_location("WSITE", calling_enabled=True)
    lic = st.license_by_sku("BCSTD")["id"]
    for i in range(200):
        if i % 10:
            st.add_workspace(f"Sala {i:03d}", site, calling="webexCalling", extension=str(3000 + i))
    lines = [f"Sala {i:03d},WSITE,{3000 + i},{lic}" for i in range(200)]

    statuses = _run(tmp_path, sandbox, "workspace.create", "display_name,location_name,extension,licenses", lines)

    assert statuses == {"succeeded": 20, "skipped": 180}
    log = sandbox.requests()
    posts = [r for r in log if r.method == "POST"]
    lookups = [r for r in log if r.path == "/v1/workspaces" and r.method == "GET" and "displayName" in r.query]
    assert len(posts) == 20 and all(r.status == 201 for r in posts)
    assert len(lookups) <= 12  # until the org's workspaces are worth listing (one page of 1,000)
    assert len(log) <= 20 + 1 + SMALL, [(r.method, r.path) for r in log if r.method == "GET"][:40]
    assert all(len(st.workspaces_by_name(f"Sala {i:03d}")) == 1 for i in range(200))


def _listed(a, site: str) -> None:
    """Make the run list the org's workspaces now (the next name resolution takes the list)."""
    a.executor.snapshot_after = 0
    assert a.run({"display_name": "Sala 0", "location_id": site}).status == "skipped"


def test_a_workspace_create_to_recheck_is_looked_up_by_name_not_trusted_from_the_list(sandbox, act):
    st = sandbox.state
    site = st.add_location("WSITE", calling_enabled=True)
    st.add_workspace("Sala 0", site)
    a = act(sandbox, "workspace.create")
    _listed(a, site)
    st.add_workspace("Late", site)  # created by someone else after the list: the list is stale for it
    sandbox.log.clear()

    row = dataclasses.replace(a.row({"display_name": "Late", "location_id": site}), recovered=True)
    res = a.executor.execute(row)

    assert res.status == "skipped" and res.result["reason"] == "workspace_already_exists"
    assert [(r.method, r.path) for r in sandbox.requests()] == [("GET", "/v1/workspaces")]
    assert len(st.workspaces_by_name("Late")) == 1


def test_a_workspace_list_older_than_a_create_trusts_is_listed_again(sandbox, act):
    st = sandbox.state
    site = st.add_location("WSITE", calling_enabled=True)
    st.add_workspace("Sala 0", site)
    a = act(sandbox, "workspace.create")
    _listed(a, site)
    st.add_workspace("Late", site)
    a.executor.snapshot_max_age_s = 0.0  # the list is now older than a create trusts
    sandbox.log.clear()

    res = a.run({"display_name": "Late", "location_id": site})

    assert res.status == "skipped"
    assert [r.method for r in sandbox.requests()] == ["GET"]  # the org's workspaces, listed again
    assert len(st.workspaces_by_name("Late")) == 1


def test_a_create_the_stale_list_lacks_answered_409_is_looked_up_and_skipped(sandbox, act):
    st = sandbox.state
    st.refuse_duplicate_workspace_names = True  # Webex answering "already exists" (see the sandbox's note)
    site = st.add_location("WSITE", calling_enabled=True)
    st.add_workspace("Sala 0", site)
    a = act(sandbox, "workspace.create")
    _listed(a, site)
    st.add_workspace("Late", site)  # created by someone else after the list: the list is stale for it
    sandbox.log.clear()

    res = a.run({"display_name": "Late", "location_id": site})

    assert res.status == "skipped" and res.result["reason"] == "workspace_already_exists"
    assert [(r.method, r.status) for r in sandbox.requests()] == [("POST", 409), ("GET", 200)]
    assert len(st.workspaces_by_name("Late")) == 1 and st.workspace_create_counts["Late"] == 0


def test_a_name_this_run_created_is_looked_up_again_never_created_twice(sandbox, act):
    st = sandbox.state
    site = st.add_location("WSITE", calling_enabled=True)
    st.add_workspace("Sala 0", site)
    a = act(sandbox, "workspace.create")
    _listed(a, site)
    sandbox.log.clear()
    assert a.run({"display_name": "Nueva", "location_id": site}).status == "succeeded"
    assert [r.method for r in sandbox.requests()] == ["POST"]  # the list lacks it: created without a lookup

    sandbox.log.clear()
    res = a.run({"display_name": "Nueva", "location_name": "WSITE"})  # another row naming the same workspace

    assert res.status == "skipped"
    assert [r.method for r in sandbox.requests() if r.path == "/v1/workspaces"] == ["GET"]
    assert len(st.workspaces_by_name("Nueva")) == 1


# --- locations -------------------------------------------------------------------------------------


def _sites(st, n: int) -> list[str]:
    return [st.add_location(f"S{i:03d}", calling_enabled=True) for i in range(n)]


def _site_numbers(i: int) -> list[str]:
    return [f"+3493{i:03d}{j:04d}" for j in range(3)]


def test_100_sites_location_numbers_where_10_need_them_send_the_list_pages_and_10_posts(tmp_path, sandbox):
    st = sandbox.state
    for i, lid in enumerate(_sites(st, 100)):
        if i % 10:
            for n in _site_numbers(i):
                st.add_number(lid, n)
    lines = [f"S{i:03d},\"{','.join(_site_numbers(i))}\"" for i in range(100)]

    assert _run(tmp_path, sandbox, "location.numbers", "name,phone_numbers", lines) == {
        "succeeded": 10, "skipped": 90}

    log = sandbox.requests()
    posts = [r for r in log if r.method == "POST"]
    assert len(posts) == 10 and all(r.status == 201 for r in posts)
    # three sites read one by one, then the org's inventory (one page of 2,000); no re-read after a 201
    assert len(_gets(sandbox, "/telephony/config/numbers")) <= 8
    assert len(log) <= 10 + 2 + 10, [(r.method, r.path) for r in log if r.method == "GET"][:40]
    assert all(sorted(st.numbers_in(st.location_by_name(f"S{i:03d}")["id"])) == _site_numbers(i) for i in range(100))


def test_a_number_added_since_the_inventory_was_listed_is_sent_again_and_ignored(sandbox, act):
    """numbers_auto.py add_phone_numbers_to_a_location: "Phone numbers included in the request that already
    exist in the location will simply be ignored" — a stale list costs one POST, never a failure."""
    st = sandbox.state
    a_site, b_site = _sites(st, 2)
    a = act(sandbox, "location.numbers")
    a.executor.snapshot_after = 0
    assert a.run({"location_id": a_site, "phone_numbers": "+34930000001"}).status == "succeeded"
    st.add_number(b_site, "+34930000002")  # by someone else, after the run listed the inventory
    sandbox.log.clear()

    res = a.run({"location_id": b_site, "phone_numbers": "+34930000002"})

    assert res.status == "succeeded"
    assert [(r.method, r.status) for r in sandbox.requests()] == [("POST", 201)]
    assert list(st.numbers_in(b_site)) == ["+34930000002"]


def test_100_sites_main_number_where_10_need_it_reads_no_site_one_by_one(tmp_path, sandbox):
    st = sandbox.state
    lines = []
    for i, lid in enumerate(_sites(st, 100)):
        number = _site_numbers(i)[0]
        st.add_number(lid, number)
        if i % 10:
            st.api_update_telephony_location(lid, {"callingLineId": {"phoneNumber": number}})
        lines.append(f"S{i:03d},{number}")

    assert _run(tmp_path, sandbox, "location.main_number", "name,calling_line_id", lines) == {
        "succeeded": 10, "skipped": 90}

    log = sandbox.requests()
    assert len([r for r in log if r.method == "PUT"]) == 10
    details = [r for r in log if r.method == "GET" and r.path.startswith("/v1/telephony/config/locations/")]
    assert details == []  # the org's calling locations carry each site's callingLineId
    assert len(log) <= 10 + 3 + 10, [(r.method, r.path) for r in log if r.method == "GET"][:40]


def test_location_pstn_reads_each_connection_but_no_calling_details(tmp_path, sandbox):
    st = sandbox.state
    st.add_route_group("RG_SITES")
    _sites(st, 50)
    lines = [f"S{i:03d},ROUTE_GROUP,RG_SITES" for i in range(50)]

    assert _run(tmp_path, sandbox, "location.pstn", "name,premise_route_type,route_identity", lines) == {
        "succeeded": 50}

    log = sandbox.requests()
    assert not [r for r in log if r.method == "GET" and r.path.startswith("/v1/telephony/config/locations/")]
    assert len([r for r in log if r.path.endswith("/connection") and r.method == "GET"]) == 50  # no list has it
    assert len([r for r in log if r.method == "PUT"]) == 50
    assert len(log) <= 100 + 5, [(r.method, r.path) for r in log if r.method == "GET"][:40]


def test_location_pstn_on_new_sites_sends_the_enable_and_the_connection_and_reads_nothing_per_site(
    tmp_path, sandbox
):
    st = sandbox.state
    st.add_route_group("RG_SITES")
    for i in range(30):
        st.add_location(f"S{i:03d}", calling_enabled=False)
    lines = [f"S{i:03d},ROUTE_GROUP,RG_SITES,es_es,es_ES" for i in range(30)]
    header = "name,premise_route_type,route_identity,announcement_language,preferred_language"

    assert _run(tmp_path, sandbox, "location.pstn", header, lines) == {"succeeded": 30}

    log = sandbox.requests()
    assert len([r for r in log if r.method == "POST" and r.path == "/v1/telephony/config/locations"]) == 30
    assert len([r for r in log if r.method == "PUT"]) == 30
    # the org's calling locations say the sites are not enabled, the org's locations give the enable body
    per_site = ("/v1/locations/", "/v1/telephony/config/locations/", "/v1/telephony/pstn/locations/")
    assert not [r for r in log if r.method == "GET" and r.path.startswith(per_site)]
    assert len(log) <= 60 + 5, [(r.method, r.path) for r in log if r.method == "GET"][:40]
    assert all(loc["_calling"] and loc["_pstn"] for loc in st.locations.values() if loc["name"].startswith("S"))


def test_a_main_number_added_after_the_numbers_list_was_taken_is_read_again_not_failed(sandbox, act):
    """The org's numbers are listed once a run has read a few sites' inventories; a number added since
    (location.numbers earlier in the same run, or another admin) is missing from that list: main_number
    reads the site's inventory again before it fails the row (was: number_not_in_location)."""
    from ledger.actions.location_reads import LOCATION_SNAPSHOT_AFTER

    st = sandbox.state
    sites = _sites(st, LOCATION_SNAPSHOT_AFTER + 3)
    a = act(sandbox, "location.main_number")
    for i, lid in enumerate(sites[:-1]):
        st.add_number(lid, _site_numbers(i)[0])
        assert a.run({"location_id": lid, "calling_line_id": _site_numbers(i)[0]}).status == "succeeded"
    assert [r for r in _gets(sandbox, "/telephony/config/numbers") if "locationId" not in r.query]  # listed
    late = _site_numbers(99)[0]
    st.add_number(sites[-1], late)  # after the list
    sandbox.log.clear()

    res = a.run({"location_id": sites[-1], "calling_line_id": late})

    assert res.status == "succeeded"
    assert st.location_by_name(f"S{len(sites) - 1:03d}")["_callingLineId"]["phoneNumber"] == late
    assert [r.query.get("locationId") for r in _gets(sandbox, "/telephony/config/numbers")] == [sites[-1]]
