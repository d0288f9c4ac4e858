"""Entity keys, dependency matching, superseding and `retry --import A --import B`, on real ledger files."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from click.testing import Result

from ledger.entities import Resolver, row_keys, webex_uuid
from worker_support import query, write_csv

UUID = "e2dc9a91-b724-4b66-8d2f-e6e0d1d4b0ed"


def _id(kind: str, uuid: str = UUID) -> str:
    return base64.b64encode(f"ciscospark://us/{kind}/{uuid}".encode()).decode().rstrip("=")


def test_keys_name_one_person_site_or_workspace_however_it_is_written() -> None:
    assert webex_uuid(_id("LOCATION")) == webex_uuid(_id("LOCATION") + "==") == webex_uuid(UUID.upper()) == UUID
    assert row_keys("user.licenses", {"email": "Ana@X.com ", "location_name": " Site  One"}) == (
        "person:ana@x.com", "site:site one"
    )
    assert row_keys("user.forwarding", {"person_id": _id("PEOPLE")}) == (f"person:id:{UUID}", None)
    known = Resolver()
    known.learn({"email": "ana@x.com", "person_id": _id("PEOPLE")}, "user.licenses")
    known.learn({"location_id": _id("LOCATION"), "name": "CUV1"}, "location.pstn")
    assert row_keys("user.forwarding", {"person_id": _id("PEOPLE")}, known) == ("person:ana@x.com", None)
    assert row_keys("location.numbers", {"location_id": _id("LOCATION")}, known) == ("site:cuv1", "site:cuv1")
    assert row_keys("location.numbers", {"location_id": _id("LOCATION")}) == (f"site:id:{UUID}", f"site:id:{UUID}")
    assert row_keys("workspace.forwarding", {"workspace_name": "Lobby", "location_name": "CUV1"}) == (
        "workspace:cuv1/lobby", "site:cuv1"
    )
    assert row_keys("workspace.create", {"display_name": "Lobby"}) == ("workspace:/lobby", None)


def test_a_person_id_file_resolves_through_a_file_giving_both(run_cli: Callable[..., Result], ledger_path: Path, tmp_path: Path) -> None:
    both = write_csv(tmp_path / "both.csv", ["person_id", "email", "add_license_ids"], [[_id("PEOPLE"), "ana@x.com", "L1"]])
    by_id = write_csv(tmp_path / "by_id.csv", ["person_id", "extension"], [[_id("PEOPLE"), "5001"]])
    run_cli("import", str(both), "--action", "user.licenses")
    out = run_cli("import", str(by_id), "--action", "user.forwarding", "--after", "1").stdout
    assert "each row waits for the same person's row" in out
    assert [r.entity_key for r in query(ledger_path, "SELECT entity_key FROM ledger ORDER BY id")] == ["person:ana@x.com"] * 2


def test_a_file_that_cannot_name_the_prerequisite_waits_for_all_and_says_so(
    run_cli: Callable[..., Result], ledger_path: Path, tmp_path: Path
) -> None:
    sites = write_csv(tmp_path / "sites.csv", ["name", "route_identity"], [["CUV1", "RG"]])
    users = write_csv(tmp_path / "fwd.csv", ["email", "extension"], [["a@x.com", "5001"]])
    by_id = write_csv(tmp_path / "by_id.csv", ["person_id", "extension"], [[_id("PEOPLE"), "5001"]])
    run_cli("import", str(sites), "--action", "location.pstn")
    out = run_cli("import", str(users), "--action", "user.forwarding", "--after", "1").stdout
    assert "after import 1 (location.pstn): user.forwarding names no location (no location_id/location_name column): every row waits for all rows of import 1" in out
    out = run_cli("import", str(by_id), "--action", "user.forwarding", "--after", "2").stdout
    assert "1 row names the person by id and import 2 by name/email (or the reverse) and no row gives both" in out
    deps = query(ledger_path, "SELECT import_id, depends_on_import_id, match FROM import_deps ORDER BY import_id")
    assert [tuple(d) for d in deps] == [(2, 1, "all"), (3, 2, "all")]


def test_scim_create_rows_naming_their_site_wait_for_that_site_only(
    run_cli: Callable[..., Result], ledger_path: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """user.scim_create sends no location, but a Usuarios.csv with location_name chains by site."""
    sites = write_csv(tmp_path / "sites.csv", ["name", "route_identity"], [["CUV1", "RG"], ["CUV2", "RG"]])
    header = ["email", "first_name", "last_name", "org_id", "location_name"]
    users = write_csv(tmp_path / "u.csv", header, [["a@x.com", "A", "A", _id("ORGANIZATION"), "cuv1"],
                                                ["b@x.com", "B", "B", _id("ORGANIZATION"), "CUV2"]])
    no_site = write_csv(tmp_path / "n.csv", header[:4], [["c@x.com", "C", "C", _id("ORGANIZATION")]])
    run_cli("import", str(sites), "--action", "location.pstn")
    with engine.begin() as conn:  # CUV1's PSTN failed: only its user waits (blocked), CUV2's runs
        conn.execute(sa.text("UPDATE ledger SET status = 'failed', error_kind = 'row', error_message = 'x' WHERE line_no = 2"))
    out = run_cli("import", str(users), "--action", "user.scim_create", "--after", "1").stdout
    assert "after import 1 (location.pstn): each row waits for its site's row" in out
    rows = query(ledger_path, "SELECT line_no, status, site_key FROM ledger WHERE import_id = 2 ORDER BY line_no")
    assert [tuple(r) for r in rows] == [(2, "blocked", "site:cuv1"), (3, "pending", "site:cuv2")]
    out = run_cli("import", str(no_site), "--action", "user.scim_create", "--after", "1").stdout
    assert "user.scim_create names no location (no location_id/location_name value in any row): every row waits" in out
    deps = query(ledger_path, "SELECT import_id, match FROM import_deps ORDER BY import_id")
    assert [tuple(d) for d in deps] == [(2, "site"), (3, "all")]


def test_reimporting_a_corrected_file_supersedes_and_skips_what_is_done(
    run_cli: Callable[..., Result], ledger_path: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "v1.csv", ["email", "first_name", "last_name"], [["a@x.com", "A", "A"], ["b@x.com", "B", ""], ["c@x.com", "C", "C"]])
    run_cli("import", str(first), "--action", "user.create")
    with engine.begin() as conn:  # a@x.com was created; c@x.com failed
        conn.execute(sa.text("UPDATE ledger SET status = 'succeeded' WHERE line_no = 2"))
        conn.execute(sa.text("UPDATE ledger SET status = 'failed', error_kind = 'row', error_message = 'bad' WHERE line_no = 4"))
    second = write_csv(tmp_path / "v2.csv", ["email", "first_name", "last_name"], [["a@x.com", "A", "A"], ["b@x.com", "B", "B"], ["c@x.com", "C", "C"]])
    out = run_cli("import", str(second), "--action", "user.create").stdout
    assert "supersedes 2 earlier rows of import 1 (same action and entity)" in out
    assert "1 lines already done by import 1 (same action, entity and data): not executed again" in out
    rows = query(ledger_path, "SELECT id, import_id, line_no, status, superseded_by, error_message FROM ledger ORDER BY id")
    by = {(r.import_id, r.line_no): r for r in rows}
    assert (by[1, 2].status, by[1, 3].status, by[1, 4].status) == ("succeeded", "superseded", "superseded")
    assert (by[1, 3].superseded_by, by[1, 4].superseded_by) == (by[2, 3].id, by[2, 4].id)
    assert (by[2, 2].status, by[2, 2].superseded_by) == ("superseded", by[1, 2].id)
    assert by[2, 2].error_message == f"already done by import 1 line 2 (succeeded, row {by[1, 2].id}); not executed again"
    assert (by[2, 3].status, by[2, 4].status) == ("pending", "pending")
    report = run_cli("report", "--out", str(tmp_path / "r")).stdout
    assert "ledger: 3 rows" in report and "(+ 3 superseded rows kept for history)" in report


def test_retry_takes_every_import_given(run_cli: Callable[..., Result], ledger_path: Path, engine: sa.Engine, tmp_path: Path) -> None:
    for i in range(3):
        f = write_csv(tmp_path / f"f{i}.csv", ["email", "first_name", "last_name"], [[f"u{i}@x.com", "U", "U"]])
        run_cli("import", str(f), "--action", "user.create")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger SET status = 'failed', error_kind = 'row'"))
    assert run_cli("retry", "--import", "1", "--import", "3").stdout.startswith("2 rows back to pending")
    assert [r.status for r in query(ledger_path, "SELECT status FROM ledger ORDER BY id")] == ["pending", "failed", "pending"]


def test_a_row_blocked_down_a_chain_names_the_failing_row_once(run_cli: Callable[..., Result], ledger_path: Path, tmp_path: Path) -> None:
    """PSTN (invalid) → numbers (blocked) → main number (blocked): the main-number row names the PSTN row
    and its error once, not 'blocked by … (blocked): blocked by … (invalid): …'."""
    sites = write_csv(tmp_path / "s.csv", ["name", "premise_route_type", "route_identity", "phone_numbers", "calling_line_id"],
                      [["CUV1", "BOGUS", "RG", "+34935550001", "+34935550002"]])
    for action, after in (("location.pstn", ()), ("location.numbers", ("--after", "1")), ("location.main_number", ("--after", "2"))):
        assert run_cli("import", str(sites), "--action", action, *after).exit_code == 0
    rows = query(ledger_path, "SELECT import_id, status, error_message FROM ledger ORDER BY import_id")
    assert [r.status for r in rows] == ["invalid", "blocked", "blocked"]
    assert rows[2].error_message.count("blocked by") == 1
    assert rows[2].error_message == rows[1].error_message
    assert rows[2].error_message.startswith("blocked by import 1 line 2 (location.pstn, row 1, invalid): column 'premise_route_type'")
