"""An incremental pull merged into the previous complete snapshot by key.

Changed rows replace their line, new rows are added at the end, every other line of the
previous snapshot is copied byte for byte (see ``connectors.pull.database`` for what an
incremental pull cannot see).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TextIO

from connectors.pull.database_extract import _Format, _Rows, _write_chunk
from connectors.pull.database_plan import PullError, _Plan


def _merge(
    plan: _Plan, fmt: _Format, columns: list[str], stream: _Rows, handle: TextIO, writer: Any
) -> int:
    """The previous snapshot with the changed rows merged in by key; returns the row count."""
    assert plan.key_column is not None and plan.previous is not None
    key = columns.index(plan.key_column)
    changes = _changes(stream, key, plan)
    replaced: set[str] = set()
    written = 0
    with plan.previous.open("r", encoding="utf-8-sig", newline="") as old:
        records = _records(old, fmt)
        header = next(records, None)
        if header is None or header[0] != columns:
            raise PullError(
                f"{plan.source}: the previous snapshot {plan.previous.name} has other columns "
                "than the source; run a full pull"
            )
        for fields, raw in records:
            value = fields[key] if len(fields) > key else None
            if value is not None and value in replaced:
                raise PullError(
                    f"{plan.source}: a changed {plan.key_column} occurs more than once in the "
                    f"previous snapshot (row {written + 1}); run a full pull"
                )
            row = changes.pop(value, None) if value is not None else None
            if row is None:
                handle.write(raw if raw.endswith("\n") else raw + "\n")
            else:
                replaced.add(row[key])
                _write_chunk(writer, [row])
            written += 1
    _write_chunk(writer, list(changes.values()))
    return written + len(changes)


def _changes(stream: _Rows, key: int, plan: _Plan) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {}
    for chunk in stream.chunks():
        for row in chunk:
            if row[key] == "" or row[key] in changes:
                what = "an empty" if row[key] == "" else "a repeated"
                raise PullError(
                    f"{plan.source}: the changed rows hold {what} {plan.key_column}; they cannot "
                    "be merged by key; run a full pull"
                )
            changes[row[key]] = row
    return changes


def _records(handle: TextIO, fmt: _Format) -> Iterator[tuple[list[str], str]]:
    """(fields, raw text) of each record of a delimited file; blank lines are skipped."""
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in handle:
            consumed.append(line)
            yield line

    for fields in fmt.reader(lines()):
        raw = "".join(consumed)
        consumed.clear()
        if fields:
            yield fields, raw
