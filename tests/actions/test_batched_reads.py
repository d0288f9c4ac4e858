"""Batched reads (issue 14): the org's people are listed once per run instead of read row by row; rows
already in the desired state end skipped with no request; a stale snapshot never creates twice."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _work(db: Path, sb, *args: str) -> None:
    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
    res = CliRunner().invoke(cli, ["--db", str(db), "work", *args], env=env)
    assert res.exit_code == 0, res.output


def _statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM ledger GROUP BY status").fetchall())


def test_500_user_licences_where_50_need_a_change_send_the_list_pages_and_50_patches(tmp_path, sandbox):
    st = sandbox.state
    ftc = st.license_by_sku("FTC")["id"]
    for i in range(500):
        st.add_person(f"l{i:03d}@example.com", "L", str(i), licenses=[ftc] if i % 10 else [])
    csv_path = tmp_path / "lic.csv"
    csv_path.write_text("email,add_license_ids\n" + "".join(f"l{i:03d}@example.com,{ftc}\n" for i in range(500)))
    db = tmp_path / "ledger.db"
    assert CliRunner().invoke(cli, ["--db", str(db), "import", str(csv_path), "--action", "user.licenses"]).exit_code == 0
    sandbox.log.clear()

    _work(db, sandbox)

    assert _statuses(db) == {"succeeded": 50, "skipped": 450}
    log = sandbox.requests()
    patches = [r for r in log if r.method == "PATCH"]
    pages = [r for r in log if r.method == "GET" and r.path == "/v1/people" and "email" not in r.query]
    assert len(patches) == 50 and all(r.status == 200 for r in patches)
    assert len(pages) == 5  # 500 people, 100 a page (the contract's cap with callingData=true)
    # the list pages + 50 PATCHes + a small constant: the reads made before the snapshot was worth it
    # (SNAPSHOT_AFTER person reads, a few more while 4 threads start) and the licence catalogue
    assert len(log) <= len(pages) + 50 + 20, [(r.method, r.path) for r in log if r.method == "GET"][:40]
    assert not [r for r in log if r.method in WRITES and r.method != "PATCH"]
    assert all(any(x == ftc for x in st.person_by_email(f"l{i:03d}@example.com")["licenses"]) for i in range(500))


def test_a_create_the_snapshot_does_not_know_is_answered_409_looked_up_and_skipped(sandbox, act):
    st = sandbox.state
    for i in range(3):
        st.add_person(f"old{i}@example.com", "O", str(i))
    a = act(sandbox, "user.create")
    a.executor.snapshot_after = 0  # list at once
    assert a.run({"email": "old1@example.com", "first_name": "O", "last_name": "1"}).status == "skipped"
    # created by someone else after the run listed the org: the snapshot is stale for this email
    st.add_person("late@example.com", "Late", "Comer")
    sandbox.log.clear()
    res = a.run({"email": "late@example.com", "first_name": "Late", "last_name": "Comer"})
    assert res.status == "skipped" and res.result["reason"] == "user_already_exists"
    assert [(r.method, r.status) for r in sandbox.requests()] == [("POST", 409), ("GET", 200)]
    assert len(st.people_by_email("late@example.com")) == 1 and st.create_count("late@example.com") == 0
    # a new email: one request, the create (no lookup)
    sandbox.log.clear()
    assert a.run({"email": "new@example.com", "first_name": "N", "last_name": "N"}).status == "succeeded"
    assert [r.method for r in sandbox.requests()] == ["POST"]


def test_a_person_this_run_wrote_is_read_again_and_a_recovered_row_reads_itself(sandbox, act):
    import dataclasses

    st = sandbox.state
    ftc, bcca = st.license_by_sku("FTC")["id"], st.license_by_sku("BCCA")["id"]
    pid = st.add_person("w@example.com", "W", "W")
    a = act(sandbox, "user.licenses")
    a.executor.snapshot_after = 0
    assert a.run({"email": "w@example.com", "add_license_ids": ftc}).status == "succeeded"
    sandbox.log.clear()
    # the snapshot still lists w without FTC; the run wrote w, so it reads w again: FTC is held, skipped
    assert a.run({"email": "w@example.com", "add_license_ids": ftc}).status == "skipped"
    assert [r.path for r in sandbox.requests()] == [f"/v1/people/{pid}"]
    other = st.add_person("x@example.com", "X", "X", licenses=[bcca])
    a2 = act(sandbox, "user.licenses")
    a2.executor.snapshot_after = 0
    row = a2.row({"email": "x@example.com", "remove_license_ids": bcca})
    a2.executor.people_snapshot(row)  # listed now: x holds BCCA
    st.get_person(other)["licenses"] = []  # changed behind the snapshot's back (say, before a crash)
    sandbox.log.clear()
    res = a2.executor.execute(dataclasses.replace(row, recovered=True))
    assert res.status == "skipped" and [r.method for r in sandbox.requests()] == ["GET"]


def test_workspace_names_resolve_from_one_list_of_the_org_s_workspaces(sandbox, act):
    st = sandbox.state
    loc = st.add_location("WS-SITE", calling_enabled=True)
    for i in range(40):
        st.add_workspace(f"Room {i:02d}", loc, calling="webexCalling", extension=str(7000 + i))
    a = act(sandbox, "workspace.forwarding")
    sandbox.log.clear()
    for i in range(40):
        res = a.run({"workspace_name": f"Room {i:02d}", "destination": f"53{7000 + i}"})
        assert res.status == "succeeded"
    lookups = [r for r in sandbox.requests() if r.method == "GET" and r.path == "/v1/workspaces"]
    by_name = [r for r in lookups if "displayName" in r.query]
    assert len(by_name) == 10 and len(lookups) == 11  # ten one by one, then the org's workspaces once
    # a workspace created after the list is still found (looked up by name)
    st.add_workspace("Late Room", loc, calling="webexCalling", extension="7999")
    assert a.run({"workspace_name": "Late Room", "destination": "537999"}).status == "succeeded"


def test_people_created_after_the_list_are_found_and_the_list_is_read_again_once_it_pays(sandbox, act):
    """One run of create → licences: the list taken before the creates lacks the new users; the single
    reads they cost are counted, and once they cost as much as listing again, the org is listed again."""
    st = sandbox.state
    ftc = st.license_by_sku("FTC")["id"]
    for i in range(3):
        st.add_person(f"old{i}@example.com", "O", str(i))
    a = act(sandbox, "user.licenses")
    a.executor.snapshot_after = 4
    row = a.row({"email": "old0@example.com", "add_license_ids": ftc})
    a.executor.people_snapshot_now(row)  # listed: 3 people (1 page)
    for i in range(20):
        st.add_person(f"new{i:02d}@example.com", "N", str(i))  # created since (by this run's create step)
    sandbox.log.clear()
    for i in range(20):
        assert a.run({"email": f"new{i:02d}@example.com", "add_license_ids": ftc}).status == "succeeded"
    log = sandbox.requests()
    lists = [r for r in log if r.method == "GET" and r.path == "/v1/people" and "email" not in r.query]
    lookups = [r for r in log if r.method == "GET" and r.path == "/v1/people" and "email" in r.query]
    assert len(lists) == 1  # listed again after 4 single reads (2 rows: lookup + read each)
    assert len(lookups) == 2 and len([r for r in log if r.method == "PATCH"]) == 20
    # new00 was written (PATCH) before the second list: the run still reads it itself, not the list
    sandbox.log.clear()
    assert a.run({"email": "new00@example.com", "add_license_ids": ftc}).status == "skipped"
    assert [r.path for r in sandbox.requests()] == [f"/v1/people/{st.person_by_email('new00@example.com')['id']}"]


@pytest.mark.parametrize(("every", "batch_size"), [(10, "200"), (4, "50")])
def test_a_scim_re_run_sends_full_bulks_of_the_rows_that_need_a_create(tmp_path, sandbox, every, batch_size):
    """A re-run of an applied 1,000-row SCIM file where every ``every``-th user is missing: the rows the
    people list shows end skipped without taking a slot of a bulk, so the creates go in bulks of 100
    filled across claimed batches (was: one bulk per claimed group of 100 rows — 10 bulks of ~10 here)."""
    st = sandbox.state
    emails = [f"s{i:04d}@example.com" for i in range(1000)]
    missing = emails[::every]
    for e in emails:
        if e not in missing:
            st.add_person(e, "Old", "User")
    csv_path = tmp_path / "scim.csv"
    csv_path.write_text("email,first_name,last_name,org_id\n" + "".join(f"{e},Ana,Puig,{st.org_id}\n" for e in emails))
    db = tmp_path / "ledger.db"
    res = CliRunner().invoke(cli, ["--db", str(db), "import", str(csv_path), "--action", "user.scim_create"])
    assert res.exit_code == 0, res.output
    sandbox.log.clear()

    _work(db, sandbox, "--batch-size", batch_size)

    assert _statuses(db) == {"succeeded": len(missing), "skipped": 1000 - len(missing)}
    log = sandbox.requests()
    bulks = [r for r in log if r.method == "POST" and r.path.endswith("/v2/Bulk")]
    pages = [r for r in log if r.method == "GET" and r.path == "/v1/people" and "email" not in r.query]
    sent = sorted(len(r.body["operations"]) for r in bulks)
    assert sent == [len(missing) % 100] * bool(len(missing) % 100) + [100] * (len(missing) // 100)
    assert {op["data"]["userName"] for r in bulks for op in r.body["operations"]} == set(missing)
    assert len(pages) <= 1000 // 100  # the people listed once, 100 a page (the contract's cap)
    assert len(log) <= math.ceil(len(missing) / 100) + len(pages) + 2, [(r.method, r.path) for r in log]
    assert all(st.create_count(e) == 1 for e in missing)
