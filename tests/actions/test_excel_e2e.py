"""A Spanish-Excel export of the operators' layout through `ledger import` and `ledger work` against the
sandbox, with no manual step (issue 13); and a token pasted with its `Bearer ` prefix."""

from __future__ import annotations

import csv
import json
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


HEADER = (
    "person_id;first_name;last_name;display_name;email;add_license_ids;legacy_phone_number;extension;primary;"
    "Direct_Number;entity_id;group_id;enabled;destination;call_type;transfer_enabled;use_custom_enabled;"
    "use_custom_permissions;remove_license_ids;location_name"
)


def test_a_spanish_excel_export_imports_and_works_end_to_end(tmp_path: Path, sandbox) -> None:
    """The operators' Usuarios.csv layout as a Spanish Excel saves "CSV": Windows-1252, ';', CRLF,
    `0034…` and `+`-less numbers, empty optional cells, a `Direct_Number` column. No manual step."""
    st = sandbox.state
    site = st.add_location("CUV93470292900", calling_enabled=True)
    for n in ("+34935550011", "+34935550012", "+34935550021"):
        st.add_number(site, n)
    ftc, bcstd = st.license_by_sku("FTC")["id"], st.license_by_sku("BCSTD")["id"]
    people = {
        e: st.add_person(e, f, last, licenses=[ftc])
        for e, f, last in (
            ("andres.garcia@lab.example.com", "Andrés", "García-Toñez"),
            ("carmen.munoz@lab.example.com", "Carmen", "Muñoz"),
            ("jose.lopez@lab.example.com", "José", "López"),
        )
    }
    lines = [
        HEADER,
        f";Andrés;García-Toñez;Andrés García-Toñez;andres.garcia@lab.example.com;{bcstd};;80347245;FALSE;"
        f"0034935550011;;;TRUE;530347245;INTERNATIONAL;TRUE;FALSE;TRUE;{ftc};CUV93470292900",
        f";Carmen;Muñoz;Carmen Muñoz;carmen.munoz@lab.example.com;{bcstd};0034935550021;80347246;FALSE;"
        f"34935550012;;;TRUE;530347246;INTERNATIONAL;TRUE;TRUE;FALSE;{ftc};CUV93470292900",
        f";José;López;José López;jose.lopez@lab.example.com;{bcstd};;80347247;FALSE;;;;TRUE;530347247;"
        f"INTERNATIONAL;TRUE;TRUE;FALSE;;CUV93470292900",
    ]
    usuarios = tmp_path / "Usuarios.csv"
    usuarios.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    glob = tmp_path / "global.csv"
    glob.write_bytes(f"org_id;country;time_zone\r\n{st.org_id};ES;Europe/Madrid (España)\r\n".encode("cp1252"))
    db = tmp_path / "ledger.db"
    runner = CliRunner()
    env = {"WEBEX_BASE_URL": sandbox.base_url, "WEBEX_ACCESS_TOKEN": sandbox.token}
    for action in ("usuarios_modificar_licencias", "usuarios_anadir_intercom_legacy"):
        res = runner.invoke(cli, ["--db", str(db), "import", str(usuarios), "--action", action, "--global", str(glob)])
        assert res.exit_code == 0, res.output
        assert res.output.count("not UTF-8; read as Windows-1252") == 2  # Usuarios.csv and global.csv
        work = runner.invoke(cli, ["--db", str(db), "work"], env=env)
        assert work.exit_code == 0, work.output

    with sqlite3.connect(db) as conn:
        got = {(a, n): (s, m) for a, n, s, m in conn.execute("SELECT action, line_no, status, error_message FROM ledger")}
    assert got == {
        ("user.licenses", 2): ("succeeded", None),
        ("user.licenses", 3): ("succeeded", None),
        ("user.licenses", 4): ("succeeded", None),
        ("user.secondary_number", 2): ("nothing_to_do", "nothing to do: legacy_phone_number empty"),
        ("user.secondary_number", 3): ("succeeded", None),
        ("user.secondary_number", 4): ("nothing_to_do", "nothing to do: legacy_phone_number empty"),
    }
    andres, carmen, jose = (st.get_person(pid) for pid in people.values())
    assert [p["value"] for p in andres["phoneNumbers"]] == ["+34935550011"]  # from 0034…, via Direct_Number
    assert [p["value"] for p in carmen["phoneNumbers"]] == ["+34935550012"]  # from a +-less number
    assert jose["phoneNumbers"] == [] and jose["extension"] == "80347247"
    assert andres["licenses"] == carmen["licenses"] == [bcstd] and sorted(jose["licenses"]) == sorted([ftc, bcstd])
    assert {p["firstName"] for p in (andres, carmen, jose)} == {"Andrés", "Carmen", "José"}
    assert [x["directNumber"] for x in carmen["_features"]["alternates"]] == ["+34935550021"]
    assert andres["_features"]["alternates"] == [] and jose["_features"]["alternates"] == []
    # the end state: a person whose legacy number is empty is complete, not waiting for a step
    # (entities.csv lists nobody: no one needs attention; the summary counts them complete)
    with open(tmp_path / "report" / "entities.csv", encoding="utf-8") as fh:
        assert list(csv.DictReader(fh)) == []
    summary = json.loads((tmp_path / "report" / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["entities"]["person"] == {"total": len(people), "complete": len(people)}
    with sqlite3.connect(db) as conn:  # each of them, in the ledger's entities view
        states = dict(conn.execute("SELECT entity_key, state FROM entities"))
    assert states == {f"person:{e}": "complete" for e in people}


def test_usuarios_remover_licencias_only_removes(tmp_path: Path, sandbox) -> None:
    """v21's usuarios_remover_licencias reads remove_license_ids only: the file's add_license_ids
    (the same licence, in the operators' sample) is not added."""
    st = sandbox.state
    ftc, bcstd = st.license_by_sku("FTC")["id"], st.license_by_sku("BCSTD")["id"]
    ana = st.add_person("ana@example.com", "Ana", "A", licenses=[ftc])
    f = tmp_path / "lic.csv"
    f.write_text(f'email,add_license_ids,remove_license_ids,org_id\nana@example.com,{bcstd},"{ftc},{bcstd}",{st.org_id}\n')
    db = tmp_path / "ledger.db"
    runner = CliRunner()
    res = runner.invoke(cli, ["--db", str(db), "import", str(f), "--action", "usuarios_remover_licencias"])
    assert res.exit_code == 0 and "1 row, 1 pending, 0 invalid" in res.output, res.output
    env = {"WEBEX_BASE_URL": sandbox.base_url, "WEBEX_ACCESS_TOKEN": sandbox.token}
    assert runner.invoke(cli, ["--db", str(db), "work"], env=env).exit_code == 0
    assert _rows(db)[2][0] == "succeeded"
    assert st.get_person(ana)["licenses"] == []
