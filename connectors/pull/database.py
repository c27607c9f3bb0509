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

How values are written (the agency's conventions, docs/input-formats.md): the header is the result's
column names exactly as the database reports them; text as stored; NULL as an empty field;
dates in ``date_format`` (the registry writes ``DD-MM-YYYY``); date-times as that date, a
space and ``HH:MM:SS`` (with microseconds only when there are some); integral numbers without
a decimal part (``2001``, never ``2001.0``); other decimals as stored (``1.50``).

An incremental pull reads only the rows whose ``change_column`` is later than ``since`` and
merges them into the previous complete snapshot by ``key_column``: changed rows replace their
line, new rows are added at the end, every other line is copied byte for byte. It cannot see
rows deleted at the source, nor a row whose change time is earlier than ``since`` but whose
transaction committed after the previous pull: a periodic full pull repairs both.

Errors are ``PullError`` and name the source (its URL without the password) and the problem;
they never quote a row value, and database messages that could quote one are not passed on.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from connectors.redaction import scrub, url_for_display
from connectors.warehouse.engine import engine_url

log = logging.getLogger(__name__)

#: The civil registry's date format (docs/input-formats.md: TGL_LHR is ``DD-MM-YYYY``).
DKB_DATE = "%d-%m-%Y"
#: Each agency's extract format (docs/input-formats.md) as keyword arguments for ``pull``, e.g.
#: ``pull(url, table="biodata_wni", out=path, **FORMATS["dukcapil"])``. The DKB extract is
#: read without csv quoting (``connectors.agencies.dukcapil``), so it is written without it too.
FORMATS: dict[str, dict[str, Any]] = {
    "dukcapil": {"delimiter": "|", "quoted": False, "date_format": DKB_DATE},
    "kpu": {"delimiter": ",", "quoted": True, "date_format": "%d|%m|%Y"},
    "bps": {"delimiter": ",", "quoted": True, "date_format": "%d/%m/%Y"},
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MYSQL = ("mysql", "mariadb")
_SUPPORTED = ("postgresql", *_MYSQL)
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")

#: What a database error code means, for errors whose own message may quote values.
_KNOWN_ERRORS: dict[object, str] = {
    "42P01": "a table named in the query does not exist",
    "42703": "a column named in the query does not exist",
    "42601": "the query has an SQL syntax error",
    "42501": "permission denied",
    "25006": "the query tries to write in a read-only transaction",
    "57014": "the query was cancelled (statement timeout)",
    "3D000": "the database does not exist",
    "28P01": "authentication failed",
    "28000": "authentication failed",
    1044: "access denied to the database",
    1045: "authentication failed",
    1049: "the database does not exist",
    1054: "a column named in the query does not exist",
    1064: "the query has an SQL syntax error",
    1142: "permission denied",
    1146: "a table named in the query does not exist",
    1792: "the query tries to write in a read-only transaction",
}


class PullError(Exception):
    """A pull that could not produce a complete extract. The message names the source (its URL
    without the password) and the problem, never a row value."""


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


@dataclass(frozen=True)
class _Plan:
    """The validated request: what to run and how to write it."""

    source: str
    query: str | None
    table: str | None
    needed: tuple[str, ...]  # columns the result must have
    change_column: str | None
    key_column: str | None
    since: object | None
    previous: Path | None

    @property
    def incremental(self) -> bool:
        return self.since is not None


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


# --- the request -------------------------------------------------------------------------


def _source(url: str) -> str:
    """The URL as errors, logs and the origin record show it: without its password, whether
    given as ``user:password@`` or as a query value (``?password=``)."""
    try:
        sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise PullError("the database URL cannot be parsed") from None
    return url_for_display(url)


def _identifier(name: str, what: str, source: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise PullError(f"{source}: {what} {name!r} is not a plain identifier")
    return name


def _plan(
    source: str,
    table: str | None,
    query: str | None,
    change_column: str | None,
    since: object | None,
    previous: Path | None,
    key_column: str | None,
    required_columns: Sequence[str],
) -> _Plan:
    if (table is None) == (query is None):
        raise PullError(f"{source}: give exactly one of table and query")
    if table is not None:
        _identifier(table, "table", source)
    else:
        query = _select(query or "", source)
    if change_column is not None:
        _identifier(change_column, "change column", source)
    if since is not None:
        if change_column is None or key_column is None or previous is None:
            raise PullError(
                f"{source}: an incremental pull (since) needs change_column, key_column "
                "and previous"
            )
        if not previous.is_file():
            raise PullError(f"{source}: the previous snapshot {previous} does not exist")
    elif previous is not None:
        raise PullError(f"{source}: previous is only used by an incremental pull (give since)")
    named = [c for c in (key_column, change_column) if c]
    needed = tuple(dict.fromkeys([*required_columns, *named]))
    return _Plan(source, query, table, needed, change_column, key_column, since, previous)


def _select(query: str, source: str) -> str:
    text = query.strip().rstrip(";").strip()
    if not re.match(r"(select|with)\b", text, re.IGNORECASE):
        raise PullError(f"{source}: the query must be a SELECT")
    if ";" in text:
        raise PullError(f"{source}: the query must be a single statement (no ';')")
    return text


def _statement(plan: _Plan, dialect: sa.engine.Dialect) -> tuple[sa.TextClause, dict]:
    """The SQL to run and its parameters (``since`` is bound, never formatted into SQL)."""
    quote = dialect.identifier_preparer.quote
    if plan.table is not None:
        sql = f"SELECT * FROM {quote(plan.table)}"
        change = quote(plan.change_column) if plan.change_column else ""
    else:
        sql = f"SELECT * FROM ({plan.query}) AS padu_source"
        change = f"padu_source.{quote(plan.change_column)}" if plan.change_column else ""
    params: dict[str, object] = {}
    if plan.incremental:
        sql += f" WHERE {change} > :since"
        params["since"] = plan.since
    elif plan.table is not None and plan.key_column:
        sql += f" ORDER BY {quote(plan.key_column)}"
    return sa.text(sql), params


def fingerprint(sql: str) -> str:
    """sha256 of ``sql`` with its white space normalised."""
    return hashlib.sha256(" ".join(sql.split()).encode("utf-8")).hexdigest()


# --- the connection and its snapshot --------------------------------------------------------


#: The MySQL/MariaDB driver padu installs; SQLAlchemy's default for a URL naming none
#: (mysqlclient) is not installed.
_MYSQL_NO_DRIVER = re.compile(r"^(mysql|mariadb)://", re.IGNORECASE)


def with_installed_driver(url: str) -> str:
    """``url`` with the installed driver when it names none (``mysql://`` ->
    ``mysql+pymysql://``; PostgreSQL as the warehouse does it, ``engine_url``)."""
    return _MYSQL_NO_DRIVER.sub(lambda m: f"{m.group(1).lower()}+pymysql://", engine_url(url))


def _engine(url: str, source: str, connect_timeout: int) -> sa.engine.Engine:
    url = with_installed_driver(url)
    backend = sa.engine.make_url(url).get_backend_name()
    if backend not in _SUPPORTED:
        raise PullError(f"{source}: unsupported database {backend!r} (PostgreSQL, MariaDB/MySQL)")
    try:
        return sa.create_engine(
            url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": connect_timeout}
        )
    except (sa.exc.NoSuchModuleError, ImportError):
        raise PullError(f"{source}: the database driver is not installed") from None


@contextmanager
def _snapshot(
    engine: sa.engine.Engine, url: str, source: str
) -> Iterator[tuple[sa.engine.Connection, datetime]]:
    """A connection inside one read-only REPEATABLE READ transaction, and the snapshot time."""
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as err:
        raise PullError(
            f"{source}: cannot connect to the database server: {_describe(err, url)}"
        ) from None
    with conn:
        try:
            yield conn, _begin(conn)
        except BaseException:
            _abandon(conn)
            raise
        conn.rollback()  # read-only: nothing to commit


def _abandon(conn: sa.engine.Connection) -> None:
    """Close the connection under a half-read server-side cursor instead of reading the rest
    of the result to its end."""
    raw = conn.connection.dbapi_connection
    # PyMySQL would otherwise try to read the rest of an unbuffered result from the closed
    # socket when the result is garbage-collected.
    pending = getattr(raw, "_result", None)
    if getattr(pending, "unbuffered_active", False):
        pending.unbuffered_active = False  # type: ignore[union-attr]
    conn.invalidate()


def _begin(conn: sa.engine.Connection) -> datetime:
    if conn.dialect.name in _MYSQL:
        conn.exec_driver_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        now = conn.exec_driver_sql("SELECT UTC_TIMESTAMP(6)").scalar_one()
        return now.replace(tzinfo=UTC)
    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    now = conn.exec_driver_sql("SELECT CURRENT_TIMESTAMP").scalar_one()
    return now.astimezone(UTC)


def _check_table(conn: sa.engine.Connection, plan: _Plan) -> None:
    assert plan.table is not None
    try:
        columns = [c["name"] for c in sa.inspect(conn).get_columns(plan.table)]
    except sa.exc.NoSuchTableError:
        raise PullError(f"{plan.source}: table {plan.table} does not exist") from None
    _check_columns(columns, plan, f"table {plan.table}")


def _check_columns(columns: Sequence[str], plan: _Plan, what: str) -> None:
    missing = [c for c in plan.needed if c not in columns]
    if missing:
        raise PullError(
            f"{plan.source}: {what} lacks column(s) {', '.join(missing)} "
            f"(it has {', '.join(columns)})"
        )


def _describe(err: sa.exc.DBAPIError, url: str) -> str:
    """The problem behind a driver error, without anything that could be a row value."""
    orig = err.orig
    args = orig.args if orig is not None else ()
    code = getattr(orig, "pgcode", None)
    if code is None and args and isinstance(args[0], int):
        code = args[0]
    if isinstance(code, int) and 2000 <= code < 3000 and len(args) > 1:
        # MySQL client errors (refused, unknown host, lost connection) quote no data.
        return scrub(f"{args[1]} ({code})", url)
    if code in _KNOWN_ERRORS:
        return f"{_KNOWN_ERRORS[code]} ({type(orig).__name__} {code})"
    if code is None and isinstance(err, sa.exc.OperationalError):
        # Connection-level failures (refused, unknown host, timeout) quote no data.
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return scrub(first, url)
    return (
        f"the database reported {type(orig).__name__} (code {code}); its message is not "
        "shown because it may quote row values"
    )


# --- reading and writing --------------------------------------------------------------------


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
