"""The connection a database pull reads through, inside one consistent read-only snapshot.

``_engine`` connects with the installed driver (PyMySQL for a ``mysql://`` URL naming none);
``_snapshot`` opens the REPEATABLE READ READ ONLY transaction and reads the database's clock
inside it. ``_describe`` says what went wrong from a driver error without passing on a
message that could quote a row value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

from connectors.pull.database_plan import PullError, _check_columns, _Plan
from connectors.redaction import scrub
from connectors.warehouse.connection import engine_url

_MYSQL = ("mysql", "mariadb")
_SUPPORTED = ("postgresql", *_MYSQL)

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
