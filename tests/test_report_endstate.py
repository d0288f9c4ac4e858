"""`ledger report`'s end state files on a real ledger: entities.csv, the fix-up files (and importing
one back), report.html and plan.csv. Outcomes are set with SQL as a run would leave them; the
sandbox round trip is in tests/actions/test_report_e2e_cli.py."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result

from ledger.actions import get_spec
from ledger.importing.fixups import replaced_rows
from ledger.importing.importer import import_file
from ledger.reporting.entities import entity_of
from ledger.reporting.html import esc
from ledger.store.queries import CurrentRow
from worker_support import ledger_tuples

LIC = "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UveA"  # ciscospark://us/LICENSE/x
# a Spanish-Excel file: BOM, ';' delimiter, a column no action uses
PEOPLE = (  # L1 stands for LIC
    "\ufeffemail;first_name;last_name;location_name;add_license_ids;notes\r\n"
    "a@x.com;Ann;A;HQ;L1;keep me\r\n"  # 2: create ok, licences ok
    "b@x.com;Bob;B;HQ;L1;\r\n"  # 3: create failed 400 → licences failed prerequisite
    "bad@;Bad;<script>alert(1)</script>;HQ;L1;x\r\n"  # 4: invalid in both
    "d@x.com;Dee;D;BRANCH;L1;\r\n"  # 5: create ok, licences pending
).replace("L1", LIC)


def _set(engine: sa.Engine, import_id: int, line: int, status: str, message: str | None = None, **extra: object) -> None:
    fields = {"status": status, "error_message": message, **extra}
    sets = ", ".join(f"{k} = :{k}" for k in fields)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE ledger SET {sets} WHERE import_id = :i AND line_no = :l"), {**fields, "i": import_id, "l": line})


@pytest.fixture
def people(tmp_path: Path, engine: sa.Engine) -> Path:
    """people.csv imported for user.create (1) and user.licenses --after 1 (2), left as commented above."""
    f = tmp_path / "people.csv"
    f.write_bytes(PEOPLE.encode("utf-8"))
    import_file(engine, get_spec("user.create"), f)
    import_file(engine, get_spec("user.licenses"), f, after=[1])
    _set(engine, 1, 2, "succeeded")
    _set(engine, 1, 3, "failed", "create user b@x.com: HTTP 400 [Error 25008] Invalid request", error_kind="row", http_status=400, error_code="25008")
    _set(engine, 1, 5, "succeeded")
    _set(engine, 2, 2, "succeeded")
    _set(engine, 2, 3, "failed", "prerequisite failed: import 1 line 3 (user.create)", error_kind="row", error_code="prerequisite_failed")
    return f


def _csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def test_entities_csv_lists_the_entities_that_need_attention_one_column_per_step(
    people: Path, run_cli: Callable[..., Result], tmp_path: Path, ledger_path: Path
) -> None:
    """b (failed) and the invalid line are listed; a (complete) and d (pending: its licence waits for
    the next run) are counted in run_summary.json and listed by the ledger's entities view."""
    out = tmp_path / "r"
    result = run_cli("report", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert _csv(out / "entities.csv") == [
        ["kind", "entity", "site", "state", "user.create", "user.licenses", "first_error"],
        ["person", "b@x.com", "HQ", "failed", "failed", "failed",
         "user.create: failed: create user b@x.com: HTTP 400 [Error 25008] Invalid request (people.csv line 3)"],
        ["person", "people.csv line 4 (bad@)", "HQ", "failed", "invalid", "invalid",
         "user.create: invalid: column 'email': not a valid email address ('bad@') (people.csv line 4)"],
    ]
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["entities"] == {"person": {"total": 4, "complete": 1, "failed": 2, "pending": 1}}
    assert summary["entities_listed"] == 2
    assert (
        f"wrote {out / 'entities.csv'} (2 entities that need attention; all entities: person 4 (1 complete)) "
        f"and {out / 'report.html'}"
    ) in result.stdout
    view = ledger_tuples(ledger_path, "SELECT kind, entity_key, site_key, state, steps FROM entities ORDER BY entity_key")
    assert view == [
        ("person", "person:a@x.com", "site:hq", "complete", 2),
        ("person", "person:b@x.com", "site:hq", "failed", 2),
        ("person", "person:d@x.com", "site:branch", "pending", 2),
    ]


def test_fixup_file_keeps_the_source_layout_and_lists_every_steps_error(people: Path, run_cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = run_cli("report", "--out", str(out))
    fixup = out / "fixup" / "people.fixup.csv"
    raw = fixup.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the source's BOM and delimiter are kept
    assert _csv(fixup, ";") == [
        ["email", "first_name", "last_name", "location_name", "add_license_ids", "notes", "ledger_errors"],
        ["b@x.com", "Bob", "B", "HQ", LIC, "",
         "user.create (import 1 line 3): failed: create user b@x.com: HTTP 400 [Error 25008] Invalid request | "
         "user.licenses (import 2 line 3): failed: prerequisite failed: import 1 line 3 (user.create)"],
        ["bad@", "Bad", "<script>alert(1)</script>", "HQ", LIC, "x",
         "user.create (import 1 line 4): invalid: column 'email': not a valid email address ('bad@') | "
         "user.licenses (import 2 line 4): invalid: column 'email': not a valid email address ('bad@')"],
    ]
    assert f"wrote {fixup}: 2 lines of people.csv to correct; then:" in result.stdout
    assert f"  ledger import {fixup} --action user.create\n  ledger import {fixup} --action user.licenses" in result.stdout


def test_a_fixup_file_imports_back_and_its_errors_column_is_ignored_silently(people: Path, run_cli: Callable[..., Result], tmp_path: Path, engine: sa.Engine) -> None:
    out = tmp_path / "r"
    run_cli("report", "--out", str(out))
    fixup = out / "fixup" / "people.fixup.csv"
    text = fixup.read_text(encoding="utf-8-sig").replace("bad@;", "bad@x.com;")  # the operator's correction
    fixup.write_text(text, encoding="utf-8-sig")
    result = run_cli("import", str(fixup), "--action", "user.create")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith("→ user.create: 2 rows, 2 pending, 0 invalid")
    assert "ignored columns (not used by user.create): notes" in result.stdout  # 'ledger_errors' is not listed
    assert "  fix-up file: replaces 2 rows of import 1 (the lines its ledger_errors column names)" in result.stdout
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT line_no, status, payload FROM ledger WHERE import_id = 3 ORDER BY line_no")).all()
        old = conn.execute(sa.text(
            "SELECT o.line_no, o.status, n.line_no FROM ledger AS o JOIN ledger AS n ON n.id = o.superseded_by "
            "WHERE o.import_id = 1 ORDER BY o.line_no"
        )).all()
    assert [(r.line_no, r.status, json.loads(r.payload)["email"]) for r in rows] == [(2, "pending", "b@x.com"), (3, "pending", "bad@x.com")]
    assert all("ledger_errors" not in json.loads(r.payload) for r in rows)
    # the failed row (line 3) and the invalid one (line 4, whose email the correction changed) are replaced
    assert [tuple(r) for r in old] == [(3, "superseded", 2), (4, "superseded", 3)]


def test_a_windows_1252_source_gets_a_windows_1252_fixup_file(run_cli: Callable[..., Result], tmp_path: Path, ledger_path: Path) -> None:
    """A Spanish Excel 'CSV' (Windows-1252): the fix-up file is written the same way, so Excel shows
    'Toñez' (not 'ToÃ±ez' from UTF-8 bytes) and the corrected file imports back with the same names."""
    f = tmp_path / "Usuarios.csv"
    f.write_bytes("email;first_name;last_name\r\nandres@x.com;Andrés;García-Toñez\r\nbad@;Núria;Puig\r\n".encode("cp1252"))
    assert run_cli("import", str(f), "--action", "user.create").exit_code == 0
    out = tmp_path / "r"
    assert run_cli("report", "--out", str(out)).exit_code == 0
    fixup = out / "fixup" / "Usuarios.fixup.csv"
    text = fixup.read_bytes().decode("cp1252")  # not UTF-8: 'Ã' would appear
    assert "bad@;Núria;Puig;" in text and "Ã" not in text
    fixup.write_bytes(text.replace("bad@;", "nuria@x.com;").encode("cp1252"))
    back = run_cli("import", str(fixup), "--action", "user.create")
    assert back.exit_code == 0 and "read as Windows-1252" in back.stdout, back.output
    assert json.loads(ledger_tuples(ledger_path, "SELECT payload FROM ledger ORDER BY id DESC LIMIT 1")[0][0])["first_name"] == "Núria"


def test_a_fixup_command_carries_the_imports_profile(run_cli: Callable[..., Result], tmp_path: Path, ledger_path: Path, engine: sa.Engine) -> None:
    """An import made with --profile (as a plan's permissions steps are): the printed command names a
    real profile file, not a placeholder, and importing it back applies the same profile."""
    f = tmp_path / "perm.csv"
    f.write_text("email,call_type\na@x.com,NATIONAL\nb@x.com,NATIONAL\n", encoding="utf-8")
    prof = tmp_path / "user_profile.json"
    prof.write_text(json.dumps({"useCustomEnabled": True, "calling_permissions": [{"call_type": "international", "action": "block"}]}))
    assert run_cli("import", str(f), "--action", "user.outgoing_permissions", "--profile", str(prof)).exit_code == 0
    _set(engine, 1, 3, "failed", "boom", error_kind="row")
    out = run_cli("report", "--out", str(tmp_path / "r")).stdout
    (cmd,) = [line.strip() for line in out.splitlines() if line.strip().startswith("ledger import")]
    assert "<the same profile file>" not in cmd and cmd.endswith("perm.import1.profile.json")
    args = cmd.split()[2:]
    back = run_cli("import", *args)
    assert back.exit_code == 0, back.output
    shas = ledger_tuples(ledger_path, "SELECT profile_sha256 FROM imports ORDER BY id")
    assert len(shas) == 2 and shas[0] == shas[1] and shas[0][0]


def test_fixup_rebuilt_from_the_ledger_when_the_source_file_changed(people: Path, run_cli: Callable[..., Result], tmp_path: Path) -> None:
    people.write_text("email,first_name\nother@x.com,O\n", encoding="utf-8")  # edited since the import
    out = tmp_path / "r"
    result = run_cli("report", "--out", str(out))
    fixup = out / "fixup" / "people.fixup.csv"
    assert "(rebuilt from the ledger: the source file is gone or changed)" in result.stdout
    got = _csv(fixup)
    # line 3 was valid: its normalised values under the action's column names; line 4 (invalid)
    # gives its raw cells, under the same (header-key matched) columns
    assert got[0][:4] == ["email", "first_name", "last_name", "location_name"] and got[0][-1] == "ledger_errors"
    by_name = [dict(zip(got[0], row)) for row in got[1:]]
    assert [(r["email"], r["last_name"], r["location_name"], r["add_license_ids"]) for r in by_name] == [
        ("b@x.com", "B", "HQ", LIC), ("bad@", "<script>alert(1)</script>", "HQ", LIC),
    ]
    assert by_name[1]["ledger_errors"].startswith("user.create (import 1 line 4): invalid: column 'email'")
    again = run_cli("import", str(fixup), "--action", "user.licenses")
    assert again.exit_code == 0, again.stderr
    assert "0 pending, 1 blocked, 1 invalid" in again.stdout  # b@x.com's create row is still failed


def test_no_problems_no_fixup_and_stale_fixups_removed(people: Path, run_cli: Callable[..., Result], tmp_path: Path, engine: sa.Engine) -> None:
    out = tmp_path / "r"
    run_cli("report", "--out", str(out))
    assert (out / "fixup" / "people.fixup.csv").exists()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger SET status = 'succeeded', error_message = NULL")
    result = run_cli("report", "--out", str(out))
    assert not (out / "fixup" / "people.fixup.csv").exists()
    assert "fixup.csv" not in result.stdout
    # every entity complete (the invalid line's rows too, set succeeded here): counted, none listed
    assert _csv(out / "entities.csv") == [["kind", "entity", "site", "state", "user.create", "user.licenses", "first_error"]]
    summary = json.loads((out / "run_summary.json").read_text())
    assert (summary["entities"], summary["entities_listed"]) == ({"person": {"total": 4, "complete": 4}}, 0)


def test_report_html_is_self_contained_and_escapes_everything(people: Path, run_cli: Callable[..., Result], tmp_path: Path, engine: sa.Engine) -> None:
    _set(engine, 1, 3, "failed", "Invalid <img src=x onerror=alert(1)> & \"name\"", error_kind="row", http_status=400, error_code="25008")
    out = tmp_path / "r"
    run_cli("report", "--out", str(out))
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<img" not in page
    assert "Invalid &lt;img src=x onerror=alert(1)&gt; &amp; &quot;name&quot;" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    # progress per step: user.create 3 of 4 complete, 1 failed
    assert (
        "<tr><td>user.create</td><td class=\"n\">4</td><td class=\"n\">2</td><td class=\"n\">2</td>"
        "<td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">50.0 %</td>"
    ) in page
    # per site: HQ has a, b and bad@ (1 complete); BRANCH has d (pending)
    assert "<tr><td>HQ</td><td class=\"n\">3</td><td class=\"n\">1</td><td class=\"n\">2</td>" in page
    assert "<tr><td>BRANCH</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">1</td>" in page
    # errors grouped by cause, with counts; an entity's row; the fix-up file and its commands
    assert "<td class=\"n\">1</td><td>user.create</td><td class=\"failed\">failed</td><td>400/25008</td>" in page
    assert "<td>user.licenses</td><td class=\"invalid\">invalid</td><td></td><td>column &#x27;email&#x27;: not a valid email address (…)</td>" in page
    assert "<td>person</td><td>b@x.com</td><td>HQ</td><td class=\"failed\">failed</td>" in page
    assert "<code>people.fixup.csv</code>: 2 lines of <code>people.csv</code>" in page


def test_esc_escapes_markup_and_quotes() -> None:
    assert esc('<b a="1">\'&') == "&lt;b a=&quot;1&quot;&gt;&#x27;&amp;"
    assert esc(None) == ""


@pytest.mark.parametrize(
    ("action", "payload", "keys", "expected"),
    [
        ("user.licenses", {"email": "A@X.com", "location_name": "HQ"}, ("person:a@x.com", "site:hq"), ("person", "a@x.com", "HQ")),
        ("user.forwarding", {"person_id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8x=="}, ("person:id:1", None), ("person", "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8x", "")),
        ("workspace.forwarding", {"Display_Name": "Lobby", "location_name": "HQ"}, ("workspace:hq/lobby", "site:hq"), ("workspace", "Lobby @ HQ", "HQ")),
        ("location.numbers", {"name": "HQ", "location_id": "L"}, ("site:hq", "site:hq"), ("site", "HQ", "HQ")),
    ],
)
def test_entity_of_keeps_the_ledgers_keys_and_the_names_as_written(
    action: str, payload: dict[str, str], keys: tuple[str, str | None], expected: tuple[str, str, str]
) -> None:
    row = CurrentRow(1, 1, 2, action, "pending", None, None, None, None, None, None, "{}", None, *keys)
    who = entity_of(row, payload)
    assert who.entity is not None and who.entity.key == keys[0] and who.site_key == keys[1]
    assert (who.entity.kind, who.name, who.site) == expected


def test_plan_csv_after_a_dry_run_shows_the_chain(people: Path, run_cli: Callable[..., Result], tmp_path: Path, engine: sa.Engine) -> None:
    """A licence row whose create row would change is 'after user.create', not its own 'fail'."""
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger SET status = 'pending', error_message = NULL, result = NULL WHERE status != 'invalid'")
    previews = {
        (1, 2): {"dry_run": True, "would": "skip", "planned": {}, "reason": "user_already_exists"},
        (1, 3): {"dry_run": True, "would": "change", "planned": {"emails": ["b@x.com"], "firstName": "Bob"}},
        (2, 2): {"dry_run": True, "would": "change", "planned": {"add": [LIC], "remove": []},
                 "before": {"add": []}},
        (2, 3): {"dry_run": True, "would": "fail", "error_kind": "row", "error": "unknown user 'b@x.com'"},
    }
    for (imp, line), result in previews.items():
        _set(engine, imp, line, "pending", result=json.dumps(result))
    with engine.begin() as conn:  # the dry run that left them (the report looks for previews after one)
        conn.exec_driver_sql(
            "INSERT INTO runs (status, pid, host, started_at, batch_size, concurrency, retry_profile, dry_run) "
            "VALUES ('completed', 1, 'h', '2026-12-05T10:00:00.000000Z', 200, 4, 'default', 1)"
        )
    out = tmp_path / "r"
    result = run_cli("report", "--out", str(out))
    assert f"wrote {out / 'plan.csv'} (8 rows: what the dry run says each would do)" in result.stdout
    rows = {(r[3], r[2]): r for r in _csv(out / "plan.csv")[1:]}
    assert _csv(out / "plan.csv")[0] == ["row_id", "file", "line_no", "action", "kind", "entity", "site", "would", "after", "changes", "detail"]
    assert rows[("user.create", "2")][7:] == ["skip", "", "", "user_already_exists"]
    assert rows[("user.create", "3")][7:] == ["change", "", "emails = b@x.com; firstName = Bob", ""]
    assert rows[("user.licenses", "2")][7:] == ["change", "", f"add: (empty) → {LIC}; remove = ", ""]
    assert rows[("user.licenses", "3")][7:] == [
        "after user.create", "user.create (people.csv line 3)", "",
        "previewed before its prerequisite ran: would fail: unknown user 'b@x.com'",
    ]
    assert rows[("user.create", "4")][7] == "done: invalid"
    assert rows[("user.create", "5")][7] == "not previewed"


def test_ledger_errors_references_are_read_per_action() -> None:
    cell = (
        "user.create (import 1 line 4): failed: create user (import 9 line 9): x | "
        "user.licenses (import 2 line 4): blocked: blocked by import 1 line 4 (user.create, row 3, failed): …"
    )
    assert replaced_rows(cell, "user.create") == [(1, 4)]
    assert replaced_rows(cell, "user.licenses") == [(2, 4)]
    assert replaced_rows(cell, "user.forwarding") == []
    assert replaced_rows("", "user.create") == []


def test_sites_people_and_workspaces_one_table_and_progress_per_site(
    tmp_path: Path, engine: sa.Engine, run_cli: Callable[..., Result], ledger_path: Path
) -> None:
    """Sites first, then people, then workspaces; a site named 'hq' in one file and 'HQ' in another
    is one site (the ledger's site_key), shown as its own file writes it."""
    sites, users, spaces = tmp_path / "sites.csv", tmp_path / "users.csv", tmp_path / "spaces.csv"
    sites.write_text('name,phone_numbers\nHQ,"+34930000001"\nBranch,"+34930000002"\n', encoding="utf-8")
    users.write_text("email,first_name,last_name,location_name\na@x.com,A,A,hq\n", encoding="utf-8")
    spaces.write_text("workspace_name,location_name\nLobby,HQ\nLobby,Branch\n", encoding="utf-8")
    import_file(engine, get_spec("location.numbers"), sites)
    import_file(engine, get_spec("user.create"), users, after=[1])
    import_file(engine, get_spec("workspace.create"), spaces, after=[1])
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger SET status = 'succeeded'")
        conn.exec_driver_sql(
            "UPDATE ledger SET status = 'failed', error_kind = 'row', error_message = 'numbers: 400 invalid' "
            "WHERE import_id = 1 AND line_no = 3"
        )
    out = tmp_path / "r"
    assert run_cli("report", "--out", str(out)).exit_code == 0
    assert [r[:7] for r in _csv(out / "entities.csv")] == [  # the one that needs attention
        ["kind", "entity", "site", "state", "location.numbers", "user.create", "workspace.create"],
        ["site", "Branch", "Branch", "failed", "failed", "", ""],
    ]
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["entities"] == {
        "site": {"total": 2, "complete": 1, "failed": 1}, "person": {"total": 1, "complete": 1},
        "workspace": {"total": 2, "complete": 2},
    }
    assert list(summary["entities"]) == ["site", "person", "workspace"]
    # every entity, for sqlite3: the ledger's entities view
    assert ledger_tuples(ledger_path, "SELECT kind, entity_key, site_key, state FROM entities ORDER BY kind, entity_key") == [
        ("person", "person:a@x.com", "site:hq", "complete"),
        ("site", "site:branch", "site:branch", "failed"),
        ("site", "site:hq", "site:hq", "complete"),
        ("workspace", "workspace:branch/lobby", "site:branch", "complete"),
        ("workspace", "workspace:hq/lobby", "site:hq", "complete"),
    ]
    page = (out / "report.html").read_text(encoding="utf-8")
    # HQ: the site, the person (written 'hq') and its workspace; Branch: the site (failed) and its workspace
    assert '<tr><td>HQ</td><td class="n">3</td><td class="n">3</td><td class="n">0</td>' in page
    assert '<tr><td>Branch</td><td class="n">2</td><td class="n">1</td><td class="n">1</td>' in page


def test_fixup_commands_repeat_the_imports_global_csv(tmp_path: Path, engine: sa.Engine, run_cli: Callable[..., Result]) -> None:
    users, glob = tmp_path / "Usuarios.csv", tmp_path / "global.csv"
    users.write_text("email,first_name,last_name\nbad@,A,A\n", encoding="utf-8")
    glob.write_text("org_id,number_type\nY2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi94,DID\n", encoding="utf-8")
    import_file(engine, get_spec("user.create"), users, global_path=glob)
    out = tmp_path / "r"
    result = run_cli("report", "--out", str(out))
    assert f"  ledger import {out / 'fixup' / 'Usuarios.fixup.csv'} --action user.create --global {glob}\n" in result.stdout
