"""A Spanish-Excel export of the operators' layout through `ledger import` and `ledger work` against the
sandbox, with no manual step (issue 13); and a token pasted with its `Bearer ` prefix."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli


def _rows(db: Path) -> dict[int, tuple[str, str | None]]:
    with sqlite3.connect(db) as conn:
        return {n: (s, m) for n, s, m in conn.execute("SELECT line_no, status, error_message FROM ledger")}


def test_a_token_pasted_as_bearer_works_with_one_note_and_is_never_echoed(tmp_path: Path, sandbox) -> None:
    st = sandbox.state
    hq = st.add_location("HQ", calling_enabled=True)
    st.add_number(hq, "+34935550001")
    st.add_person("ana@example.com", "Ana", "A", location_id=hq, extension="1001", calling=True)
    f = tmp_path / "sec.csv"
    f.write_text(f"email,legacy_phone_number,org_id\nana@example.com,+34935550001,{st.org_id}\n")
    db = tmp_path / "ledger.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(f), "--action", "user.secondary_number"]).exit_code == 0
    env = {"WEBEX_BASE_URL": sandbox.base_url, "WEBEX_ACCESS_TOKEN": f"Bearer {sandbox.token}"}
    res = runner.invoke(cli, ["--db", str(db), "work"], env=env)
    assert res.exit_code == 0, res.output
    assert res.output.count("started with 'Bearer '; the prefix was removed") == 1
    assert sandbox.token not in res.output
    assert _rows(db)[2][0] == "succeeded"
