"""What a new operator's Excel files need from `ledger import` (issue 13, "Input"): Windows-1252,
v21 column spellings, family warnings, 0034 numbers, scientific notation, "did you mean", the v21
licence aliases as two intents. Real files, real SQLite ledgers, the real CLI."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from ledger.actions import REGISTRY, get_spec
from ledger.importing.normalize import norm_e164, norm_e164_list
from worker_support import ledger_tuples

SAMPLES = Path(__file__).resolve().parent / "data" / "samples"
LIC_A = base64.b64encode(b"ciscospark://us/LICENSE/org:BCSTD_a").decode().rstrip("=")
LIC_B = base64.b64encode(b"ciscospark://us/LICENSE/org:FTC_b").decode().rstrip("=")


def _rows(db: Path, sql: str = "SELECT line_no, status, error_message, payload FROM ledger ORDER BY id") -> list[tuple[Any, ...]]:
    return ledger_tuples(db, sql)


def _excel(tmp_path: Path, name: str, lines: list[str]) -> Path:
    """A file as Spanish Excel saves "CSV": Windows-1252, ';' and CRLF."""
    f = tmp_path / name
    f.write_bytes("\r\n".join(lines).encode("cp1252") + b"\r\n")
    return f


# --- encodings ------------------------------------------------------------------------------------


def test_a_windows_1252_file_is_read_as_such_with_one_note(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = _excel(tmp_path, "u.csv", ["email;first_name;last_name", "andres@x.com;Andrés;García-Toñez", "ana@x.com;Ana;Muñoz"])
    result = run_cli("import", str(f), "--action", "user.create")
    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if "Windows-1252" in line]
    assert len(notes) == 1 and "not UTF-8; read as Windows-1252" in notes[0]
    assert "2 rows, 2 pending, 0 invalid" in result.stdout
    payloads = [json.loads(p) for *_, p in _rows(ledger_path)]
    assert [(p["first_name"], p["last_name"]) for p in payloads] == [("Andrés", "García-Toñez"), ("Ana", "Muñoz")]


def test_a_shifted_line_of_a_semicolon_file_says_so_first(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    """'Marc; Soler' typed in a ';' file shifts every cell after it: the cause comes first, naming ';'."""
    f = _excel(tmp_path, "u.csv", ["email;display_name;first_name;last_name;extension", "marc@x.com;Marc; Soler;Marc;Soler;5001"])
    result = run_cli("import", str(f), "--action", "user.create")
    (message,) = [m for (m,) in ledger_tuples(ledger_path, "SELECT error_message FROM ledger")]
    assert message.startswith("6 cells but the header has 5 (an unquoted semicolon?); column 'extension'"), message
    assert "line 2: 6 cells but the header has 5 (an unquoted semicolon?)" in result.stdout


def test_encoding_option_forces_the_encoding(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = tmp_path / "u.csv"  # 0x81 is in neither UTF-8 nor Windows-1252, but every byte is latin-1
    f.write_bytes(b"email,first_name,last_name\nana@x.com,Ana,Mu\x81oz\n")
    refused = run_cli("import", str(f), "--action", "user.create")
    assert refused.exit_code == 1
    assert "line 2: byte 0x81 in column 'last_name', character 3 of that cell" in refused.stderr
    result = run_cli("import", str(f), "--action", "user.create", "--encoding", "latin-1")
    assert result.exit_code == 0, result.stderr
    assert "read as iso8859-1 (--encoding)" in result.stdout
    assert json.loads(_rows(ledger_path)[0][3])["last_name"] == "Mu\x81oz"
    unknown = run_cli("import", str(f), "--action", "user.create", "--encoding", "klingon")
    assert unknown.exit_code == 1 and "--encoding klingon: unknown encoding" in unknown.stderr


def test_a_file_mixing_utf8_and_another_encoding_is_refused_naming_the_cell(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    f = tmp_path / "u.csv"
    f.write_bytes("email,first_name,last_name\nana@x.com,José,A\n".encode() + b"b@x.com,B,Mu\xf1oz\n")
    result = run_cli("import", str(f), "--action", "user.create")
    assert result.exit_code == 1
    assert "line 3: byte 0xf1 in column 'last_name', character 3 of that cell" in result.stderr
    assert "mixed encodings" in result.stderr and result.stderr.count("\n") == 1


# --- v21 column spellings, declared once per action ---------------------------------------------------


def test_columns_of_one_family_accept_the_same_v21_spellings() -> None:
    """A column name used by two actions of a family has the same aliases in both (user.licenses
    once ignored `direct_number`, which user.create read as phone_number)."""
    seen: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    for spec in REGISTRY.specs:
        for col in spec.columns:
            key = (spec.family, col.name)
            if key in seen:
                other, aliases = seen[key]
                assert set(col.aliases) == set(aliases), f"{spec.name}.{col.name} {col.aliases} vs {other} {aliases}"
            else:
                seen[key] = (spec.name, col.aliases)


def test_user_licenses_reads_direct_number(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = _excel(tmp_path, "lic.csv", ["email;add_license_ids;Direct_Number;extension", f"ana@x.com;{LIC_A};0034935550011;1001"])
    result = run_cli("import", str(f), "--action", "user.licenses")
    assert result.exit_code == 0, result.stderr
    assert "Direct_Number" not in result.stdout  # not "ignored"
    assert json.loads(_rows(ledger_path)[0][3])["phone_number"] == "+34935550011"
    shown = run_cli("actions", "user.licenses")
    assert "phone_number (or direct_number)" in shown.stdout


def test_a_column_another_action_of_the_family_reads_is_a_warning(run_cli: Callable[..., Result]) -> None:
    result = run_cli("import", str(SAMPLES / "Usuarios.csv"), "--action", "user.forwarding")
    assert result.exit_code == 0, result.stderr
    warning = [line for line in result.stdout.splitlines() if "warning:" in line]
    assert len(warning) == 1
    assert "user.forwarding does not read these columns" in warning[0]
    assert "legacy_phone_number (user.secondary_number)" in warning[0]
    assert "first_name, last_name, display_name, add_license_ids, direct_number (user.create)" in warning[0]
    ignored = [line for line in result.stdout.splitlines() if "ignored columns" in line]
    assert ignored == ["  ignored columns (not used by user.forwarding): primary, entity_id, group_id"]


# --- numbers ------------------------------------------------------------------------------------------


def test_0034_numbers_are_plus_34() -> None:
    assert norm_e164("0034935678901") == "+34935678901"
    assert norm_e164("0034 93 567 89 01") == "+34935678901"
    assert norm_e164_list("0034935678901, 34935678902") == ["+34935678901", "+34935678902"]


def test_scientific_notation_inside_a_list_says_format_as_text(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = _excel(tmp_path, "n.csv", ["name;phone_numbers", 'SITE1;"3,49357E+10,3,49358E+10"', "SITE2;3,49357E+10"])
    result = run_cli("import", str(f), "--action", "location.numbers")
    assert result.exit_code == 0, result.stderr
    messages = [m for _, _, m, _ in _rows(ledger_path)]
    assert all("number in scientific notation" in m and "format the column as text" in m for m in messages), messages


# --- did you mean -----------------------------------------------------------------------------------


def test_a_header_that_does_not_match_lists_the_headers_and_guesses(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    f = _excel(tmp_path, "u.csv", ["Correo;Nombre;Apellidos", "ana@x.com;Ana;Muñoz"])
    result = run_cli("import", str(f), "--action", "user.create")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "required column 'email' is missing from the header; the header has: Correo, Nombre, Apellidos" in result.stderr
    assert "did you mean 'Correo' for 'email'?" in result.stderr
    typo = _excel(tmp_path, "l.csv", ["emial;legacy_phone_number", "ana@x.com;+34935550011"])
    result = run_cli("import", str(typo), "--action", "user.secondary_number")
    assert "the header needs one of the columns 'person_id' or 'email'" in result.stderr
    assert "did you mean 'emial' for 'email'?" in result.stderr


def test_a_mistyped_action_gets_did_you_mean(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    f = tmp_path / "u.csv"
    f.write_text("email\nana@x.com\n")
    result = run_cli("import", str(f), "--action", "user.licences")
    assert result.exit_code == 2
    assert "unknown action 'user.licences'; did you mean 'user.licenses'" in result.stderr
    result = run_cli("import", str(f), "--action", "usuarios_remover_licencia")
    assert "did you mean 'usuarios_remover_licencias'" in result.stderr


# --- the v21 licence aliases keep their meaning ---------------------------------------------------------


def test_modificar_and_remover_are_two_intents(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = tmp_path / "lic.csv"
    f.write_text(f"email,add_license_ids,remove_license_ids\nana@x.com,{LIC_A},{LIC_B}\n")
    first = run_cli("import", str(f), "--action", "usuarios_modificar_licencias")
    second = run_cli("import", str(f), "--action", "usuarios_remover_licencias")
    assert first.exit_code == second.exit_code == 0
    assert "already imported" not in second.stdout
    got = {a: json.loads(p) for a, p in _rows(ledger_path, "SELECT action, payload FROM ledger")}
    assert got["user.licenses"]["add_license_ids"] == [LIC_A] and got["user.licenses"]["remove_license_ids"] == [LIC_B]
    assert "add_license_ids" not in got["user.remove_licenses"]
    assert got["user.remove_licenses"]["remove_license_ids"] == [LIC_B]
    assert get_spec("usuarios_remover_licencias").executor == get_spec("usuarios_modificar_licencias").executor


def test_the_sample_usuarios_licences_say_which_alias_to_use(run_cli: Callable[..., Result], ledger_path: Path) -> None:
    """The operators' Usuarios.csv adds BCSTD and removes it again on every line."""
    result = run_cli("import", str(SAMPLES / "Usuarios.csv"), "--action", "usuarios_modificar_licencias")
    assert result.exit_code == 0
    messages = [m for _, status, m, _ in _rows(ledger_path) if status == "invalid"]
    assert len(messages) == 3
    assert all("import the file with --action usuarios_remover_licencias" in m for m in messages)
    again = run_cli("import", str(SAMPLES / "Usuarios.csv"), "--action", "usuarios_remover_licencias")
    assert again.exit_code == 0 and "3 rows, 3 pending, 0 invalid" in again.stdout


@pytest.mark.parametrize(
    ("raw", "token", "noted"),
    [("Bearer abc.def", "abc.def", True), ("  bearer   abc ", "abc", True), ("abc", "abc", False), ("", "", False)],
)
def test_a_token_pasted_with_bearer_loses_the_prefix(raw: str, token: str, noted: bool) -> None:
    from ledger.settings import clean_token

    got, note = clean_token(raw)
    assert got == token and bool(note) == noted
    assert token == "" or token not in note


# --- empty optional cells are not errors ----------------------------------------------------------------


def test_an_empty_legacy_number_is_nothing_to_do_not_invalid(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = _excel(tmp_path, "sec.csv", ["email;legacy_phone_number", "ana@x.com;0034935550011", "luis@x.com;", "bad@;"])
    result = run_cli("import", str(f), "--action", "user.secondary_number")
    assert result.exit_code == 0, result.stderr
    assert "3 rows, 1 pending, 1 nothing to do (optional cells empty), 1 invalid" in result.stdout
    got = {n: (s, m) for n, s, m, _ in _rows(ledger_path)}
    assert got[2] == ("pending", None)
    assert got[3] == ("nothing_to_do", "nothing to do: legacy_phone_number empty")
    assert got[4][0] == "invalid"  # a bad email is still an error
    assert _rows(ledger_path, "SELECT error_kind FROM ledger WHERE line_no = 3") == [(None,)]
    # the whole-file check stays: a file without the column is refused
    nocol = _excel(tmp_path, "nocol.csv", ["email", "ana@x.com"])
    refused = run_cli("import", str(nocol), "--action", "user.secondary_number")
    assert refused.exit_code == 1 and "the header needs one of the columns 'legacy_phone_number'" in refused.stderr


def test_a_licence_row_with_nothing_to_add_or_remove_is_nothing_to_do(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = tmp_path / "lic.csv"
    f.write_text(f"email,add_license_ids,remove_license_ids\nana@x.com,,\nluis@x.com,{LIC_A},\n")
    assert run_cli("import", str(f), "--action", "user.licenses").exit_code == 0
    got = {n: (s, m) for n, s, m, _ in _rows(ledger_path)}
    assert got[2] == ("nothing_to_do", "nothing to do: add_license_ids and remove_license_ids empty")
    assert got[3] == ("pending", None)
