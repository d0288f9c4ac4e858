"""`ledger import` end to end on real SQLite files: whole-file errors, invalid rows, re-import,
global.csv, --profile, --after, and the operators' sample files."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result

from ledger.actions import REGISTRY, get_spec
from ledger.store.engine import open_ledger
from ledger.errors import InputError
from ledger.importing.importer import import_file
from worker_support import ledger_tuples

SAMPLES = Path(__file__).resolve().parent / "data" / "samples"
LIC_A = base64.b64encode(b"ciscospark://us/LICENSE/org:BCSTD_a").decode().rstrip("=")
LIC_B = base64.b64encode(b"ciscospark://us/LICENSE/org:FTC_b").decode().rstrip("=")
ORG = base64.b64encode(b"ciscospark://us/ORGANIZATION/org").decode().rstrip("=")


def rows(path: Path, sql: str = "SELECT line_no, status, error_kind, error_message, business_key FROM ledger ORDER BY id") -> list[tuple[Any, ...]]:
    return ledger_tuples(path, sql)


def write(tmp_path: Path, name: str, text: str) -> Path:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


def assert_nothing_written(ledger_path: Path) -> None:
    assert rows(ledger_path, "SELECT count(*) FROM imports") == [(0,)]
    assert rows(ledger_path, "SELECT count(*) FROM ledger") == [(0,)]
    assert rows(ledger_path, "SELECT count(*) FROM import_deps") == [(0,)]


USERS = "email,first_name,last_name,extension\nana@x.com,Ana,Pérez,1001\nluis@x.com,Luis,Gómez,1002\n"


# --- whole-file errors: one line naming the file (and column), exit 1, nothing written -------------------


@pytest.mark.parametrize(
    ("content", "extra", "expected"),
    [
        (None, [], "nope.csv: file not found"),
        (b"", [], "u.csv: empty file"),
        (b"email,first_name,last_name\n", [], "u.csv: no data rows (header only)"),
        (b"email,first_name\nana@x.com,Ana\n", [], "u.csv: required column 'last_name' is missing from the header"),
        (b"email,first_name,last_name\nana@x.com,Ana,Mu\x81oz\n", [], "u.csv: line 2: byte 0x81 in column 'last_name', character 3 of that cell is not UTF-8 or Windows-1252"),
        (b'email,first_name,last_name\nana@x.com,"Ana,P\n', [], "u.csv: line 2: a quoted field is never closed"),
        (b"email,Email,first_name,last_name\n", [], "u.csv: line 1: column 'email' appears twice"),
        (USERS.encode(), ["--profile", "PROFILE"], "u.csv: action 'user.create' does not accept --profile"),
        (USERS.encode(), ["--after", "42"], "--after 42: no such import"),
    ],
)
def test_whole_file_errors(
    tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path, content: bytes | None, extra: list[str], expected: str
) -> None:
    f = tmp_path / ("nope.csv" if content is None else "u.csv")
    if content is not None:
        f.write_bytes(content)
    profile = write(tmp_path, "p.json", '{"calling_permissions": [{"call_type": "NATIONAL", "action": "ALLOW"}]}')
    extra = [str(profile) if a == "PROFILE" else a for a in extra]
    result = run_cli("import", str(f), "--action", "user.create", *extra)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("ledger: error: ")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_written(ledger_path)


def test_unknown_action(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    result = run_cli("import", str(write(tmp_path, "u.csv", USERS)), "--action", "user.explode")
    assert result.exit_code == 2
    assert result.stderr.startswith("ledger: error: unknown action 'user.explode'; did you mean ")
    assert result.stderr.endswith("run `ledger actions` to list them\n") and result.stderr.count("\n") == 1
    assert_nothing_written(ledger_path)


@pytest.mark.parametrize(
    ("global_text", "expected"),
    [
        ("org_id\n", "g.csv: a global.csv must have exactly one data row (found 0)"),
        (f"org_id\n{ORG}\n{ORG}\n", "exactly one data row (found 2)"),
        ("org_id\nnot-an-id!\n", "g.csv: column 'org_id': not a Webex id"),
    ],
)
def test_bad_global(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path, global_text: str, expected: str) -> None:
    users = write(tmp_path, "u.csv", "email,first_name,last_name\nana@x.com,Ana,P\n")
    g = write(tmp_path, "g.csv", global_text)
    result = run_cli("import", str(users), "--action", "user.scim_create", "--global", str(g))
    assert result.exit_code == 1, result.output
    assert expected in result.stderr and result.stderr.count("\n") == 1
    assert_nothing_written(ledger_path)


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("{not json", "p.json: not valid JSON (line 1, column 2"),
        ("[]", "must be a JSON object"),
        ('{"calling_permissions": []}', "'calling_permissions' must be a non-empty list"),
        ('{"calling_permissions": [{"call_type": "MARS", "action": "ALLOW"}]}', "calling_permissions[0].call_type: must be one of"),
        ('{"calling_permissions": [{"call_type": "NATIONAL", "action": "MAYBE"}]}', "calling_permissions[0].action: must be one of"),
        ('{"calling_permissions": [{"call_type": "NATIONAL", "action": "ALLOW", "transfer_enabled": "perhaps"}]}', "transfer_enabled: must be true or false"),
        ('{"use_custom_enabled": true, "colour": 1, "calling_permissions": [{"call_type": "NATIONAL", "action": "ALLOW"}]}', "unknown field(s) 'colour'"),
        ('{"calling_permissions": [{"call_type": "INTERNAL", "action": "ALLOW"}]}', "'INTERNAL' is not a Webex call type (did you mean INTERNAL_CALL?)"),
        ('{"calling_permissions": [{"call_type": "NATIONAL", "action": "ALLOW"}, {"callType": "national", "action": "BLOCK"}]}', "calling_permissions[1].call_type: NATIONAL is given twice"),
    ],
)
def test_bad_profile(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path, profile: str, expected: str) -> None:
    users = write(tmp_path, "u.csv", "email\nana@x.com\n")
    p = write(tmp_path, "p.json", profile)
    result = run_cli("import", str(users), "--action", "user.outgoing_permissions", "--profile", str(p))
    assert result.exit_code == 1
    assert expected in result.stderr and result.stderr.count("\n") == 1
    assert_nothing_written(ledger_path)


def test_error_late_in_the_file_rolls_everything_back(tmp_path: Path, ledger_path: Path) -> None:
    body = "".join(f"user{i}@x.com,A,B\n" for i in range(12_000))
    f = tmp_path / "u.csv"
    f.write_bytes(("email,first_name,last_name\n" + body).encode() + b"bad\x81,A,B\n")
    engine = open_ledger(ledger_path)
    with pytest.raises(InputError, match="line 12002"):
        import_file(engine, get_spec("user.create"), f)
    engine.dispose()
    assert_nothing_written(ledger_path)


# --- invalid rows ---------------------------------------------------------------------------------


def test_invalid_rows_keep_line_numbers_and_raw_row(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = write(
        tmp_path,
        "u.csv",
        "email,first_name,last_name,extension,notes\n"
        'ana@x.com,Ana,"Pérez\nGarcía",1001,"multi\nline\nnote"\n'  # lines 2-5
        "foo@,Luis,Gómez,10x2,\n"  # line 6: two problems
        "ANA@x.com,Ana,Again,1003,\n"  # line 7: duplicate of line 2
        ",Eva,Ruiz,1004,\n"  # line 8: required email empty
        'eva@x.com,"Eva, Jr",Ruiz,1005,\n',  # line 9: fine, quoted comma
    )
    result = run_cli("import", str(f), "--action", "user.create")
    assert result.exit_code == 0, result.stderr
    assert "import 1: " in result.stdout and "5 rows, 2 pending, 3 invalid" in result.stdout
    assert "ignored columns (not used by user.create): notes" in result.stdout
    assert rows(ledger_path) == [
        (2, "pending", None, None, "ana@x.com"),
        (6, "invalid", "invalid",
         "column 'email': not a valid email address ('foo@'); column 'extension': not an extension ('10x2'; digits only)", None),
        (7, "invalid", "invalid", "duplicate of line 2 (same email)", "ana@x.com"),
        (8, "invalid", "invalid", "column 'email': required, but empty", None),
        (9, "pending", None, None, "eva@x.com"),
    ]
    payloads = [json.loads(p) for (p,) in rows(ledger_path, "SELECT payload FROM ledger ORDER BY id")]
    assert payloads[0] == {"email": "ana@x.com", "first_name": "Ana", "last_name": "Pérez\nGarcía", "extension": "1001"}
    assert payloads[1] == {"email": "foo@", "first_name": "Luis", "last_name": "Gómez", "extension": "10x2", "notes": ""}  # raw
    assert payloads[4]["first_name"] == "Eva, Jr"
    assert rows(ledger_path, "SELECT rows_total, rows_valid, rows_invalid FROM imports") == [(5, 2, 3)]


# --- duplicate business keys (found through a TEMP table, chunk by chunk) ----------------------------


def _users_with_duplicates(n: int, dups: dict[int, int], bad_ext: set[int]) -> str:
    """``n`` users; row ``i`` in ``dups`` repeats row ``dups[i]``'s email (in capitals: normalised);
    rows in ``bad_ext`` have an invalid extension. Line of row ``i`` = i + 2."""
    out = ["email,first_name,last_name,extension"]
    for i in range(n):
        email = f"user{dups[i]}@x.com".upper() if i in dups else f"user{i}@x.com"
        out.append(f"{email},F{i},L,{'12x' if i in bad_ext else 1000 + i}")
    return "\n".join(out) + "\n"


def _expected(n: int, dups: dict[int, int], bad_ext: set[int]) -> dict[int, str | None]:
    """line → error message, computed the slow obvious way (a dict of every key)."""
    first: dict[str, int] = {}
    out: dict[int, str | None] = {}
    for i in range(n):
        line, key = i + 2, f"user{dups.get(i, i)}@x.com"
        problems = ["column 'extension': not an extension ('12x'; digits only)"] if i in bad_ext else []
        earlier = first.setdefault(key, line)
        if earlier != line:
            problems.append(f"duplicate of line {earlier} (same email)")
        out[line] = "; ".join(problems) or None
    return out


def _check_duplicates(tmp_path: Path, ledger_path: Path, n: int, dups: dict[int, int], bad_ext: set[int]) -> None:
    f = write(tmp_path, "u.csv", _users_with_duplicates(n, dups, bad_ext))
    engine = open_ledger(ledger_path)
    result = import_file(engine, get_spec("user.create"), f)
    engine.dispose()
    expected = _expected(n, dups, bad_ext)
    got = rows(ledger_path, "SELECT line_no, status, error_message, business_key, location_key, payload FROM ledger ORDER BY line_no")
    assert {line: msg for line, _, msg, *_ in got} == expected
    assert all(status == ("invalid" if expected[line] else "pending") for line, status, *_ in got)
    for line, _, msg, key, location, payload in got:
        i = line - 2
        assert key == f"user{dups.get(i, i)}@x.com"  # the business key is kept on a duplicate too
        if msg:  # an invalid row keeps its raw cells, not the normalised payload
            assert location is None and json.loads(payload)["email"] == (key.upper() if i in dups else key)
    n_invalid = sum(1 for m in expected.values() if m)
    assert (result.rows_total, result.rows_valid, result.rows_invalid) == (n, n - n_invalid, n_invalid)
    assert rows(ledger_path, "SELECT rows_total, rows_valid, rows_invalid FROM imports") == [(n, n - n_invalid, n_invalid)]
    assert list(result.first_invalid) == sorted((line, m) for line, m in expected.items() if m)[:5]


def test_duplicates_across_key_and_insert_chunks(tmp_path: Path, ledger_path: Path) -> None:
    """With the real chunk sizes: a key seen thousands of lines (and several inserted chunks) earlier,
    just across a 500-row boundary, twice in one chunk, a third time (names the first line), a
    duplicate of an invalid line, and a duplicate that has its own problem (listed first)."""
    from ledger.importing import importer
    from ledger.store import imports as store

    key_chunk, insert_chunk = importer.KEY_CHUNK, store.INSERT_CHUNK
    n = insert_chunk + 3 * key_chunk
    dups = {
        n - 1: 0,  # the last row repeats the first one, long inserted
        key_chunk: key_chunk - 1,  # first row of the second key chunk repeats the last of the first
        insert_chunk: insert_chunk - 1,  # across an insert boundary
        12: 10, 14: 10, insert_chunk + 7: 10,  # same chunk, then a third and fourth time: line 12 each time
        2 * key_chunk + 5: 3,  # row 3 is invalid (bad extension): still the earlier line
        n - 2: 4,  # has a bad extension itself: its own problem first, then the duplicate
    }
    _check_duplicates(tmp_path, ledger_path, n, dups, bad_ext={3, 20, n - 2})


@pytest.mark.parametrize(("key_chunk", "insert_chunk"), [(1, 1), (2, 3), (3, 7), (7, 7), (50, 5000)])
def test_duplicates_whatever_the_chunk_sizes(
    tmp_path: Path, ledger_path: Path, monkeypatch: pytest.MonkeyPatch, key_chunk: int, insert_chunk: int
) -> None:
    from ledger.importing import importer
    from ledger.store import imports as store

    monkeypatch.setattr(importer, "KEY_CHUNK", key_chunk)
    monkeypatch.setattr(store, "INSERT_CHUNK", insert_chunk)
    n = 40
    dups = {1: 0, 2: 0, 5: 4, 9: 8, 10: 7, 17: 16, 21: 3, 22: 0, 30: 29, 39: 38, 38: 6}
    _check_duplicates(tmp_path, ledger_path, n, dups, bad_ext={4, 8, 9, 33})


def test_duplicates_are_per_import_and_survive_a_failed_import(tmp_path: Path, ledger_path: Path) -> None:
    """The key table belongs to one import: the same emails in the next import (same engine, so the
    same pooled connection) are not duplicates, and a failed import leaves nothing behind."""
    engine = open_ledger(ledger_path)
    first = import_file(engine, get_spec("user.create"), write(tmp_path, "a.csv", USERS))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"email,first_name,last_name\nana@x.com,A,B\nana@x.com,A,B\nbad\x81,A,B\n")
    with pytest.raises(InputError, match="line 4"):
        import_file(engine, get_spec("user.create"), bad)
    again = import_file(engine, get_spec("user.create"), write(tmp_path, "b.csv", USERS + "ana@x.com,Ana,Bis,1003\n"))
    engine.dispose()
    assert (first.rows_invalid, again.rows_total, again.rows_invalid) == (0, 3, 1)
    assert again.first_invalid == ((4, "duplicate of line 2 (same email)"),)


def test_store_earlier_lines(ledger_path: Path) -> None:
    """The TEMP key table: the first line of a key wins, within one call and across calls, until the
    next start_key_check; nothing of it reaches the ledger file."""
    from ledger.store import imports as store

    engine = open_ledger(ledger_path)
    with engine.begin() as conn:
        store.start_key_check(conn)
        assert store.earlier_lines(conn, [("a", 2), ("b", 3), ("a", 4)]) == {4: 2}
        assert store.earlier_lines(conn, [("c", 5), ("b", 6), ("a", 7), ("c", 8)]) == {6: 3, 7: 2, 8: 5}
        assert store.earlier_lines(conn, []) == {}
        store.start_key_check(conn)  # the next import starts empty
        assert store.earlier_lines(conn, [("a", 9), ("A", 10)]) == {}  # exact comparison
        store.end_key_check(conn)
    engine.dispose()
    assert rows(ledger_path, "SELECT count(*) FROM sqlite_master WHERE name = 'import_keys'") == [(0,)]


def test_duplicates_compare_every_key_column_exactly(tmp_path: Path, ledger_path: Path) -> None:
    """workspace.create's key has three columns: equal '|'-joined business keys are not duplicates,
    equal columns are."""
    f = write(
        tmp_path,
        "ws.csv",
        "display_name,location_name\n"
        "A|B,C\n"  # line 2: business key A|B|C
        "A,B|C\n"  # line 3: same business key, other columns: not a duplicate
        "a|b,C\n"  # line 4: case matters for a name
        "A|B, C \n",  # line 5: trimmed: same as line 2
    )
    engine = open_ledger(ledger_path)
    result = import_file(engine, get_spec("workspace.create"), f)
    engine.dispose()
    assert rows(ledger_path, "SELECT line_no, status, error_message FROM ledger ORDER BY line_no") == [
        (2, "pending", None),
        (3, "pending", None),
        (4, "pending", None),
        (5, "invalid", "duplicate of line 2 (same display_name/location_id/location_name)"),
    ]
    assert result.rows_invalid == 1


def test_extra_cells_and_repeated_header_are_row_problems(tmp_path: Path, ledger_path: Path) -> None:
    f = write(tmp_path, "u.csv", "email,first_name,last_name\na@x.com,A,B,oops\nEmail,First_Name,last_name\nb@x.com,B,C,\n")
    engine = open_ledger(ledger_path)
    result = import_file(engine, get_spec("user.create"), f)
    engine.dispose()
    assert (result.rows_valid, result.rows_invalid) == (1, 2)
    messages = [m for (m,) in rows(ledger_path, "SELECT error_message FROM ledger WHERE status = 'invalid' ORDER BY line_no")]
    assert messages[0] == "4 cells but the header has 3 (an unquoted comma?)"
    assert "this line repeats the header" in messages[1]


def test_bom_semicolon_aliases_and_case_insensitive_header(tmp_path: Path, ledger_path: Path) -> None:
    f = tmp_path / "u.csv"
    f.write_bytes(
        "\ufeffEMAIL;First Name;last_name;add_license_ids;Direct_Number\r\n"
        f'Ana@X.com;Ana;P;"{LIC_A}, {LIC_B},{LIC_A}";+34 935 678 901\r\n'.encode()
    )
    engine = open_ledger(ledger_path)
    import_file(engine, get_spec("usuarios_alta_people"), f)
    engine.dispose()
    (payload,) = rows(ledger_path, "SELECT payload FROM ledger")[0]
    assert json.loads(payload) == {
        "email": "ana@x.com", "first_name": "Ana", "last_name": "P", "licenses": [LIC_A, LIC_B],
        "phone_number": "+34935678901",
    }


# --- re-import, global, profile, --after ----------------------------------------------------------


def test_reimport_adds_nothing_and_says_so(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = write(tmp_path, "u.csv", USERS)
    assert run_cli("import", str(f), "--action", "user.create").exit_code == 0
    again = run_cli("import", str(f), "--action", "usuarios_alta_people")
    assert again.exit_code == 0
    assert "already imported as import 1 for user.create (2 rows); nothing added" in again.stdout
    assert rows(ledger_path, "SELECT count(*) FROM ledger") == [(2,)]
    # the same file for another action is a new import
    other = run_cli("import", str(f), "--action", "user.forwarding")
    assert "import 2:" in other.stdout
    # an edited file is a new import
    f.write_text(USERS + "eva@x.com,Eva,R,1003\n", encoding="utf-8")
    assert "import 3:" in run_cli("import", str(f), "--action", "user.create").stdout


def test_global_fills_empty_cells_and_row_wins(tmp_path: Path, ledger_path: Path) -> None:
    g = write(tmp_path, "g.csv", f"org_id,number_type,unused\r\n{ORG},TOLLFREE,zzz\r\n")
    f = write(tmp_path, "loc.csv", "name,phone_numbers,number_type\nSITE1,\"+34935678901,+34935678902\",\nSITE2,+34935678903,did\n")
    engine = open_ledger(ledger_path)
    import_file(engine, get_spec("location.numbers"), f, global_path=g)
    engine.dispose()
    payloads = [json.loads(p) for (p,) in rows(ledger_path, "SELECT payload FROM ledger ORDER BY id")]
    assert payloads == [
        {"org_id": ORG, "name": "SITE1", "phone_numbers": ["+34935678901", "+34935678902"], "number_type": "TOLLFREE"},
        {"org_id": ORG, "name": "SITE2", "phone_numbers": ["+34935678903"], "number_type": "DID"},
    ]
    assert rows(ledger_path, "SELECT location_key, business_key FROM ledger ORDER BY id") == [("SITE1", "SITE1"), ("SITE2", "SITE2")]


def test_global_supplies_a_required_column(tmp_path: Path, ledger_path: Path) -> None:
    g = write(tmp_path, "g.csv", f"org_id\n{ORG}\n")
    f = write(tmp_path, "u.csv", "email,first_name,last_name\nana@x.com,Ana,P\n")
    engine = open_ledger(ledger_path)
    result = import_file(engine, get_spec("user.scim_create"), f, global_path=g)
    engine.dispose()
    assert result.rows_valid == 1
    assert json.loads(rows(ledger_path, "SELECT payload FROM ledger")[0][0])["org_id"] == ORG


def test_profile_is_normalised_into_every_row(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    p = write(
        tmp_path,
        "p.json",
        json.dumps({
            "use_custom_enabled": True,
            "use_custom_permissions": "TRUE",
            "calling_permissions": [
                {"call_type": "international", "action": "BLOCK", "transfer_enabled": False},
                {"call_type": "NATIONAL", "action": "allow"},
            ],
        }),
    )
    f = write(tmp_path, "u.csv", "email\nana@x.com\nluis@x.com\n")
    result = run_cli("import", str(f), "--action", "user.outgoing_permissions", "--profile", str(p))
    assert result.exit_code == 0, result.stderr
    profiles = [json.loads(x)["profile"] for (x,) in rows(ledger_path, "SELECT payload FROM ledger")]
    expected = {
        "use_custom_enabled": True,
        "use_custom_permissions": True,
        "calling_permissions": [
            {"call_type": "INTERNATIONAL", "action": "BLOCK", "transfer_enabled": False},
            {"call_type": "NATIONAL", "action": "ALLOW"},
        ],
    }
    assert profiles == [expected, expected]
    # Webex's camelCase form (a profile dumped from Webex) normalises to the same thing
    camel = write(tmp_path, "camel.json", json.dumps({
        "useCustomEnabled": True, "useCustomPermissions": True,
        "callingPermissions": [{"callType": "INTERNATIONAL", "action": "BLOCK", "transferEnabled": False},
                               {"callType": "NATIONAL", "action": "ALLOW"}],
    }))
    assert "already imported" in run_cli("import", str(f), "--action", "user.outgoing_permissions", "--profile", str(camel)).stdout
    # the same file with another profile is a new import; with the same profile it is not
    assert "already imported" in run_cli("import", str(f), "--action", "user.outgoing_permissions", "--profile", str(p)).stdout
    p.write_text(json.dumps({"calling_permissions": [{"call_type": "NATIONAL", "action": "BLOCK"}]}))
    assert "import 2:" in run_cli("import", str(f), "--action", "user.outgoing_permissions", "--profile", str(p)).stdout


def test_after_records_dependencies(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    locs = write(tmp_path, "l.csv", "name,phone_numbers\nSITE1,+34935678901\n")
    users = write(tmp_path, "u.csv", "email,first_name,last_name,location_name\nana@x.com,A,B,SITE1\n")
    assert run_cli("import", str(locs), "--action", "location.numbers").exit_code == 0
    assert run_cli("import", str(users), "--action", "user.create", "--after", "1", "--after", "1").exit_code == 0
    assert rows(ledger_path, "SELECT import_id, depends_on_import_id FROM import_deps") == [(2, 1)]
    again = run_cli("import", str(locs), "--action", "location.numbers", "--after", "2")
    assert again.stdout.endswith("nothing added (--after 2 not applied to the earlier import)\n")
    assert rows(ledger_path, "SELECT count(*) FROM import_deps") == [(1,)]
    assert rows(ledger_path, "SELECT location_key FROM ledger WHERE import_id = 2") == [("SITE1",)]


# --- the operators' sample files ------------------------------------------------------------------


def test_sample_usuarios_for_licenses_flags_add_remove_overlap(run_cli: Callable[..., Result], ledger_path: Path) -> None:
    result = run_cli("import", str(SAMPLES / "Usuarios.csv"), "--action", "usuarios_modificar_licencias",
                     "--global", str(SAMPLES / "global.csv"))
    assert result.exit_code == 0, result.stderr
    got = rows(ledger_path)
    assert [(line, status) for line, status, *_ in got] == [(2, "invalid"), (3, "invalid"), (4, "invalid")]
    for _, _, kind, message, _ in got:
        assert kind == "invalid"
        assert message.startswith("column 'remove_license_ids': also in 'add_license_ids'")
        assert "BCSTD_e0f6513f" in message


def test_sample_usuarios_for_create(run_cli: Callable[..., Result], ledger_path: Path) -> None:
    result = run_cli("import", str(SAMPLES / "Usuarios.csv"), "--action", "user.create", "--global", str(SAMPLES / "global.csv"))
    assert result.exit_code == 0, result.stderr
    assert [(line, status, key) for line, status, _, _, key in rows(ledger_path)] == [
        (2, "pending", "andres.garcia@lab.example.com"),
        (3, "pending", "carmen.munoz@lab.example.com"),
        (4, "pending", "jose.lopez@lab.example.com"),
    ]
    first = json.loads(rows(ledger_path, "SELECT payload FROM ledger ORDER BY id LIMIT 1")[0][0])
    assert first["display_name"] == "Andres  García-Toñez"  # inner spaces kept, only trimmed
    assert first["extension"] == "80347245" and len(first["licenses"]) == 1
    assert "org_id" in first  # from global.csv


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("location.numbers", [(2, "pending"), (3, "pending")]),
        ("location.main_number", [(2, "pending"), (3, "pending")]),
        ("location.pstn", [(2, "pending"), (3, "pending")]),
        ("location.internal_dialing", [(2, "pending"), (3, "pending")]),
    ],
)
def test_sample_ubicaciones(run_cli: Callable[..., Result], ledger_path: Path, action: str, expected: list[tuple[int, str]]) -> None:
    result = run_cli("import", str(SAMPLES / "Ubicaciones.csv"), "--action", action, "--global", str(SAMPLES / "global.csv"))
    assert result.exit_code == 0, result.stderr
    assert [(line, status) for line, status, *_ in rows(ledger_path)] == expected
    keys = rows(ledger_path, "SELECT location_key FROM ledger ORDER BY id")
    assert keys == [("CUV93470292900",), ("CUV93516754500",)]
    if action == "location.main_number":
        payloads = [json.loads(p) for (p,) in rows(ledger_path, "SELECT payload FROM ledger ORDER BY id")]
        assert [p["calling_line_id"] for p in payloads] == ["+34935678901", "+34934567890"]


def test_import_is_fast_enough_to_hold_21000_rows(tmp_path: Path, ledger_path: Path) -> None:
    """Scale check (not timed): a 21,000-row file lands completely, in order, in one import."""
    from ledger.demo.samplegen import write_users_csv

    f = tmp_path / "big.csv"
    emails = write_users_csv(f, 21_000, license_id=LIC_A)
    engine = open_ledger(ledger_path)
    result = import_file(engine, get_spec("user.create"), f)
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT min(line_no), max(line_no), count(DISTINCT business_key) FROM ledger")).one()
    engine.dispose()
    assert (result.rows_total, result.rows_valid) == (21_000, 21_000)
    assert tuple(got) == (2, 21_001, len(set(emails)))


@pytest.mark.slow(minutes=0.3)  # a 210,000-row child process / the benchmark script: not in `make check`
def test_import_memory_does_not_grow_with_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python-heap peak (tracemalloc) of importing 3,000 and 30,000 rows, 500 rows inserted at a
    time (so both sizes fill whole chunks): nothing is kept per row (the duplicate-key dict this
    replaced held ~200 bytes a row: +5 MB here)."""
    import tracemalloc

    from ledger.store import imports as store
    from ledger.demo.samplegen import write_users_csv

    monkeypatch.setattr(store, "INSERT_CHUNK", 500)
    peaks = []
    for n in (3_000, 30_000):
        f = tmp_path / f"u{n}.csv"
        write_users_csv(f, n, license_id=LIC_A)
        engine = open_ledger(tmp_path / f"l{n}.db")
        tracemalloc.start()
        try:
            result = import_file(engine, get_spec("user.create"), f)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
            engine.dispose()
        assert result.rows_valid == n
    assert peaks[1] < peaks[0] * 1.25 + 512 * 1024, peaks


def test_two_processes_importing_the_same_file_make_one_import(tmp_path: Path, ledger_path: Path) -> None:
    """The re-import check runs inside the write-locked transaction: concurrent imports serialise."""
    import subprocess
    import sys

    from ledger.demo.samplegen import write_users_csv

    f = tmp_path / "big.csv"
    write_users_csv(f, 5_000)
    cmd = [sys.executable, "-m", "ledger", "--db", str(ledger_path), "import", str(f), "--action", "user.create"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert sum("already imported" in out for out, _ in outs) == 2
    assert rows(ledger_path, "SELECT count(*), count(DISTINCT import_id) FROM ledger") == [(5_000, 1)]


@pytest.mark.parametrize("sample", ["Usuarios.csv", "Ubicaciones.csv"])
@pytest.mark.parametrize("action", REGISTRY.names())
def test_every_action_on_every_sample_imports_or_says_why(
    run_cli: Callable[..., Result], ledger_path: Path, action: str, sample: str
) -> None:
    """No action/sample combination crashes: rows land (pending or invalid per line), or one clear line."""
    result = run_cli("import", str(SAMPLES / sample), "--action", action, "--global", str(SAMPLES / "global.csv"))
    if result.exit_code == 0:
        total, valid, invalid = rows(ledger_path, "SELECT rows_total, rows_valid, rows_invalid FROM imports")[0]
        assert total == valid + invalid == len(rows(ledger_path))
        (nothing,) = rows(ledger_path, "SELECT count(*) FROM ledger WHERE status = 'nothing_to_do'")[0]
        shown = f", {nothing} nothing to do (optional cells empty)" if nothing else ""
        assert f"{total} rows, {valid - nothing} pending{shown}, {invalid} invalid" in result.stdout
    else:
        assert result.exit_code == 1
        assert result.stderr.startswith(f"ledger: error: {SAMPLES / sample}: ") and result.stderr.count("\n") == 1
        assert "column" in result.stderr
        assert_nothing_written(ledger_path)


# --- the validator on a synthetic spec (every rule kind) ---------------------------------------------

def test_validator_rules_on_a_synthetic_spec() -> None:
    from ledger.spec import ActionSpec, Column, ColType
    from ledger.importing.validate import InvalidRow, RowValidator, ValidRow

    spec = ActionSpec(
        name="test.rules",
        summary="every rule",
        columns=(
            Column("person_id", ColType.WEBEX_ID),
            Column("email", ColType.EMAIL, aliases=("mail",)),
            Column("kind", ColType.ENUM, choices=("ROUTE_GROUP", "TRUNK"), default="route_group"),
            Column("enabled", ColType.BOOL, default="sí"),
            Column("route_id", ColType.STRING),
            Column("adds", ColType.LIST),
            Column("removes", ColType.LIST),
            Column("n", ColType.INT),
        ),
        one_of=(("person_id", "email"),),
        disjoint=(("adds", "removes"),),
        requires=(("kind", ("route_id",)),),
        key=("email",),
        location_key=("route_id",),
        globals_used=("org_id",),
    )
    v = RowValidator(spec, ["MAIL", "kind", "route_id", "adds", "removes", "n", "extra"], source="t.csv",
                     global_values={"org_id": "ORG1", "enabled": "no"})
    assert v.ignored_columns == ["extra"]
    ok = v.validate(2, [" A@X.com ", "trunk", "R1", "a, b,,a", "c", " 7 ", "zzz"])
    assert ok == ValidRow(
        {"org_id": "ORG1", "email": "a@x.com", "kind": "TRUNK", "enabled": False, "route_id": "R1",
         "adds": ["a", "b"], "removes": ["c"], "n": 7},
        "a@x.com", "R1", "a@x.com",
    )
    bad = v.validate(3, ["", "", "", "a,b", "b, ,", "x"])
    assert isinstance(bad, InvalidRow)
    assert [str(p) for p in bad.problems] == [
        "column 'n': not a whole number ('x')",
        "column 'person_id': empty; give one of 'person_id', 'email'",
        "column 'removes': also in 'adds' (a value cannot be both added and removed: b)",
        "column 'kind': needs one of 'route_id'",  # the default ROUTE_GROUP applies, so route_id is needed
    ]
    again = v.validate(4, ["a@x.com", "", "R2", "", ",", ""])
    assert isinstance(again, ValidRow) and again.dup_key == ok.dup_key  # finding line 2 is the importer's job
    assert str(v.duplicate_problem(2)) == "duplicate of line 2 (same email)"
    assert "removes" not in v.validate(5, ["b@x.com", "", "R3", "", " , ", ""]).payload  # type: ignore[union-attr]
