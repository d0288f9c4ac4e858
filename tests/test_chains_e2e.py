"""Chains per entity, end to end (issue 12, items 1-3): real SQLite ledger, the CLI, the sandbox.

200 users go through create → licences → forwarding. Two creates are refused by Webex (the
sandbox's ``row_error`` fault: HTTP 400, errorCode 25008 — ``ledger/sandbox/faults.py``) and one
create line is invalid: exactly those three users' later steps end ``blocked``, every other row
``succeeded``. Removing the cause + ``ledger retry --status failed`` + ``ledger work`` completes the two
without touching their blocked rows; the invalid line fixed and imported back completes the third.
The sandbox's request log proves no licence request for a user went out before that user's create
row was final.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import Result

from ledger.sandbox import FaultConfig, Sandbox
from worker_support import write_csv

USERS = 200
FAILING = ("user00007@lab.example.com", "user00123@lab.example.com")
INVALID = "user00050@lab.example.com"  # its create line has no last_name


def _email(i: int) -> str:
    return f"user{i:05d}@lab.example.com"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(token="test-token", seed=1, faults=FaultConfig(row_errors=set(FAILING))) as sandbox:
        sandbox.state.add_location("HQ", calling_enabled=True)
        yield sandbox


@pytest.fixture
def files(tmp_path: Path, sb: Sandbox) -> dict[str, Path]:
    lic = sb.state.license_by_sku("BCSTD")["id"]
    creates = [[_email(i), "First", "" if _email(i) == INVALID else f"Last{i}"] for i in range(USERS)]
    return {
        "create": write_csv(tmp_path / "create.csv", ["email", "first_name", "last_name"], creates),
        "licenses": write_csv(
            tmp_path / "licenses.csv",
            ["email", "add_license_ids", "location_name", "extension"],
            [[_email(i), lic, "HQ", str(5000 + i)] for i in range(USERS)],
        ),
        "forwarding": write_csv(
            tmp_path / "forwarding.csv", ["email", "extension"], [[_email(i), str(5000 + i)] for i in range(USERS)]
        ),
    }


def _rows(db: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(action, email) → (status, error_message) of the current (not superseded) rows."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT action, entity_key, status, error_message FROM ledger WHERE status != 'superseded'"
        ).fetchall()
    return {(a, key.removeprefix("person:")): (status, msg) for a, key, status, msg in rows}


def _finished(db: Path, action: str) -> dict[str, float]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT entity_key, max(finished_at) FROM ledger WHERE action = ? AND finished_at IS NOT NULL "
            "GROUP BY entity_key",
            (action,),
        ).fetchall()
    fmt = "%Y-%m-%dT%H:%M:%S.%f%z"
    return {k.removeprefix("person:"): datetime.strptime(t.replace("Z", "+0000"), fmt).timestamp() for k, t in rows}


def test_failed_and_invalid_creates_block_only_their_own_later_steps_and_recover(
    run_cli: Callable[..., Result], ledger_path: Path, files: dict[str, Path], sb: Sandbox, tmp_path: Path
) -> None:
    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
    create = run_cli("import", str(files["create"]), "--action", "user.create")
    assert create.exit_code == 0 and "import 1:" in create.stdout
    lic = run_cli("import", str(files["licenses"]), "--action", "user.licenses", "--after", "1")
    assert "after import 1 (user.create): each row waits for the same person's row" in lic.stdout
    fwd = run_cli("import", str(files["forwarding"]), "--action", "user.forwarding", "--after", "2")
    assert "after import 2 (user.licenses): each row waits for the same person's row" in fwd.stdout

    work = run_cli("work", "--retry-profile", "fast", "--concurrency", "4", "--batch-size", "50", env=env)
    assert work.exit_code == 0, work.stdout + work.stderr
    rows = _rows(ledger_path)
    stuck = {*FAILING, INVALID}
    assert {k: v[0] for k, v in rows.items() if k[1] in stuck} == {
        **{("user.create", e): "failed" for e in FAILING},
        ("user.create", INVALID): "invalid",
        **{(a, e): "blocked" for a in ("user.licenses", "user.forwarding") for e in stuck},
    }
    assert {v[0] for k, v in rows.items() if k[1] not in stuck} == {"succeeded"}
    assert len(rows) == 3 * USERS
    status, message = rows[("user.licenses", FAILING[0])]
    assert message.startswith("blocked by import 1 line 9 (user.create, row 8, failed): ")
    assert "25008" in message
    # a user's later steps also wait for that user's create row directly (it is the first blocker)
    assert rows[("user.forwarding", INVALID)][1] == (
        "blocked by import 1 line 52 (user.create, row 51, invalid): column 'last_name': required, but empty"
    )
    assert "blocked 6" in work.stdout

    sb.faults.row_errors.clear()  # the cause is removed
    retried = run_cli("retry", "--status", "failed")
    assert retried.stdout.startswith("2 rows back to pending")
    assert run_cli("work", "--retry-profile", "fast", env=env).exit_code == 0
    rows = _rows(ledger_path)
    assert {k: v[0] for k, v in rows.items() if k[1] in FAILING} == {
        (a, e): "succeeded" for a in ("user.create", "user.licenses", "user.forwarding") for e in FAILING
    }
    assert {k[0]: v[0] for k, v in rows.items() if k[1] == INVALID} == {
        "user.create": "invalid", "user.licenses": "blocked", "user.forwarding": "blocked"
    }

    fixed = write_csv(tmp_path / "create.fixup.csv", ["email", "first_name", "last_name"], [[INVALID, "First", "Fixed"]])
    back = run_cli("import", str(fixed), "--action", "user.create")
    assert "supersedes 1 earlier row of import 1 (same action and entity)" in back.stdout
    assert "imports 2 now wait for this import's rows of the same entity" in back.stdout
    assert run_cli("work", "--retry-profile", "fast", env=env).exit_code == 0
    rows = _rows(ledger_path)
    assert {v[0] for v in rows.values()} == {"succeeded"} and len(rows) == 3 * USERS
    with sqlite3.connect(ledger_path) as conn:
        old = conn.execute("SELECT status, superseded_by FROM ledger WHERE import_id = 1 AND line_no = 52").fetchone()
        new_id = conn.execute("SELECT id FROM ledger WHERE import_id = 4").fetchone()[0]
    assert old == ("superseded", new_id)

    # no licence request for a user before that user's create row was final (sandbox request log)
    created = _finished(ledger_path, "user.create")
    person_email = {p["id"]: p["emails"][0] for p in sb.state.people.values()}
    licence_requests = [r for r in sb.requests() if r.method == "PATCH" and r.path.endswith("/licenses/users")]
    assert len(licence_requests) >= USERS
    for r in licence_requests:
        email = person_email.get(r.body.get("personId")) or r.body.get("email")
        assert email in created and r.t >= created[email], (email, r.t, created.get(email))
    sent_for = {person_email.get(r.body.get("personId")) or r.body.get("email") for r in licence_requests}
    assert sent_for == {_email(i) for i in range(USERS)}


def test_one_run_resolves_the_chain_after_its_last_suspect_fails(
    run_cli: Callable[..., Result], ledger_path: Path, tmp_path: Path
) -> None:
    """Issue 13: a run ending exit 0 leaves no row pending that became claimable (or blocked) during
    it. Webex answers 403 to every request naming X (the sandbox's ``forbidden`` fault, as Webex does
    for a resource outside the admin's scope: reference webex-api README, 403 errorCode 403000), so
    X's forwarding row is the run's last row and fails ``systemic`` only when the run has nothing else
    to do: its dependant must still end ``blocked`` in that same run, not ``pending``."""
    with Sandbox(token="test-token", seed=1) as sb:
        site = sb.state.add_location("HQ", calling_enabled=True)
        ok = sb.state.add_person("ok@x.com", "O", "K", location_id=site, extension="5001", calling=True)
        x = sb.state.add_person("x@x.com", "X", "X", location_id=site, extension="5002", calling=True)
        sb.faults.forbidden.add(f"ANY:*{x}*")
        assert ok != x
        fwd = write_csv(tmp_path / "fwd.csv", ["email", "extension"], [["ok@x.com", "5001"], ["x@x.com", "5002"]])
        perms = write_csv(tmp_path / "perms.csv", ["email", "call_type", "action"], [["x@x.com", "INTERNATIONAL", "BLOCK"]])
        assert run_cli("import", str(fwd), "--action", "user.forwarding").exit_code == 0
        assert run_cli("import", str(perms), "--action", "user.outgoing_permissions", "--after", "1").exit_code == 0
        env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
        work = run_cli("work", "--retry-profile", "fast", "--concurrency", "1", env=env)
    assert work.exit_code == 0, work.stdout + work.stderr
    with sqlite3.connect(ledger_path) as conn:
        got = conn.execute("SELECT import_id, line_no, status, error_kind FROM ledger ORDER BY id").fetchall()
    assert got == [(1, 2, "succeeded", None), (1, 3, "failed", "systemic"), (2, 2, "blocked", None)]
    assert "0 pending" in work.stdout
