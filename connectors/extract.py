"""Reading one agency extract into rows of text, with every row either kept or quarantined.

This is the shared first step of every agency connector: find the header, map its columns
to the agency's field names, split the rows, and send rows that cannot be read as a record
(wrong field count, binary content, empty row) to quarantine with a reason. Values are not
interpreted here; the agency modules do that.

Row numbers are 1-based data rows, header excluded, counted as records (a quoted field
spanning lines is one row). Blank lines at the end of a file are not rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from connectors.mapping import ColumnMapping, MappingError

TEXT = "string[pyarrow]"

#: Columns every raw frame carries besides the agency's fields.
ROW_COLUMNS = ("source_row", "quarantine_reason", "raw_line")


class ExtractError(Exception):
    """A file that cannot be read at all (no header, required columns missing)."""


@dataclass
class RawExtract:
    """The rows of one file as text, plus what is known about the file itself."""

    path: Path
    checksum: str  # sha256 of the file's bytes
    encoding: str
    rows: pd.DataFrame  # ROW_COLUMNS + one text column per mapped field
    file_issues: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.rows)

    @property
    def quarantined(self) -> pd.DataFrame:
        return self.rows[self.rows["quarantine_reason"].notna()]

    @property
    def readable(self) -> pd.DataFrame:
        return self.rows[self.rows["quarantine_reason"].isna()]


def file_checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksum_of(path: Path) -> str:
    """sha256 of a file, read in blocks (the file is not held in memory)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def decode(data: bytes) -> tuple[str, str]:
    """Decode an extract: UTF-8 (with or without BOM), else Windows-1252, else Latin-1.

    Windows-1252 and Latin-1 are what Excel on Windows writes; Latin-1 never fails, so a
    binary file decodes too and its rows are quarantined by content checks instead.
    """
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def _lines(text: str) -> list[str]:
    # Stray carriage returns (CRLF files, CR CR LF from double conversion) carry no data.
    lines = text.replace("\r", "").split("\n")
    while lines and lines[-1].strip() == "":
        lines.pop()
    return lines


def _records(lines: list[str], delimiter: str, quoted: bool) -> Iterator[tuple[list[str], str]]:
    """Yield (fields, raw text) for each record after the header line."""
    consumed: list[str] = []

    def feed(source: Iterable[str]) -> Iterator[str]:
        for line in source:
            consumed.append(line)
            yield line + "\n"

    reader = csv.reader(
        feed(lines),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
        strict=False,
    )
    for fields in reader:
        raw = "\n".join(consumed)
        consumed.clear()
        yield fields, raw


def read_delimited(
    path: Path, *, delimiter: str, quoted: bool, mapping: ColumnMapping
) -> RawExtract:
    """Read a delimited text extract through ``mapping``.

    Raises ``ExtractError`` when the file has no header or lacks a required column; every
    other problem is a quarantined row or a file issue.
    """
    data = path.read_bytes()
    checksum = file_checksum(data)
    if not data.strip():
        return _empty(path, checksum, "utf-8", mapping, "empty file: no header and no rows")
    text, encoding = decode(data)
    lines = _lines(text)
    records = _records(lines, delimiter, quoted)
    try:
        header, _ = next(records)
    except StopIteration:  # pragma: no cover - guarded by the empty check above
        return _empty(path, checksum, encoding, mapping, "empty file: no header and no rows")
    try:
        positions = mapping.resolve(header)
    except MappingError as err:
        raise ExtractError(f"{path.name}: header row: {err}") from None
    return _split_rows(path, checksum, encoding, mapping, header, positions, records)


def read_rows(
    path: Path, data: bytes, encoding: str, rows: Iterator[list[str]], mapping: ColumnMapping
) -> RawExtract:
    """Like ``read_delimited`` for rows already split (e.g. from a spreadsheet)."""
    checksum = file_checksum(data)
    try:
        header = next(rows)
    except StopIteration:
        return _empty(path, checksum, encoding, mapping, "empty file: no header and no rows")
    try:
        positions = mapping.resolve(header)
    except MappingError as err:
        raise ExtractError(f"{path.name}: header row: {err}") from None
    records = ((fields, delimiter_join(fields)) for fields in rows)
    return _split_rows(path, checksum, encoding, mapping, header, positions, records)


def delimiter_join(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def _empty(
    path: Path, checksum: str, encoding: str, mapping: ColumnMapping, issue: str
) -> RawExtract:
    columns = list(ROW_COLUMNS) + list(mapping.fields)
    rows = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    rows["source_row"] = rows["source_row"].astype("int64")
    return RawExtract(path, checksum, encoding, rows, [issue])


def _split_rows(
    path: Path,
    checksum: str,
    encoding: str,
    mapping: ColumnMapping,
    header: list[str],
    positions: dict[str, int],
    records: Iterable[tuple[list[str], str]],
) -> RawExtract:
    width = len(header)
    good: list[list[str]] = []
    good_rows: list[int] = []
    bad_rows: list[int] = []
    bad_reasons: list[str] = []
    bad_raw: list[str] = []
    wanted = list(positions.values())
    for number, (fields, raw) in enumerate(records, start=1):
        reason = None
        if "\x00" in raw:
            reason = "binary content (NUL byte)"
        elif not any(f.strip() for f in fields):
            reason = "empty row"
        elif len(fields) != width:
            reason = f"expected {width} fields, found {len(fields)}"
        if reason is None:
            good.append([fields[i] for i in wanted])
            good_rows.append(number)
        else:
            bad_rows.append(number)
            bad_reasons.append(reason)
            bad_raw.append(raw)
    names = list(positions)
    # Arrow-backed strings: the per-column work that follows runs in Arrow, not in Python.
    kept = pd.DataFrame(good, columns=names, dtype=TEXT)
    kept.insert(0, "source_row", pd.array(good_rows, dtype="int64"))
    kept.insert(1, "quarantine_reason", pd.Series(pd.NA, index=kept.index, dtype="string"))
    kept.insert(2, "raw_line", pd.Series(pd.NA, index=kept.index, dtype="string"))
    rejected = pd.DataFrame(
        {
            "source_row": pd.array(bad_rows, dtype="int64"),
            "quarantine_reason": pd.array(bad_reasons, dtype="string"),
            "raw_line": pd.array(bad_raw, dtype="string"),
        }
    )
    for name in names:
        rejected[name] = pd.Series(pd.NA, index=rejected.index, dtype=TEXT)
    rows = pd.concat([kept, rejected], ignore_index=True) if len(rejected) else kept
    rows = rows.sort_values("source_row", kind="stable").reset_index(drop=True)
    issues = [] if len(rows) else ["header only: no data rows"]
    for name in names:
        rows[name] = rows[name].str.strip()
    return RawExtract(path, checksum, encoding, rows, issues)
