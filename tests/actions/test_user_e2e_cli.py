"""End to end: the operators' sample Usuarios.csv (+ global.csv) through `ledger import` and `ledger work`
against a sandbox seeded from the same samples, for every user action."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
USUARIOS, GLOBAL, UBICACIONES = SAMPLES / "Usuarios.csv", SAMPLES / "global.csv", SAMPLES / "Ubicaciones.csv"
ACTIONS = ("user.forwarding", "user.outgoing_permissions", "user.scim_create", "user.licenses", "user.secondary_number")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@pytest.fixture(autouse=True)
def quick_move_polls(monkeypatch):
    """The sandbox's jobs end on their third status read; poll them without the real 1-2-4 s back-off."""
    from ledger.actions.moves import UserMoveLocation

    monkeypatch.setattr(UserMoveLocation, "poll_first_s", 0.01)


@pytest.fixture
def seeded(sandbox):
    if not USUARIOS.exists():
        pytest.skip("the operators' sample files are not available")
    st = sandbox.state
    summary = st.seed_from_samples(UBICACIONES, USUARIOS, GLOBAL, users=False, calling_enabled=True)
    site = summary["locations"]["CUV93470292900"]
    people = {
        "andres.garcia@lab.example.com": st.add_person(
            "andres.garcia@lab.example.com",
            "Andres",
            "García-Toñez",
            location_id=site,
            extension="80347245",
            calling=True,
        ),
        "carmen.munoz@lab.example.com": st.add_person(
            "carmen.munoz@lab.example.com", "Carmen", "Muñoz", location_id=site, extension="80347246", calling=True
        ),
        # Jose has no Webex Calling: his forwarding row must fail alone, with its line
        "jose.lopez@lab.example.com": st.add_person("jose.lopez@lab.example.com", "Jose", "Lopez"),
    }
    sandbox.log.clear()
    return people


def _import_all(runner: CliRunner, db: Path) -> dict[str, str]:
    outputs = {}
    for action in (*ACTIONS, "user.move_location"):
        res = runner.invoke(
            cli, ["--db", str(db), "import", str(USUARIOS), "--action", action, "--global", str(GLOBAL)]
        )
        outputs[action] = res.output
        if action == "user.move_location":  # Usuarios.csv has no location column: a whole-file error
            assert res.exit_code != 0
            assert "location_id" in res.output and "Traceback" not in res.output
        else:
            assert res.exit_code == 0, res.output
    return outputs


def _work(runner: CliRunner, db: Path, sb) -> None:
    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
    res = runner.invoke(cli, ["--db", str(db), "work"], env=env)
    assert res.exit_code == 0, res.output
    assert sb.token not in res.output


def _rows(db: Path) -> dict[tuple[str, int], tuple[str, str | None, str | None]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT action, line_no, status, error_code, error_message FROM ledger").fetchall()
    return {(a, line): (status, code, msg) for a, line, status, code, msg in rows}


def _move_through_work(tmp_path: Path, sandbox, moves: list[tuple[str, str]]) -> Path:
    """Import ``moves`` (email, target site) for user.move_location, clear the request log, ``ledger work``."""
    move = tmp_path / "move.csv"
    move.write_text("email,location_name\n" + "".join(f"{email},{site}\n" for email, site in moves))
    db = tmp_path / "ledger.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(move), "--action", "user.move_location"]).exit_code == 0
    sandbox.log.clear()
    _work(runner, db, sandbox)
    return db


def test_sample_usuarios_end_to_end(tmp_path, sandbox, seeded):
    runner = CliRunner()
    db = tmp_path / "ledger.db"
    _import_all(runner, db)
    _work(runner, db, sandbox)

    rows = _rows(db)
    status = {k: v[0] for k, v in rows.items()}
    assert status == {
        ("user.forwarding", 2): "succeeded",
        ("user.forwarding", 3): "succeeded",
        ("user.forwarding", 4): "failed",
        ("user.outgoing_permissions", 2): "succeeded",
        ("user.outgoing_permissions", 3): "succeeded",
        ("user.outgoing_permissions", 4): "succeeded",
        ("user.scim_create", 2): "skipped",
        ("user.scim_create", 3): "skipped",
        ("user.scim_create", 4): "skipped",
        **{("user.licenses", n): "invalid" for n in (2, 3, 4)},
        # the sample's legacy_phone_number is empty: those users have no legacy number (issue 13)
        **{("user.secondary_number", n): "nothing_to_do" for n in (2, 3, 4)},
    }
    assert rows[("user.forwarding", 4)][1] == "1026010"
    assert "jose.lopez@lab.example.com" in rows[("user.forwarding", 4)][2]
    assert "add_license_ids" in rows[("user.licenses", 2)][2]
    assert rows[("user.secondary_number", 2)][2] == "nothing to do: legacy_phone_number empty"

    st = sandbox.state
    andres, carmen = seeded["andres.garcia@lab.example.com"], seeded["carmen.munoz@lab.example.com"]
    # the sample's own destinations (53 + extension without its leading 8), sent as full objects
    assert st.forwarding_of(andres)["callForwarding"]["always"] == {
        "enabled": True,
        "destination": "530347245",
        "ringReminderEnabled": False,
        "destinationVoicemailEnabled": False,
    }
    assert st.forwarding_of(carmen)["callForwarding"]["always"]["destination"] == "530347246"
    perms = st.permissions_of(andres)
    assert (perms["useCustomEnabled"], perms["useCustomPermissions"]) == (False, True)
    intl = next(p for p in perms["callingPermissions"] if p["callType"] == "INTERNATIONAL")
    assert (intl["action"], intl["transferEnabled"]) == ("BLOCK", True)
    assert st.permissions_of(carmen)["useCustomEnabled"] is True
    assert all(st.create_count(e) == 0 for e in seeded)  # SCIM created nobody: they all existed


def _org_settings(sandbox) -> str:
    import json

    st = sandbox.state
    return json.dumps({pid: (st.forwarding_of(pid), st.permissions_of(pid)) for pid in sorted(st.people)},
                      sort_keys=True, default=str)


def test_second_ledger_on_the_same_org_changes_nothing(tmp_path, sandbox, seeded):
    runner = CliRunner()
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    _import_all(runner, first)
    _work(runner, first, sandbox)
    sandbox.log.clear()
    before = _org_settings(sandbox)

    _import_all(runner, second)
    _work(runner, second, sandbox)

    status = {k: v[0] for k, v in _rows(second).items()}
    # forwarding and outgoing permissions are written first (no list carries them: a read would cost
    # the same request); their PUTs are idempotent: the org's settings are what the first ledger left
    settings = {"user.forwarding", "user.outgoing_permissions"}
    assert {a for (a, _), v in status.items() if v == "succeeded"} == settings
    assert {v for (a, _), v in status.items() if a not in settings} <= {"skipped", "invalid", "nothing_to_do"}
    # the other writes: SCIM's bulk POST, whose operations all answered 409 (nothing created)
    writes = [(r.method, r.path) for r in sandbox.requests() if r.method in WRITES]
    assert [m for m, _ in writes if "/features/" not in _] == ["POST"] and writes[0][1].endswith("/v2/Bulk")
    puts = sorted(p.rsplit("/", 1)[1] for m, p in writes if m == "PUT")
    # one PUT per row that ran (a refused one is then read to explain it: not a calling user)
    per_action = {a: sum(1 for (b, _), v in status.items() if b == a and v in ("succeeded", "failed"))
                  for a in settings}
    assert puts == ["callForwarding"] * per_action["user.forwarding"] + [
        "outgoingPermission"] * per_action["user.outgoing_permissions"]
    assert before == _org_settings(sandbox)


def test_scim_create_250_rows_through_ledger_work_takes_at_most_3_bulk_requests(tmp_path, sandbox):
    csv_path = tmp_path / "scim.csv"
    lines = ["email,first_name,last_name,org_id"]
    lines += [f"bulk{i:04d}@example.com,Bulk,User {i},{sandbox.state.org_id}" for i in range(250)]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "ledger.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(csv_path), "--action", "user.scim_create"]).exit_code == 0

    _work(runner, db, sandbox)

    posts = [r for r in sandbox.requests() if r.method == "POST" and r.path.endswith("/v2/Bulk")]
    assert 1 <= len(posts) <= 3
    assert sum(len(p.body["operations"]) for p in posts) == 250
    status = {k: v[0] for k, v in _rows(db).items()}
    assert set(status.values()) == {"succeeded"} and len(status) == 250
    assert all(sandbox.state.create_count(f"bulk{i:04d}@example.com") == 1 for i in range(250))
    with sqlite3.connect(db) as conn:
        results = conn.execute(
            "SELECT json_extract(result, '$.email'), json_extract(result, '$.user_id') FROM ledger"
        ).fetchall()
    from ledger.sandbox.ids import key

    assert {email: uid for email, uid in results} == {
        f"bulk{i:04d}@example.com": key(sandbox.state.person_by_email(f"bulk{i:04d}@example.com")["id"])
        for i in range(250)
    }


def test_dry_run_work_writes_nothing_to_webex(tmp_path, sandbox, seeded):
    runner = CliRunner()
    db = tmp_path / "ledger.db"
    _import_all(runner, db)
    env = {"WEBEX_BASE_URL": sandbox.base_url, "WEBEX_ACCESS_TOKEN": sandbox.token}

    res = runner.invoke(cli, ["--db", str(db), "work", "--dry-run"], env=env)

    assert res.exit_code == 0, res.output
    assert [r for r in sandbox.requests() if r.method in WRITES] == []
    assert sandbox.requests(), "the dry run still reads (resolution, current state)"
    andres = seeded["andres.garcia@lab.example.com"]
    assert sandbox.state.forwarding_of(andres)["callForwarding"]["always"]["enabled"] is False


def test_faults_scim_and_forwarding_end_final_without_duplicates(tmp_path, sandbox_factory):
    from ledger.sandbox import FaultConfig

    sb = sandbox_factory(seed=5)
    loc = sb.state.add_location("HQ", calling_enabled=True)
    fwd_csv, scim_csv = tmp_path / "fwd.csv", tmp_path / "scim.csv"
    fwd_lines, scim_lines = ["email,extension"], ["email,first_name,last_name"]
    people = {}
    for i in range(60):
        email = f"cu{i:03d}@example.com"
        people[email] = sb.state.add_person(email, "C", str(i), location_id=loc, extension=f"7{i:03d}", calling=True)
        fwd_lines.append(f"{email},7{i:03d}")
    scim_lines += [f"new{i:03d}@example.com,New,{i}" for i in range(150)]
    fwd_csv.write_text("\n".join(fwd_lines) + "\n")
    scim_csv.write_text("\n".join(scim_lines) + "\n")
    glob = tmp_path / "global.csv"
    glob.write_text(f"org_id\n{sb.state.org_id}\n")
    db = tmp_path / "ledger.db"
    runner = CliRunner()
    for path, action in ((fwd_csv, "user.forwarding"), (scim_csv, "user.scim_create")):
        res = runner.invoke(cli, ["--db", str(db), "import", str(path), "--action", action, "--global", str(glob)])
        assert res.exit_code == 0, res.output
    # 5 % of requests fail with 503 and 8 % are applied with their answer lost (ambiguous writes)
    sb.faults = FaultConfig(p503=0.05, plost=0.08)

    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
    res = runner.invoke(cli, ["--db", str(db), "work", "--retry-profile", "fast"], env=env)

    assert res.exit_code == 0, res.output
    faults = [r.fault for r in sb.requests()]
    assert faults.count("lost") >= 3 and faults.count("503") >= 3
    status = {k: v[0] for k, v in _rows(db).items()}
    assert len(status) == 210
    assert set(status.values()) <= {"succeeded", "skipped"}, [
        k for k, v in status.items() if v not in ("succeeded", "skipped")
    ]
    for i in range(150):
        assert sb.state.create_count(f"new{i:03d}@example.com") == 1
    for i, pid in enumerate(people.values()):
        assert sb.state.forwarding_of(pid)["callForwarding"]["always"]["destination"] == f"537{i:03d}"
    # forwarding is written first; after a PUT whose answer was lost the retry re-checks: it reads first
    by_person: dict[str, list] = {}
    for r in sb.requests():
        if r.path.endswith("/features/callForwarding"):
            by_person.setdefault(r.path.split("/")[3], []).append(r)
    lost_puts = 0
    for seq in by_person.values():
        assert seq[0].method == "PUT"  # a first attempt sends the write alone
        for before, after in zip(seq, seq[1:]):
            if before.method == "PUT" and before.fault == "lost":
                lost_puts += 1
                assert after.method == "GET"
    assert lost_puts >= 1


def test_licences_move_and_secondary_number_through_ledger_work(tmp_path, sandbox):
    st = sandbox.state
    hq = st.add_location("HQ", calling_enabled=True)
    st.add_location("BRANCH", calling_enabled=True)
    for n in ("+34935550001", "+34935550002"):
        st.add_number(hq, n)
    ftc, bcstd = st.license_by_sku("FTC")["id"], st.license_by_sku("BCSTD")["id"]
    ana = st.add_person("ana@example.com", "Ana", "A", licenses=[ftc])
    bob = st.add_person("bob@example.com", "Bob", "B", licenses=[ftc])
    glob = tmp_path / "global.csv"
    glob.write_text(f"org_id\n{st.org_id}\n")
    lic = tmp_path / "lic.csv"
    lic.write_text(
        "email,add_license_ids,remove_license_ids,location_name,extension\n"
        f"ana@example.com,Webex Calling - Professional,{ftc},HQ,1001\n"
        f"bob@example.com,{bcstd},,HQ,1002\n"
        "ghost@example.com,Webex Calling - Professional,,HQ,1003\n"
        f"bob@example.com,{ftc},,NOWHERE,1004\n"  # a duplicate key: invalid at import
    )
    sec = tmp_path / "sec.csv"
    sec.write_text("email,legacy_phone_number\nana@example.com,34935550001\nbob@example.com,+34935550002\n")
    move = tmp_path / "move.csv"
    move.write_text("email,location_name\nana@example.com,BRANCH\nbob@example.com,MARS\n")
    db = tmp_path / "ledger.db"
    runner = CliRunner()
    # the order matters: licences make them calling users, then numbers, then the move
    for path, action in ((lic, "user.licenses"), (sec, "user.secondary_number"), (move, "user.move_location")):
        res = runner.invoke(cli, ["--db", str(db), "import", str(path), "--action", action, "--global", str(glob)])
        assert res.exit_code == 0, res.output
        _work(runner, db, sandbox)

    rows = _rows(db)
    assert {k: v[0] for k, v in rows.items()} == {
        ("user.licenses", 2): "succeeded",
        ("user.licenses", 3): "succeeded",
        ("user.licenses", 4): "failed",
        ("user.licenses", 5): "invalid",
        ("user.secondary_number", 2): "succeeded",
        ("user.secondary_number", 3): "succeeded",
        ("user.move_location", 2): "succeeded",
        ("user.move_location", 3): "failed",
    }
    assert "ghost@example.com" in rows[("user.licenses", 4)][2]
    assert "MARS" in rows[("user.move_location", 3)][2]
    a, b = st.get_person(ana), st.get_person(bob)
    assert sorted(a["licenses"]) == [bcstd] and sorted(b["licenses"]) == sorted([ftc, bcstd])
    assert (a["extension"], b["extension"]) == ("1001", "1002")
    assert [x["directNumber"] for x in a["_features"]["alternates"]] == ["+34935550001"]
    assert [x["directNumber"] for x in b["_features"]["alternates"]] == ["+34935550002"]
    assert a["locationId"] == st.location_by_name("BRANCH")["id"] and b["locationId"] == hq


def test_outgoing_permissions_from_a_profile_file(tmp_path, sandbox, seeded):
    import json

    profile = tmp_path / "profile.json"
    profile.write_text(
        json.dumps(
            {
                "use_custom_enabled": True,
                "use_custom_permissions": True,
                "calling_permissions": [
                    {"call_type": "INTERNAL_CALL", "action": "ALLOW", "transfer_enabled": True},
                    {"call_type": "NATIONAL", "action": "BLOCK", "transfer_enabled": False},
                ],
            }
        )
    )
    csv_path = tmp_path / "users.csv"
    csv_path.write_text("email\nandres.garcia@lab.example.com\ncarmen.munoz@lab.example.com\n")
    db = tmp_path / "ledger.db"
    runner = CliRunner()
    args = ["--db", str(db), "import", str(csv_path), "--action", "user.outgoing_permissions"]
    res = runner.invoke(cli, [*args, "--global", str(GLOBAL), "--profile", str(profile)])
    assert res.exit_code == 0, res.output
    _work(runner, db, sandbox)

    assert {v[0] for v in _rows(db).values()} == {"succeeded"}
    for email in ("andres.garcia@lab.example.com", "carmen.munoz@lab.example.com"):
        perms = sandbox.state.permissions_of(seeded[email])
        assert (perms["useCustomEnabled"], perms["useCustomPermissions"]) == (True, True)
        national = next(p for p in perms["callingPermissions"] if p["callType"] == "NATIONAL")
        assert (national["action"], national["transferEnabled"]) == ("BLOCK", False)
    # written first, without a read: everything the profile sets, in one PUT per user
    bodies = [r.body for r in sandbox.requests() if r.path.endswith("/outgoingPermission")]
    assert [[p["callType"] for p in b["callingPermissions"]] for b in bodies] == [["INTERNAL_CALL", "NATIONAL"]] * 2


def test_profile_with_a_v21_call_type_is_refused_at_import(tmp_path):
    import json

    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"calling_permissions": [{"call_type": "INTERNAL", "action": "ALLOW"}]}))
    csv_path = tmp_path / "users.csv"
    csv_path.write_text("email\na@example.com\n")
    res = CliRunner().invoke(
        cli,
        [
            "--db",
            str(tmp_path / "l.db"),
            "import",
            str(csv_path),
            "--action",
            "user.outgoing_permissions",
            "--profile",
            str(profile),
        ],
    )
    assert res.exit_code != 0
    assert "INTERNAL" in res.output and "Traceback" not in res.output


def test_move_job_busy_pauses_and_then_moves_through_ledger_work(tmp_path, sandbox):
    st = sandbox.state
    hq = st.add_location("HQ", calling_enabled=True)
    branch = st.add_location("BRANCH", calling_enabled=True)
    pid = st.add_person("ana@example.com", "Ana", "A", location_id=hq, extension="1001", calling=True)
    st.move_busy = 1  # the first move POST answers 409: another move job is running in the org
    db = _move_through_work(tmp_path, sandbox, [("ana@example.com", "BRANCH")])

    assert _rows(db) == {("user.move_location", 2): ("succeeded", None, None)}
    posts = [r.status for r in sandbox.requests() if r.method == "POST" and r.path.endswith("/moveLocation")]
    assert posts == [409, 200]
    assert st.get_person(pid)["locationId"] == branch


def test_50_user_move_to_one_site_through_ledger_work_uses_one_job(tmp_path, sandbox):
    st = sandbox.state
    hq = st.add_location("HQ", calling_enabled=True)
    branch = st.add_location("BRANCH", calling_enabled=True)
    pids = [st.add_person(f"m{i:02d}@example.com", "M", str(i), location_id=hq, extension=str(3000 + i), calling=True)
            for i in range(50)]
    db = _move_through_work(tmp_path, sandbox, [(f"m{i:02d}@example.com", "BRANCH") for i in range(50)])

    assert {v[0] for v in _rows(db).values()} == {"succeeded"}
    posts = [r for r in sandbox.requests() if r.method == "POST" and r.path.endswith("/moveLocation")]
    assert len(posts) == 1 and len(posts[0].body["usersList"][0]["users"]) == 50
    assert all(st.get_person(p)["locationId"] == branch for p in pids)


def test_interleaved_move_targets_are_grouped_into_one_job_per_target(tmp_path, sandbox):
    """The worker groups a claimed batch's rows by the executor's bulk_key (the target) before cutting
    groups: rows alternating two sites make two jobs, not forty."""
    st = sandbox.state
    hq = st.add_location("HQ", calling_enabled=True)
    sites = {"A": st.add_location("A", calling_enabled=True), "B": st.add_location("B", calling_enabled=True)}
    for i in range(40):
        st.add_person(f"g{i:02d}@example.com", "G", str(i), location_id=hq, extension=str(4000 + i), calling=True)
    db = _move_through_work(tmp_path, sandbox, [(f"g{i:02d}@example.com", "AB"[i % 2]) for i in range(40)])

    assert {v[0] for v in _rows(db).values()} == {"succeeded"}
    posts = [r.body["usersList"][0] for r in sandbox.requests() if r.method == "POST" and r.path.endswith("/moveLocation")]
    assert sorted((p["locationId"], len(p["users"])) for p in posts) == sorted((sites[s], 20) for s in "AB")
