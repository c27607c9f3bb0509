"""Writing a database result as the agency's extract: values as text, rows as lines.

How values are written (the agency's conventions, docs/input-formats.md): the header is the result's
column names exactly as the database reports them; text as stored; NULL as an empty field;
dates in ``date_format`` (the registry writes ``DD-MM-YYYY``); date-times as that date, a
space and ``HH:MM:SS`` (with microseconds only when there are some); integral numbers without
a decimal part (``2001``, never ``2001.0``); other decimals as stored (``1.50``).

``_Rows`` turns the streamed result into text rows, chunk by chunk, counting them and tracking
the high-water mark; ``_atomic`` gives the file that appears under its name only when complete.
"""

from __future__ import annotations

import csv
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from connectors.pull.database_plan import PullError, _Plan

#: The civil registry's date format (docs/input-formats.md: TGL_LHR is ``DD-MM-YYYY``).
DKB_DATE = "%d-%m-%Y"
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class _Format:
    """How rows become lines of the agency's file."""

    delimiter: str
    quoted: bool
    date_format: str

    def writer(self, handle: TextIO) -> Any:
        if self.quoted:
            return csv.writer(handle, delimiter=self.delimiter, lineterminator="\n")
        return csv.writer(
            handle,
            delimiter=self.delimiter,
            lineterminator="\n",
            quoting=csv.QUOTE_NONE,
            quotechar=None,
        )

    def reader(self, lines: Iterator[str]) -> Iterator[list[str]]:
        if self.quoted:
            return csv.reader(lines, delimiter=self.delimiter, strict=False)
        return csv.reader(lines, delimiter=self.delimiter, quoting=csv.QUOTE_NONE)


class _Rows:
    """The result as chunks of text rows, counting rows and tracking the high-water mark."""

    def __init__(self, result: Any, columns: list[str], plan: _Plan, fmt: _Format) -> None:
        self._result = result
        self._columns = columns
        self._plan = plan
        self._fmt = fmt
        self._change = columns.index(plan.change_column) if plan.change_column else None
        self.read = 0
        self.mark: object | None = None

    def chunks(self) -> Iterator[list[list[str]]]:
        for partition in self._result.partitions():
            if self._change is not None:
                self._advance(partition)
            yield [self._line(row) for row in partition]

    def _advance(self, partition: Sequence[Sequence[object]]) -> None:
        assert self._change is not None
        values = [row[self._change] for row in partition if row[self._change] is not None]
        if values:
            top = max(values)  # type: ignore[type-var]
            self.mark = top if self.mark is None or top > self.mark else self.mark  # type: ignore[operator]

    def _line(self, row: Sequence[object]) -> list[str]:
        self.read += 1
        try:
            fields = [as_text(value, self._fmt.date_format) for value in row]
        except UnicodeDecodeError:
            raise PullError(
                f"{self._plan.source}: row {self.read} of the result holds binary data that "
                "is not UTF-8 text"
            ) from None
        if not self._fmt.quoted:
            self._check_unquoted(fields)
        elif any("\n" in text or "\r" in text for text in fields):
            # The extract holds one record per line: a line break in a value (a multi-line
            # address) becomes a space, as the standardised value would read anyway.
            fields = [_LINE_BREAKS.sub(" ", text) for text in fields]
        return fields

    def _check_unquoted(self, fields: list[str]) -> None:
        joined = "".join(fields)
        if self._fmt.delimiter in joined or "\n" in joined or "\r" in joined:
            bad = next(
                name
                for name, text in zip(self._columns, fields, strict=True)
                if self._fmt.delimiter in text or "\n" in text or "\r" in text
            )
            raise PullError(
                f"{self._plan.source}: column {bad} in row {self.read} of the result holds the "
                f"delimiter {self._fmt.delimiter!r} or a line break, which the unquoted format "
                "cannot carry"
            )


def _write_chunk(writer: Any, rows: list[list[str]]) -> None:
    writer.writerows(rows)


def _copy(stream: _Rows, writer: Any) -> int:
    written = 0
    for chunk in stream.chunks():
        _write_chunk(writer, chunk)
        written += len(chunk)
    return written


@contextmanager
def _atomic(out: Path) -> Iterator[TextIO]:
    """A text file that appears as ``out`` only when the block completes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.part")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, out)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# --- values as text -------------------------------------------------------------------------


def as_text(value: object, date_format: str = DKB_DATE) -> str:
    """One database value as the agency writes it (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return _datetime_text(value, date_format)
    if isinstance(value, date):
        return _date_text(value, date_format)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    return str(value)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return format(value.to_integral_value(), "f")
    return format(value, "f")


def _date_text(value: date, date_format: str) -> str:
    # strftime leaves years before 1000 unpadded on some platforms.
    return value.strftime(date_format.replace("%Y", f"{value.year:04d}"))


def _datetime_text(value: datetime, date_format: str) -> str:
    text = f"{_date_text(value, date_format)} {value:%H:%M:%S}"
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    if value.tzinfo is not None:
        text += value.strftime("%z")
    return text
