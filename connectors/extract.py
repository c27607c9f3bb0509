"""Reading one agency extract into rows of text, with every row either kept or quarantined.

This is the shared first step of every agency connector: find the header, map its columns
to the agency's field names, split the rows, and send rows that cannot be read as a record
(wrong field count, binary content, empty row) to quarantine with a reason. Values are not
interpreted here; the agency modules do that.

Row numbers are 1-based data rows, header excluded, counted as records (a quoted field
spanning lines is one row). Blank lines at the end of a file are not rows.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from connectors.mapping import ColumnMapping, MappingError

TEXT = "string[pyarrow]"
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
BLOCK = 1 << 20  # files are read in blocks of 1 MiB, never whole
#: Bytes Windows-1252 does not define: a file holding one is Latin-1.
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
#: Longer fields are not registry values (a runaway quote, garbage): the row is quarantined.
MAX_FIELD = 10_000
#: Quarantined raw lines are kept up to this many characters.
MAX_RAW_LINE = 10_000
#: Rows are gathered into Arrow-backed frames this many at a time.
BATCH = 200_000

# The csv module refuses fields over 128 KiB by raising; padu reads them and quarantines
# the row instead (MAX_FIELD), so the limit is lifted.
csv.field_size_limit(1 << 30)

#: Columns every raw frame carries besides the agency's fields.
ROW_COLUMNS = ("source_row", "quarantine_reason", "raw_line")


class ExtractError(Exception):
    """A file that cannot be read at all (no header, required columns missing)."""


class FileChangedError(ExtractError):
    """The file changed while it was read: reading it again later may succeed."""


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


@dataclass(frozen=True)
class _Scan:
    checksum: str
    encoding: str
    blank: bool  # nothing but white space


def _scan(path: Path) -> _Scan:
    """One pass over the file in blocks: its sha256, the first encoding of ``ENCODINGS`` that
    decodes all of it, and whether it holds anything but white space."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    utf8_ok, cp1252_ok, blank = True, True, True
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
            if utf8_ok:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError:
                    utf8_ok = False
            if cp1252_ok and any(byte in block for byte in _CP1252_UNDEFINED):
                cp1252_ok = False
            blank = blank and not block.strip()
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:  # the file ends inside a character
            utf8_ok = False
    encoding = "utf-8-sig" if utf8_ok else "cp1252" if cp1252_ok else "latin-1"
    return _Scan(digest.hexdigest(), encoding, blank)


def _stream_lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines, read in blocks. Stray carriage returns (CRLF files, CR CR LF from
    double conversion) carry no data; blank lines at the end of the file are not lines."""
    blanks: list[str] = []
    rest = ""
    with path.open("r", encoding=encoding, newline="") as handle:
        while block := handle.read(BLOCK):
            lines = (rest + block.replace("\r", "")).split("\n")
            rest = lines.pop()
            for line in lines:
                if line.strip():
                    yield from blanks
                    blanks.clear()
                    yield line
                else:
                    blanks.append(line)
    if rest.strip():
        yield from blanks
        yield rest


def _records(lines: Iterable[str], delimiter: str, quoted: bool) -> Iterator[tuple[list[str], str]]:
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
    before = _stamp(path)
    scan = _scan(path)
    if scan.blank:
        return _empty(path, scan.checksum, "utf-8", mapping, "empty file: no header and no rows")
    records = _records(_stream_lines(path, scan.encoding), delimiter, quoted)
    try:
        header, _ = next(records)
    except StopIteration:  # pragma: no cover - guarded by the blank check above
        return _empty(path, scan.checksum, scan.encoding, mapping, "empty file")
    try:
        positions = mapping.resolve(header)
    except MappingError as err:
        raise ExtractError(f"{path.name}: header row: {err}") from None
    extract = _split_rows(path, scan.checksum, scan.encoding, mapping, header, positions, records)
    if _stamp(path) != before:
        raise FileChangedError(
            f"{path.name}: the file changed while it was read (still being delivered?); "
            "nothing was loaded from it"
        )
    return extract


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


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


def _batch(good: list[list[str]], numbers: list[int], names: list[str]) -> pd.DataFrame:
    """Readable rows as a frame of Arrow-backed strings (compact: the per-column work that
    follows runs in Arrow, and a large file does not live as Python strings)."""
    kept = pd.DataFrame(good, columns=names, dtype=TEXT)
    for name in names:
        kept[name] = kept[name].str.strip()
    kept.insert(0, "source_row", pd.array(numbers, dtype="int64"))
    kept.insert(1, "quarantine_reason", pd.Series(pd.NA, index=kept.index, dtype=TEXT))
    kept.insert(2, "raw_line", pd.Series(pd.NA, index=kept.index, dtype=TEXT))
    return kept


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
    wanted = list(positions.values())
    names = list(positions)
    batches: list[pd.DataFrame] = []
    good: list[list[str]] = []
    good_rows: list[int] = []
    bad_rows: list[int] = []
    bad_reasons: list[str] = []
    bad_raw: list[str] = []
    for number, (fields, raw) in enumerate(records, start=1):
        reason = None
        if "\x00" in raw:
            reason = "binary content (NUL byte)"
        elif not any(f.strip() for f in fields):
            reason = "empty row"
        elif len(fields) != width:
            reason = f"expected {width} fields, found {len(fields)}"
        elif len(raw) > MAX_FIELD and any(len(f) > MAX_FIELD for f in fields):
            reason = f"a field longer than {MAX_FIELD:,} characters"
        if reason is None:
            good.append([fields[i] for i in wanted])
            good_rows.append(number)
            if len(good) == BATCH:
                batches.append(_batch(good, good_rows, names))
                good, good_rows = [], []
        else:
            bad_rows.append(number)
            bad_reasons.append(reason)
            bad_raw.append(raw if len(raw) <= MAX_RAW_LINE else raw[:MAX_RAW_LINE] + " [cut]")
    batches.append(_batch(good, good_rows, names))
    kept = pd.concat(batches, ignore_index=True) if len(batches) > 1 else batches[0]
    rejected = pd.DataFrame(
        {
            "source_row": pd.array(bad_rows, dtype="int64"),
            "quarantine_reason": pd.array(bad_reasons, dtype=TEXT),
            "raw_line": pd.array(bad_raw, dtype=TEXT),
        }
    )
    for name in names:
        rejected[name] = pd.Series(pd.NA, index=rejected.index, dtype=TEXT)
    if len(rejected):
        rows = pd.concat([kept, rejected], ignore_index=True)
        rows = rows.sort_values("source_row", kind="stable").reset_index(drop=True)
    else:  # already in file order: no copy of a large frame
        rows = kept
    issues = [] if len(rows) else ["header only: no data rows"]
    return RawExtract(path, checksum, encoding, rows, issues)
