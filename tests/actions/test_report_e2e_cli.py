"""End to end against the sandbox: people through create → licences → forwarding, two creates
rejected by Webex and one invalid line; the end state files after `ledger work`, the fix-up round
trip (correct, import back, work) until entities.csv shows every person complete; and a dry run's
plan.csv read as a chain."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result

from ledger.cli import cli
from ledger.sandbox import FaultConfig

USERS = 200  # as the test: 200 people, 2 rejected by Webex, 1 invalid line
REJECTED = ("u3@x.com", "u5@x.com")  # Webex answers 400 to any write naming them
STEPS = ("user.create", "user.licenses", "user.forwarding")


def _people(path: Path, license_id: str, users: int = USERS) -> int:
    """``users`` people and then one invalid line (an email without a domain); returns its line."""
    lines = ["email,first_name,last_name,location_name,extension,add_license_ids,destination"]
    lines += [f"u{i}@x.com,U{i},Last{i},SANDBOX-HQ,{1000 + i},{license_id},{5300 + i}" for i in range(1, users + 1)]
    lines.append(f"bad@,Bad,Line,SANDBOX-HQ,9999,{license_id},9399")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return users + 2


class Ledger:
    def __init__(self, db: Path, sb) -> None:
        self.db, self.sb, self.runner = db, sb, CliRunner()
        self.env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}

    def __call__(self, *args: str, code: int = 0) -> Result:
        res = self.runner.invoke(cli, ["--db", str(self.db), *args], env=self.env)
        assert res.exit_code == code, res.output
        return res


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _view_states(db: Path) -> dict[str, str]:
    """Every person's state, from the ledger's entities view (the complete listing)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT entity_key, state FROM entities WHERE kind = 'person'").fetchall()
    return {key.removeprefix("person:"): state for key, state in rows}


def test_end_state_and_fixup_round_trip(tmp_path: Path, sandbox_factory) -> None:
    sb = sandbox_factory(faults=FaultConfig(row_errors=set(REJECTED)), seed=1, seed_defaults=True)
    people = tmp_path / "people.csv"
    bad_line = _people(people, sb.state.license_by_sku("BCSTD")["id"])
    run = Ledger(tmp_path / "ledger.db", sb)
    for i, action in enumerate(STEPS):
        run("import", str(people), "--action", action, *(["--after", str(i)] if i else []))
    run("work", "--retry-profile", "fast")  # writes the report files next to the ledger

    report = tmp_path / "report"
    rows = _csv(report / "entities.csv")
    assert list(rows[0]) == ["kind", "entity", "site", "state", *STEPS, "first_error"]
    entities = {e["entity"]: e for e in rows}
    # entities.csv lists the entities that need attention; the complete ones are counted, and the
    # ledger's entities view lists every entity
    assert set(entities) == {*REJECTED, f"people.csv line {bad_line} (bad@)"}
    assert _view_states(tmp_path / "ledger.db") == {
        **{f"u{i}@x.com": "complete" for i in range(1, USERS + 1) if f"u{i}@x.com" not in REJECTED},
        **{email: "failed" for email in REJECTED},
    }
    for email in REJECTED:
        e = entities[email]
        assert [e[s] for s in STEPS] == ["failed", "blocked", "blocked"]
        assert e["state"] == "failed"
        assert e["first_error"].startswith(f"user.create: failed: create user {email}: HTTP 400 25008")
    bad = entities[f"people.csv line {bad_line} (bad@)"]
    assert [bad[s] for s in STEPS] == ["invalid"] * 3
    summary = json.loads((report / "run_summary.json").read_text())
    assert summary["entities"]["person"] == {"total": USERS + 1, "complete": USERS - 2, "failed": 3}

    fixup = report / "fixup" / "people.fixup.csv"
    lines = _csv(fixup)
    assert [r["email"] for r in lines] == ["u3@x.com", "u5@x.com", "bad@"]
    assert lines[0]["extension"] == "1003" and lines[0]["destination"] == "5303"  # the original cells
    assert lines[0]["ledger_errors"].startswith("user.create (import 1 line 4): failed: create user u3@x.com")
    assert "user.licenses (import 2 line 4): blocked: blocked by import 1 line 4" in lines[0]["ledger_errors"]
    assert [e.split(" (", 1)[0] for e in lines[2]["ledger_errors"].split(" | ")] == list(STEPS)

    page = (report / "report.html").read_text(encoding="utf-8")
    assert f'<td>SANDBOX-HQ</td><td class="n">{USERS + 1}</td><td class="n">{USERS - 2}</td><td class="n">3</td>' in page
    # errors by cause: both people's blocked licence rows are one cause (row ids and emails elided)
    assert (
        '<td class="n">2</td><td>user.licenses</td><td class="blocked">blocked</td><td>prerequisite_failed</td>'
        "<td>blocked by import 1 line N (user.create, row N, failed): create user &lt;email&gt;: HTTP 400 25008"
    ) in page

    # the cause is removed in Webex: retrying the failed creates completes u3 and u5 (their blocked
    # rows run by themselves); the invalid line is corrected in the fix-up file and imported back
    sb.faults.row_errors.clear()
    run("retry", "--status", "failed")
    run("work", "--retry-profile", "fast")
    lines = _csv(fixup)
    assert [r["email"] for r in lines] == ["bad@"]
    fixup.write_text(fixup.read_text(encoding="utf-8").replace("bad@,", "bad@x.com,"), encoding="utf-8")
    for i, action in enumerate(STEPS):
        res = run("import", str(fixup), "--action", action)
        assert not [line for line in res.output.splitlines() if "ledger_errors" in line and "fix-up file" not in line]
        assert f"fix-up file: replaces 1 row of import {i + 1}" in res.output
    res = run("work", "--retry-profile", "fast")
    assert "fixup.csv" not in res.output

    assert _csv(report / "entities.csv") == []  # nobody needs attention any more
    done = _view_states(tmp_path / "ledger.db")
    assert done == {**{f"u{i}@x.com": "complete" for i in range(1, USERS + 1)}, "bad@x.com": "complete"}
    summary = json.loads((report / "run_summary.json").read_text())
    assert summary["entities_listed"] == 0
    assert (summary["failed_row"], summary["failed_systemic"], summary["invalid"], summary["blocked"]) == (0, 0, 0, 0)
    assert summary["entities"]["person"] == {"total": USERS + 1, "complete": USERS + 1}
    # the current state: the replaced rows are history (counted apart), not errors of any step
    assert summary["error_kinds"] == {} and summary["top_errors"] == []
    assert all("superseded" not in counts for counts in summary["actions"].values())
    assert summary["superseded"] >= 3
    assert not (report / "fixup" / "people.fixup.csv").exists()
    assert sb.state.people_by_email("bad@x.com")
    with sqlite3.connect(tmp_path / "ledger.db") as conn:  # the invalid rows are kept, pointing at their successors
        old = conn.execute(
            "SELECT o.import_id, s.import_id, s.status FROM ledger AS o JOIN ledger AS s ON s.id = o.superseded_by "
            "WHERE o.line_no = ? AND o.status = 'superseded' ORDER BY o.import_id", (bad_line,)
        ).fetchall()
    assert [(o, n) for o, n, _ in old] == [(1, 4), (2, 5), (3, 6)]
    assert all(status in ("succeeded", "skipped") for *_, status in old)  # the create already gave the licence


def test_dry_run_plan_shows_later_steps_after_their_create(tmp_path: Path, sandbox_factory) -> None:
    """u1 exists with Calling (forwarding off); u2… do not: their licence and forwarding rows are
    'after user.create', not the 'unknown user' failures the preview alone would say."""
    sb = sandbox_factory(seed=1, seed_defaults=True)
    lic = sb.state.license_by_sku("BCSTD")
    hq = sb.state.location_by_name("SANDBOX-HQ")["id"]
    sb.state.add_person("u1@x.com", "U1", "Last1", location_id=hq, extension="101", calling=True)
    people = tmp_path / "people.csv"
    bad_line = _people(people, lic["id"], users=10)
    run = Ledger(tmp_path / "ledger.db", sb)
    for i, action in enumerate(STEPS):
        run("import", str(people), "--action", action, *(["--after", str(i)] if i else []))
    sb.log.clear()
    res = run("work", "--dry-run", "--retry-profile", "fast")
    assert [r for r in sb.requests() if r.method in ("POST", "PUT", "PATCH", "DELETE")] == []
    assert "to retry the failed rows" not in res.output  # rows that would fail in a dry run failed nothing
    assert f"wrote {tmp_path / 'report' / 'plan.csv'} (33 rows: what the dry run says each would do)" in res.output
    by = {(r["action"], r["line_no"]): r for r in _csv(tmp_path / "report" / "plan.csv")}
    assert by[("user.create", "2")]["would"] == "skip"  # u1 exists
    assert by[("user.forwarding", "2")]["would"] == "change"
    assert by[("user.forwarding", "2")]["changes"] == "always.enabled: FALSE → TRUE; always.destination: (empty) → 5301"
    create = by[("user.create", "3")]
    assert create["would"] == "change" and "emails = u2@x.com" in create["changes"]
    lic_row = by[("user.licenses", "3")]
    assert lic_row["would"] == "after user.create"
    assert lic_row["after"] == "user.create (people.csv line 3)"
    assert lic_row["detail"].startswith("previewed before its prerequisite ran: would fail: unknown user 'u2@x.com'")
    fwd = by[("user.forwarding", "3")]  # after its licence row, itself after the create: the chain is followed
    assert fwd["would"] == "after user.licenses, user.create"
    assert fwd["after"] == "user.licenses (people.csv line 3); user.create (people.csv line 3)"
    assert (by[("user.create", str(bad_line))]["kind"], by[("user.create", str(bad_line))]["would"]) == ("person", "done: invalid")
