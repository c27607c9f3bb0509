"""Pulling an agency extract from a database replica into the landing folder.

An agency that gives read access to a replica of its database (the civil registry's SIAK
database on MariaDB/MySQL or PostgreSQL) is pulled into a file in the agency's own extract
format (docs/input-formats.md), so the file pipeline that follows (checksums, quarantine,
snapshots) does not know the difference between a pulled file and a delivered one.

How a pull reads:

- One read-only REPEATABLE READ transaction, so every row comes from the same consistent
  snapshot (PostgreSQL: ``SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY``;
  MariaDB/MySQL: ``START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY``). The snapshot time
  is the database's own clock read inside that transaction, in UTC.
- Rows are streamed through a server-side cursor, ``chunk_rows`` at a time; a table is never
  held in memory whole (no fetchall). An incremental pull holds only the changed rows.
- A table pulled in full with a ``key_column`` is read in key order, so two pulls of the same
  state give the same bytes (and checksum); otherwise rows come in the database's order, or
  the order the ``query`` gives.
- The file is written to a temporary name in the target folder and moved into place at the
  end: a failed pull leaves no file, or the earlier file, under the real name.

How values are written (NULL, dates, numbers): see ``connectors.pull.database_extract``.

An incremental pull reads only the rows whose ``change_column`` is later than ``since`` and
merges them into the previous complete snapshot by ``key_column``: changed rows replace their
line, new rows are added at the end, every other line is copied byte for byte. It cannot see
rows deleted at the source, nor a row whose change time is earlier than ``since`` but whose
transaction committed after the previous pull: a periodic full pull repairs both.

The pieces, in ``connectors.pull``: ``database_plan`` (the request checked, the SQL to run),
``database_snapshot`` (the connection and its consistent snapshot, driver errors described),
``database_extract`` (values and rows written in the agency's format, the file put in place
atomically) and ``database_merge`` (an incremental pull merged into the previous snapshot).

Errors are ``PullError`` and name the source (its URL without the password) and the problem;
they never quote a row value, and database messages that could quote one are not passed on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.pull.database_extract import DKB_DATE, _atomic, _copy, _Format, _Rows
from connectors.pull.database_merge import _merge
from connectors.pull.database_plan import (
    PullError,
    _check_columns,
    _Plan,
    _plan,
    _source,
    _statement,
    fingerprint,
)
from connectors.pull.database_snapshot import _check_table, _describe, _engine, _snapshot

__all__ = ["FORMATS", "PullError", "PullResult", "pull"]

log = logging.getLogger(__name__)

#: Each agency's extract format (docs/input-formats.md) as keyword arguments for ``pull``, e.g.
#: ``pull(url, table="biodata_wni", out=path, **FORMATS["dukcapil"])``. The DKB extract is
#: read without csv quoting (``connectors.agencies.dukcapil``), so it is written without it too.
FORMATS: dict[str, dict[str, Any]] = {
    "dukcapil": {"delimiter": "|", "quoted": False, "date_format": DKB_DATE},
    "kpu": {"delimiter": ",", "quoted": True, "date_format": "%d|%m|%Y"},
    "bps": {"delimiter": ",", "quoted": True, "date_format": "%d/%m/%Y"},
}


@dataclass(frozen=True)
class PullResult:
    """What one pull wrote and from which state of the source."""

    path: Path
    rows: int  # data rows in the written file
    snapshot_time: datetime  # the database's clock inside the snapshot transaction (UTC)
    query_fingerprint: str  # sha256 of the normalised SQL text run, parameters excluded
    high_water_mark: object | None  # max change_column value read, else ``since``
    source: str  # the database URL without its password
    rows_read: int = 0  # rows read from the database (the changed rows, when incremental)


def pull(
    url: str,
    *,
    table: str | None = None,
    query: str | None = None,
    out: Path,
    delimiter: str,
    chunk_rows: int = 50_000,
    change_column: str | None = None,
    since: object | None = None,
    previous: Path | None = None,
    key_column: str | None = None,
    expect_rows: bool = True,
    quoted: bool = True,
    date_format: str = DKB_DATE,
    required_columns: Sequence[str] = (),
    connect_timeout: int = 10,
) -> PullResult:
    """Pull ``table`` (a plain table name) or ``query`` (an SQL SELECT) from the database at
    ``url`` into the delimited text file ``out``, e.g.
    ``pull(url, table="biodata_wni", out=landing / "dukcapil_6309_20261101.csv",
    **FORMATS["dukcapil"])``.

    ``quoted=False`` writes fields without csv quoting, as the registry's DKB extract is read
    (``connectors.agencies.dukcapil``); a value holding the delimiter or a line break then cannot be
    written and the pull fails. ``change_column`` with ``since`` makes the pull incremental
    (see the module docstring); ``previous`` and ``key_column`` are then required.
    ``change_column`` alone makes a full pull report its high-water mark. A full pull that
    reads no rows fails unless ``expect_rows`` is false.
    """
    source = _source(url)
    if chunk_rows < 1:
        raise PullError(f"{source}: chunk_rows must be at least 1")
    plan = _plan(source, table, query, change_column, since, previous, key_column, required_columns)
    fmt = _Format(delimiter, quoted, date_format)
    engine = _engine(url, source, connect_timeout)
    try:
        with _snapshot(engine, url, source) as (conn, snapshot_time):
            if plan.table is not None:
                _check_table(conn, plan)
            rows, read, mark, digest = _run(conn, plan, fmt, out, chunk_rows, expect_rows)
    except sa.exc.DBAPIError as err:
        raise PullError(f"{source}: {_describe(err, url)}") from None
    finally:
        engine.dispose()
    log.info(
        "pulled %d rows (%d read) from %s into %s, query %s",
        rows, read, source, out.name, digest[:12],
    )  # fmt: skip
    return PullResult(out, rows, snapshot_time, digest, mark, source, read)


def _run(
    conn: sa.engine.Connection,
    plan: _Plan,
    fmt: _Format,
    out: Path,
    chunk_rows: int,
    expect_rows: bool,
) -> tuple[int, int, object | None, str]:
    """Stream the result into ``out``: (rows written, rows read, high-water mark, fingerprint)."""
    statement, params = _statement(plan, conn.dialect)
    compiled = str(statement.compile(dialect=conn.dialect))
    streaming = conn.execution_options(stream_results=True, yield_per=chunk_rows)
    # The execution option alone does not size the partitions of a textual statement.
    result = streaming.execute(statement, params).yield_per(chunk_rows)
    columns = list(result.keys())
    _check_columns(columns, plan, "the result")
    stream = _Rows(result, columns, plan, fmt)
    with _atomic(out) as handle:
        writer = fmt.writer(handle)
        writer.writerow(columns)
        if plan.incremental:
            written = _merge(plan, fmt, columns, stream, handle, writer)
        else:
            written = _copy(stream, writer)
            if written == 0 and expect_rows:
                raise PullError(
                    f"{plan.source}: {plan.table or 'the query'} returned no rows; an empty "
                    "extract is not written (expect_rows=False allows it)"
                )
    mark = stream.mark if stream.mark is not None else plan.since
    return written, stream.read, mark, fingerprint(compiled)
