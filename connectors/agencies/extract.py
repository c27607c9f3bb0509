"""Reading one agency extract into rows of text, with every row either kept or quarantined.

This is the shared first step of every agency connector: find the header, map its columns
to the agency's field names, split the rows, and send rows that cannot be read as a record
(wrong field count, an unclosed quote, binary content, empty row) to quarantine with a
reason. Values are not interpreted here; the agency modules do that.

The input contract holds one record per physical line, so a line is the unit of reading: a
quote never joins lines, and the number of rows read equals the number of lines after the
header, counted separately in the first pass over the file (``RawExtract.lines``). Row
numbers are 1-based lines after the header. Lines end with LF (any carriage returns in a
line are stray and dropped) or, in a file without a single LF, with CR. Blank lines at the
end of a file are not rows. A UTF-8 byte-order mark is dropped; each line is decoded as
UTF-8, and only a line that is not valid UTF-8 is decoded as Windows-1252 (or Latin-1 where
it holds a byte Windows-1252 does not define), counted in the file's issues.
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

from connectors.agencies.mapping import ColumnMapping, MappingError

TEXT = "string[pyarrow]"
#: The decoding of a line that is not UTF-8, then of one that is not Windows-1252 either.
FALLBACKS = ("cp1252", "latin-1")
_FALLBACK_NAMES = {"cp1252": "Windows-1252", "latin-1": "Latin-1"}
BLOCK = 1 << 20  # files are read in blocks of 1 MiB, never whole
#: Longer fields are not registry values (garbage, a field with a runaway quote): the row is
#: quarantined.
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
_BOM = codecs.BOM_UTF8


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
    #: Lines after the header, counted apart from the reading (None: not a text file).
    lines: int | None = None

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
    line_break: bytes  # LF, or CR in a file without a single LF
    lines: int  # lines up to the last one that is not blank (header included)


def _scan(path: Path) -> _Scan:
    """One pass over the file in blocks: its sha256, how its lines end, and how many lines
    it holds up to its last line that is not blank (0: nothing but white space)."""
    digest = hashlib.sha256()
    seen = {b"\n": 0, b"\r": 0}  # line breaks of either kind so far
    last = {b"\n": 0, b"\r": 0}  # the number of the last line with content, by kind
    with path.open("rb") as handle:
        first = handle.read(BLOCK)
        digest.update(first)
        block = first.removeprefix(_BOM)
        while block:
            content = len(block.rstrip())
            for brk in seen:
                if content:
                    last[brk] = seen[brk] + block.count(brk, 0, content) + 1
                seen[brk] += block.count(brk)
            block = handle.read(BLOCK)
            digest.update(block)
    line_break = b"\n" if seen[b"\n"] or not seen[b"\r"] else b"\r"
    return _Scan(digest.hexdigest(), line_break, last[line_break])


def _physical_lines(path: Path, line_break: bytes) -> Iterator[bytes]:
    """The file's lines as bytes, read in blocks, without the byte-order mark. In a file of
    LF lines, carriage returns (CRLF, CR CR LF from double conversion) carry no data; blank
    lines at the end of the file are not lines."""
    blanks: list[bytes] = []
    rest = b""
    with path.open("rb") as handle:
        block = handle.read(BLOCK).removeprefix(_BOM)
        while block:
            lines = (rest + block).split(line_break)
            rest = lines.pop()
            for line in lines:
                if line_break == b"\n":
                    line = line.replace(b"\r", b"")
                if line.strip():
                    yield from blanks
                    blanks.clear()
                    yield line
                else:
                    blanks.append(line)
            block = handle.read(BLOCK)
    if line_break == b"\n":
        rest = rest.replace(b"\r", b"")
    if rest.strip():
        yield from blanks
        yield rest


class _Decoder:
    """Decodes line by line: UTF-8 first, a fallback only for a line that needs it."""

    def __init__(self) -> None:
        self.utf8_lines = 0  # lines with non-ASCII text, valid UTF-8
        self.fallback_lines = dict.fromkeys(FALLBACKS, 0)

    def __call__(self, line: bytes) -> str:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            for encoding in FALLBACKS:
                try:
                    text = line.decode(encoding)
                except UnicodeDecodeError:
                    continue
                self.fallback_lines[encoding] += 1
                return text
            raise AssertionError("latin-1 decodes every byte") from None  # pragma: no cover
        if not line.isascii():
            self.utf8_lines += 1
        return text

    @property
    def encoding(self) -> str:
        """The file's encoding as found: utf-8, a fallback, or both joined by ``+``."""
        used = [e for e, n in self.fallback_lines.items() if n]
        if self.utf8_lines or not used:
            used.insert(0, "utf-8")
        return "+".join(used)

    @property
    def issues(self) -> list[str]:
        return [
            f"{n:,} line{'s' if n != 1 else ''} not valid UTF-8, decoded as "
            f"{_FALLBACK_NAMES[encoding]}"
            for encoding, n in self.fallback_lines.items()
            if n
        ]


def split_line(line: str, delimiter: str, quoted: bool) -> tuple[list[str], str | None]:
    """The fields of one line, and why the line cannot be split (an unclosed quote) or None.

    Quotes are honoured only in a ``quoted`` format; a quote that is not closed by the end
    of the line makes the line unreadable (its field boundaries are unknown). A quote inside
    a field, or text after a closing quote, is read as it stands."""
    if not quoted or '"' not in line:
        return line.split(delimiter), None
    try:
        return next(csv.reader((line,), delimiter=delimiter, strict=True)), None
    except csv.Error as err:
        if "unexpected end of data" in str(err):
            return [], "unclosed quote: a quoted field does not end on its line"
        return next(csv.reader((line,), delimiter=delimiter, strict=False)), None


def _records(
    lines: Iterable[bytes], decode: _Decoder, delimiter: str, quoted: bool
) -> Iterator[tuple[list[str], str, str | None]]:
    """Yield (fields, raw text, reason it cannot be split or None) for each line."""
    for line in lines:
        text = decode(line)
        fields, reason = split_line(text, delimiter, quoted)
        yield fields, text, reason


def read_delimited(
    path: Path, *, delimiter: str, quoted: bool, mapping: ColumnMapping
) -> RawExtract:
    """Read a delimited text extract through ``mapping``.

    Raises ``ExtractError`` when the file has no header or lacks a required column; every
    other problem is a quarantined row or a file issue.
    """
    before = _stamp(path)
    scan = _scan(path)
    if not scan.lines:
        return _empty(path, scan.checksum, "utf-8", mapping, "empty file: no header and no rows")
    decode = _Decoder()
    lines = _physical_lines(path, scan.line_break)
    header_text = decode(next(lines))
    header, problem = split_line(header_text, delimiter, quoted)
    if problem:
        raise ExtractError(f"{path.name}: header row: {problem}")
    try:
        positions = mapping.resolve(header)
    except MappingError as err:
        raise ExtractError(f"{path.name}: header row: {err}") from None
    records = _records(lines, decode, delimiter, quoted)
    extract = _split_rows(path, scan.checksum, mapping, header, positions, records)
    if _stamp(path) != before:
        raise FileChangedError(
            f"{path.name}: the file changed while it was read (still being delivered?); "
            "nothing was loaded from it"
        )
    extract.encoding = decode.encoding
    extract.file_issues[:0] = decode.issues
    extract.lines = scan.lines - 1
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
    records = ((fields, delimiter_join(fields), None) for fields in rows)
    extract = _split_rows(path, checksum, mapping, header, positions, records)
    extract.encoding = encoding
    return extract


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


def _unreadable(fields: list[str], raw: str, width: int) -> str | None:
    """Why a split line is not a record, or None."""
    if "\x00" in raw:
        return "binary content (NUL byte)"
    if not any(f.strip() for f in fields):
        return "empty row"
    if len(fields) != width:
        return f"expected {width} fields, found {len(fields)}"
    if len(raw) > MAX_FIELD and any(len(f) > MAX_FIELD for f in fields):
        return f"a field longer than {MAX_FIELD:,} characters"
    return None


def _split_rows(
    path: Path,
    checksum: str,
    mapping: ColumnMapping,
    header: list[str],
    positions: dict[str, int],
    records: Iterable[tuple[list[str], str, str | None]],
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
    for number, (fields, raw, reason) in enumerate(records, start=1):
        reason = reason or _unreadable(fields, raw, width)
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
    return RawExtract(path, checksum, "utf-8", rows, issues)
