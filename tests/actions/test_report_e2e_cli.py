"""End to end against the sandbox: people through create → licences → forwarding, two creates
rejected by Webex and one invalid line; the end state files after `ledger work`, the fix-up round
trip (correct, import back, work) until entities.csv shows every person complete; and a dry run's
plan.csv read as a chain."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner, Result

from ledger.cli import cli
from ledger.sandbox import FaultConfig

USERS = 10
REJECTED = ("u3@x.com", "u5@x.com")  # Webex answers 400 to any write naming them
STEPS = ("user.create", "user.licenses", "user.forwarding")


def _people(path: Path, license_id: str) -> None:
    lines = ["email,first_name,last_name,location_name,extension,add_license_ids,destination"]
    lines += [f"u{i}@x.com,U{i},Last{i},SANDBOX-HQ,{100 + i},{license_id},{5300 + i}" for i in range(1, USERS + 1)]
    lines.append(f"bad@,Bad,Line,SANDBOX-HQ,199,{license_id},5399")  # line 12: invalid email
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Ledger:
    def __init__(self, db: Path, sb) -> None:
        self.db, self.sb, self.runner = db, sb, CliRunner()
        self.env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}

    def __call__(self, *args: str, code: int = 0) -> Result:
        res = self.runner.invoke(cli, ["--db", str(self.db), *args], env=self.env)
        assert res.exit_code == code, res.output
        return res

    def work_each(self, first: int, *, dry_run: bool = False) -> None:
        """Run the imports from ``first`` on one after another (each step after the one before)."""
        for i in range(first, first + len(STEPS)):
            self("work", "--retry-profile", "fast", "--import", str(i), *(["--dry-run"] if dry_run else []))


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_end_state_files_after_work(tmp_path: Path, sandbox_factory) -> None:
    sb = sandbox_factory(faults=FaultConfig(row_errors=set(REJECTED)), seed=1, seed_defaults=True)
    people = tmp_path / "people.csv"
    _people(people, sb.state.license_by_sku("BCSTD")["id"])
    run = Ledger(tmp_path / "ledger.db", sb)
    for action in STEPS:
        run("import", str(people), "--action", action)
    run.work_each(1)
    run("report")  # (each `ledger work --import N` wrote the files of its import)

    report = tmp_path / "report"
    entities = {e["entity"]: e for e in _csv(report / "entities.csv")}
    assert list(_csv(report / "entities.csv")[0]) == ["kind", "entity", "site", "state", *STEPS, "first_error"]
    complete = {k for k, e in entities.items() if e["state"] == "complete"}
    assert complete == {f"u{i}@x.com" for i in range(1, USERS + 1)} - set(REJECTED)
    for email in REJECTED:
        e = entities[email]
        assert (e["state"], e["user.create"]) == ("failed", "failed")
        assert e["first_error"].startswith(f"user.create: failed: create user {email}: HTTP 400 25008")
    assert [entities["bad@"][s] for s in STEPS] == ["invalid"] * 3
    summary = json.loads((report / "run_summary.json").read_text())
    assert summary["entities"]["person"]["complete"] == USERS - 2

    fixup = report / "fixup" / "people.fixup.csv"
    lines = _csv(fixup)
    assert [r["email"] for r in lines] == ["u3@x.com", "u5@x.com", "bad@"]
    assert lines[0]["extension"] == "103" and lines[0]["destination"] == "5303"  # the original cells
    assert lines[0]["ledger_errors"].startswith("user.create (import 1 line 4): failed: create user u3@x.com")
    assert [e.split(" (", 1)[0] for e in lines[2]["ledger_errors"].split(" | ")] == list(STEPS)

    page = (report / "report.html").read_text(encoding="utf-8")
    assert "<td>SANDBOX-HQ</td><td class=\"n\">11</td><td class=\"n\">8</td><td class=\"n\">3</td>" in page



def test_dry_run_plan_shows_later_steps_after_their_create(tmp_path: Path, sandbox_factory) -> None:
    sb = sandbox_factory(seed=1, seed_defaults=True)
    lic = sb.state.license_by_sku("BCSTD")
    people = tmp_path / "people.csv"
    _people(people, lic["id"])
    run = Ledger(tmp_path / "ledger.db", sb)
    run("import", str(people), "--action", "user.create")
    run("import", str(people), "--action", "user.licenses", "--after", "1")
    run("work", "--dry-run", "--retry-profile", "fast")
    writes = [r for r in sb.requests() if r.method in ("POST", "PUT", "PATCH", "DELETE")]
    assert writes == []
    plan = _csv(tmp_path / "report" / "plan.csv")
    by = {(r["action"], r["line_no"]): r for r in plan}
    create = by[("user.create", "2")]
    assert create["would"] == "change" and "emails = u1@x.com" in create["changes"]
    lic_row = by[("user.licenses", "2")]
    assert lic_row["would"] == "after user.create"
    assert lic_row["after"] == "user.create (people.csv line 2)"
    assert lic_row["detail"].startswith("previewed before its prerequisite ran: would fail: unknown user 'u1@x.com'")
    assert by[("user.create", "12")]["would"] == "done: invalid"
