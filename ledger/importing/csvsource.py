"""Streaming CSV reading: one row at a time, with the spreadsheet line number of each row.

- UTF-8 with or without BOM. A file that is not valid UTF-8 but is valid Windows-1252 (what a Spanish
  Excel saves as "CSV") is read as Windows-1252 and :attr:`CsvSource.note` says so; ``encoding=``
  forces one. A byte that decodes in neither is a whole-file error naming its line, the column and
  the character position in that field.
- The delimiter (``,`` ``;`` or tab) is detected from the header line, or taken from an Excel
  ``sep=;`` first line (which Excel hides: the header is still line 1).
- Quoted fields may hold delimiters and newlines; a row's ``line_no`` is the physical line its
  FIRST line is on (the header is line 1), as a spreadsheet shows it.
- A quote left open (which would swallow the rest of the file) and a header naming a column twice
  are whole-file errors with their line numbers.

Nothing here knows about actions, Webex or the database. Errors are :class:`ledger.errors.InputError`
with messages ``FILE: line N: reason``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from ledger.errors import InputError

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";", "\t")
SEP_LINE = re.compile(r"^sep=(.)\r?\n?$")
#: a quoted field running over more physical lines than this is taken for a quote left open
MAX_ROW_LINES = 50
#: headers at least this wide get the "swallowed row" check on multi-line cells
SWALLOW_CHECK_MIN_COLUMNS = 6

#: the fallback for files that are not UTF-8: Excel's "CSV" on Western-European Windows
FALLBACK_ENCODING = "cp1252"
#: a valid UTF-8 multi-byte sequence: a file holding one AND an invalid byte mixes encodings
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")

csv.field_size_limit(16 * 1024 * 1024)


def header_key(name: str) -> str:
    """How header names are compared: trimmed, lower-case, inner spaces as ``_``."""
    return "_".join(name.strip().lower().split())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _split(line: str, delimiter: str | None) -> list[str]:
    """One physical line's cells, best effort (for error messages)."""
    line = line.lstrip("\ufeff").rstrip("\r\n")
    try:
        return next(csv.reader([line], delimiter=delimiter or detect_delimiter(line)))
    except (csv.Error, StopIteration):
        return []


def detect_delimiter(header_line: str) -> str:
    counts = [(header_line.count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    return max(counts)[2]


class CsvSource:
    """``with CsvSource(path) as src:`` → ``src.header`` (the names as written), then
    ``for line_no, cells in src:`` (cells untrimmed; blank lines skipped)."""

    def __init__(self, path: Path | str, *, encoding: str | None = None) -> None:
        self.path = Path(path)
        self.header: list[str] = []
        self.delimiter = ","
        self.forced_encoding = encoding
        self.encoding = "utf-8"
        self.note = ""  # one line for the operator when the file was not read as UTF-8
        self._file: BinaryIO | None = None
        self._physical = 0  # physical lines handed to the csv reader so far

    # --- context manager ---------------------------------------------------------------------
    def __enter__(self) -> CsvSource:
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 (closed in __exit__)
        except FileNotFoundError:
            raise InputError(f"{self.path}: file not found") from None
        except IsADirectoryError:
            raise InputError(f"{self.path}: is a directory, not a CSV file") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read ({exc.strerror})") from None
        try:
            self._sniff_bytes()
            self._choose_encoding()
            self._read_header()
        except BaseException:
            self._file.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._file is not None:
            self._file.close()

    def fail(self, line_no: int, reason: str) -> InputError:
        return InputError(f"{self.path}: line {line_no}: {reason}")

    # --- reading --------------------------------------------------------------------------------
    def _lines(self) -> Iterator[str]:
        assert self._file is not None
        for raw in self._file:
            self._physical += 1
            if self._physical == 1 and raw.startswith(BOM):
                raw = raw[3:]
            try:
                yield raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                raise self._undecodable(self._physical, raw, exc.start) from None

    def _choose_encoding(self) -> None:
        """UTF-8 when the whole file is UTF-8; else Windows-1252 when it is that (with a note);
        ``encoding=`` forces one. Reads the file once, in chunks (memory does not grow with it)."""
        if self.forced_encoding:
            try:
                self.encoding = codecs.lookup(self.forced_encoding).name
            except LookupError:
                raise InputError(f"--encoding {self.forced_encoding}: unknown encoding (e.g. utf-8, cp1252, latin-1)") from None
            if self.encoding != "utf-8":
                self.note = f"{self.path}: read as {self.encoding} (--encoding)"
            return
        bad_at = self._first_bad_utf8()
        if bad_at is None:
            return
        mixed, cp_bad = self._scan_fallback()
        if cp_bad is None and not mixed:
            self.encoding = FALLBACK_ENCODING
            self.note = (
                f"{self.path}: not UTF-8; read as Windows-1252 (Excel's 'CSV'); "
                "pass --encoding NAME if it is another encoding"
            )
            return
        line_no, raw, at = self._line_at(bad_at if cp_bad is None else cp_bad)
        raise self._undecodable(line_no, raw, at, mixed=cp_bad is None)

    def _scan_fallback(self) -> tuple[bool, int | None]:
        """(holds valid UTF-8 multi-byte sequences, offset of the first byte Windows-1252 does not define)."""
        assert self._file is not None
        mixed, offset = False, 0
        try:
            for chunk in iter(lambda: self._file.read(1 << 16), b""):  # type: ignore[union-attr]
                mixed = mixed or bool(_UTF8_MULTIBYTE.search(chunk))
                try:
                    chunk.decode(FALLBACK_ENCODING)
                except UnicodeDecodeError as exc:
                    return mixed, offset + exc.start
                offset += len(chunk)
            return mixed, None
        finally:
            self._file.seek(0)

    def _line_at(self, offset: int) -> tuple[int, bytes, int]:
        """(physical line number, that line's bytes, the offset's position in it)."""
        assert self._file is not None
        start = 0
        try:
            for line_no, raw in enumerate(self._file, start=1):
                if offset < start + len(raw):
                    return line_no, raw, offset - start
                start += len(raw)
            raise AssertionError("offset past the end of the file")
        finally:
            self._file.seek(0)

    def _first_bad_utf8(self) -> int | None:
        """Offset of the first byte that is not UTF-8, or None when the whole file is UTF-8."""
        assert self._file is not None
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        try:
            for chunk in iter(lambda: self._file.read(1 << 16), b""):  # type: ignore[union-attr]
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return offset + exc.start - len(decoder.getstate()[0])
                offset += len(chunk)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                return offset - len(decoder.getstate()[0])
            return None
        finally:
            self._file.seek(0)

    def _undecodable(self, line_no: int, raw: bytes, at: int, *, mixed: bool = False) -> InputError:
        """The error for an undecodable byte: its line, the column it is in and its character position there."""
        text = raw[:at].decode(self.encoding, errors="replace") + "\ufffd"
        text += raw[at + 1 :].decode(self.encoding, errors="replace")
        header = self.header or _split(self._line_at(0)[1].decode(self.encoding, errors="replace"), None)
        where = f" (byte {at + 1} of the line)"
        for i, cell in enumerate(_split(text, self.delimiter if self.header else None)):
            if "\ufffd" in cell:
                name = repr(header[i].strip()) if i < len(header) and header[i].strip() else f"{i + 1}"
                where = f" in column {name}, character {cell.index(chr(0xFFFD)) + 1} of that cell"
                break
        if mixed:
            what = "is not UTF-8, and the file also holds UTF-8 text (mixed encodings)"
        else:
            what = f"is not {self.encoding if self.forced_encoding else 'UTF-8 or Windows-1252'} text"
        return self.fail(line_no, f"byte 0x{raw[at]:02x}{where} {what}; save the file as 'CSV UTF-8'")

    def _sniff_bytes(self) -> None:
        """Refuse, with the fix, the two encodings Excel also offers that are not CSV UTF-8."""
        assert self._file is not None
        head = self._file.read(4096)
        self._file.seek(0)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise self.fail(1, "UTF-16 text (Excel 'Unicode Text'); save the file as 'CSV UTF-8'")
        first = head.split(b"\n", 1)[0]
        if b"\r" in first.rstrip(b"\r") and b"\n" not in head:
            raise self.fail(1, "lines end in CR only (old Mac format); save the file as 'CSV UTF-8'")

    def _read_header(self) -> None:
        lines = self._lines()
        first = next(lines, None)
        forced = None
        if first is not None and (m := SEP_LINE.match(first)):
            # Excel's "sep=;" directive line: it names the delimiter and Excel does not show it,
            # so the header is row 1 as the operator sees it
            forced = m.group(1)
            self._physical -= 1
            first = next(lines, None)
        while first is not None and not first.strip():
            first = next(lines, None)
        if first is None:
            raise InputError(f"{self.path}: empty file (no header line)")
        self.delimiter = forced or detect_delimiter(first)
        header_at = self._physical
        try:
            header = next(csv.reader([first], delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            raise self.fail(header_at, f"malformed header ({exc})") from None
        seen: dict[str, int] = {}
        for i, name in enumerate(header, start=1):
            key = header_key(name)
            if not key:
                continue
            if key in seen:
                raise self.fail(
                    header_at, f"column {key!r} appears twice in the header (columns {seen[key]} and {i})"
                )
            seen[key] = i
        self.header = header
        self._rest = lines

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self._rest, delimiter=self.delimiter, strict=True)
        end = self._physical  # last physical line of the previous record
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start = end + 1
                if "unexpected end of data" in str(exc):
                    raise self.fail(
                        start, "a quoted field is never closed (it would swallow the rest of the file)"
                    ) from None
                span = "" if self._physical == start else f"; the row starting here reaches line {self._physical}"
                raise self.fail(start, f"malformed CSV ({exc}){span}") from None
            start, end = end + 1, self._physical
            if end - start >= MAX_ROW_LINES:
                raise self.fail(
                    start,
                    f"a quoted field runs over {end - start + 1} lines, up to line {end} (a quote left open?)",
                )
            if not cells or not any(c.strip() for c in cells):
                continue  # blank line or a row of empty cells
            if end > start:
                self._check_swallowed(start, cells)
            yield start, cells

    def _check_swallowed(self, start: int, cells: list[str]) -> None:
        """A multi-line cell whose inner lines look like whole rows was opened by a stray quote."""
        if len(self.header) < SWALLOW_CHECK_MIN_COLUMNS:
            return  # with few columns, a note with commas could look like a row
        need = len(self.header) - 1  # delimiters a swallowed row line would carry
        offset = 0
        for cell in cells:
            lines = cell.split("\n")
            for k, inner in enumerate(lines[1:], start=1):
                if inner.count(self.delimiter) >= need:
                    raise self.fail(
                        start,
                        f"a quoted field opened here swallows line {start + offset + k}, which looks like a row "
                        "(a quote left open?)",
                    )
            offset += len(lines) - 1
