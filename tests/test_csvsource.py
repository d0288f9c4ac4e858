"""Streaming CSV reading: encodings, delimiters, quoted fields, line numbers, whole-file errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.importing.csvsource import CsvSource, detect_delimiter
from ledger.errors import InputError


def _read(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    with CsvSource(path) as src:
        return src.header, list(src)


def test_bom_semicolon_and_crlf(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes("\ufeffemail;name\r\nA@x.com;José\r\nb@x.com;\"Pérez; Ana\"\r\n".encode())
    header, rows = _read(f)
    assert header == ["email", "name"]
    assert rows == [(2, ["A@x.com", "José"]), (3, ["b@x.com", "Pérez; Ana"])]


def test_multiline_quoted_fields_keep_the_first_line_number(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('a,b\n1,"x\ny\nz"\n\n2,"p,q"\n3,"r\n"\n4,s\n', encoding="utf-8")
    _, rows = _read(f)
    assert [(n, cells[0]) for n, cells in rows] == [(2, "1"), (6, "2"), (7, "3"), (9, "4")]
    assert rows[0][1][1] == "x\ny\nz"


def test_blank_and_empty_cell_rows_are_skipped(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("\na,b\n,\n1,2\n \n", encoding="utf-8")
    header, rows = _read(f)
    assert header == ["a", "b"]
    assert rows == [(4, ["1", "2"])]


def test_unterminated_quote_names_its_line(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('a,b\n1,2\n3,"never closed\n4,5\n6,7\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.csv: line 3: a quoted field is never closed"):
        _read(f)


def test_long_runaway_quote_is_caught(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    body = "".join(f"{i},x\n" for i in range(100))
    f.write_text(f'a,b\n1,"oops\n{body}9",x\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: a quoted field runs over \d+ lines"):
        _read(f)


def test_duplicated_header_column(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("email,name, Email \nx,y,z\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 1: column 'email' appears twice in the header \(columns 1 and 3\)"):
        _read(f)


def test_undecodable_byte_names_the_physical_line(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(b"a,b\n1,2\n3,\"x\ny\"\n4,caf\x81\n")  # 0x81: neither UTF-8 nor Windows-1252
    with pytest.raises(InputError, match=r"line 5: byte 0x81 in column 'b', character 4 of that cell is not UTF-8"):
        _read(f)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(content)
    with pytest.raises(InputError, match="empty file"):
        _read(f)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        _read(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a directory"):
        _read(tmp_path)


def test_detect_delimiter() -> None:
    assert detect_delimiter("a,b,c") == ","
    assert detect_delimiter("a;b;c") == ";"
    assert detect_delimiter("a\tb") == "\t"
    assert detect_delimiter("single") == ","


def test_streaming_does_not_read_ahead(tmp_path: Path) -> None:
    """Rows come one at a time: an error far down the file is raised only when reached."""
    f = tmp_path / "a.csv"
    f.write_bytes(b"a\n" + b"x\n" * 5000 + b"\xff\n")
    with CsvSource(f, encoding="utf-8") as src:
        it = iter(src)
        assert next(it) == (2, ["x"])
        with pytest.raises(InputError, match="line 5002"):
            list(it)


def test_malformed_quote_names_the_row_start(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('a,b\n1,2\n3,"x\ny"z\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"line 3: malformed CSV .*reaches line 4"):
        _read(f)


def test_utf16_and_cr_only_files_say_how_to_fix(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes("email,name\r\na@x.com,A\r\n".encode("utf-16"))
    with pytest.raises(InputError, match=r"line 1: UTF-16 text .*save the file as 'CSV UTF-8'"):
        _read(f)
    f.write_bytes(b"email,name\ra@x.com,A\rb@x.com,B\r")
    with pytest.raises(InputError, match=r"line 1: lines end in CR only"):
        _read(f)


# --- property: whatever csv.writer writes, CsvSource reads back with the right line numbers ----------

_cell = st.text(st.characters(codec="utf-8", exclude_characters="\x00\r"), max_size=12)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(_cell, min_size=3, max_size=3).filter(lambda r: any(c.strip() for c in r)), min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";"]),
    bom=st.booleans(),
    crlf=st.booleans(),
)
def test_round_trip_with_line_numbers(tmp_path: Path, rows: list[list[str]], delimiter: str, bom: bool, crlf: bool) -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n").writerows([["a", "b", "c"], *rows])
    f = tmp_path / "p.csv"
    f.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode())
    header, got = _read(f)
    assert header == ["a", "b", "c"]
    assert [cells for _, cells in got] == rows
    expected_lines, line = [], 2
    for row in rows:
        expected_lines.append(line)
        line += 1 + sum(c.count("\n") for c in row)
    assert [n for n, _ in got] == expected_lines


def test_quote_closed_later_that_swallows_rows_is_caught(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('a,b,c,d,e,f\n1,"oops,x,y,z,w\n2,p,q,r,s,t\n3,s,t",u,v,w\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: a quoted field opened here swallows line 3, which looks like a row"):
        _read(f)


def test_legit_multiline_notes_are_kept(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('a,b,c,d,e,f\n1,"Calle Mayor, 3\n2º, izq",x,y,,\n', encoding="utf-8")
    assert _read(f)[1] == [(2, ["1", "Calle Mayor, 3\n2º, izq", "x", "y", "", ""])]


def test_excel_sep_directive(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(b"\xef\xbb\xbfsep=;\r\nemail;name,with comma\r\na@x.com;A, B\r\n\r\nb@x.com;C\r\n")
    header, rows = _read(f)
    assert header == ["email", "name,with comma"]  # the comma is data: ';' was declared
    assert rows == [(2, ["a@x.com", "A, B"]), (4, ["b@x.com", "C"])]  # line numbers as Excel shows them
