"""Reaching the warehouse: its URL, the SQLAlchemy engine made from it, and the errors of a
connection that cannot be made.

padu's warehouse is embedded DuckDB or PostgreSQL through psycopg2; any other URL is refused
up front (``UnsupportedWarehouseError``). A connection the server refuses for who asked or what
they asked for is told apart from a fault that may pass (``WarehouseConnectionError``,
``refused``), so that retries are spent only where another attempt can help.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.redaction import scrub, url_for_display

DEFAULT_WAREHOUSE = Path("data") / "warehouse.duckdb"

#: The PostgreSQL driver padu installs (pyproject.toml) and the warehouse's bulk path needs:
#: rows are loaded with ``COPY`` through psycopg2's ``copy_expert``.
POSTGRES_DRIVER = "psycopg2"
# A PostgreSQL URL that names no driver; SQLAlchemy 2.1 would take it to mean psycopg 3.
_NO_DRIVER = re.compile(r"^postgres(ql)?://", re.IGNORECASE)
#: SQLSTATEs of a connection the server refused for who asked or what they asked for:
#: invalid authorization, wrong password, no such database.
_REFUSED_STATES = frozenset({"28000", "28P01", "3D000"})
#: The same refusals in the server's words (psycopg2 gives no SQLSTATE for a connection it
#: could not make).
_REFUSED = re.compile(
    r'role "[^"]*" does not exist|database "[^"]*" does not exist|authentication failed'
    r"|no password supplied|pg_hba\.conf|is not permitted to log in"
    r"|permission denied for database",
    re.IGNORECASE,
)


def default_url(path: Path = DEFAULT_WAREHOUSE) -> str:
    return f"duckdb:///{path}"


def engine_url(url: str) -> str:
    """``url`` as padu connects to it: a PostgreSQL URL naming no driver (``postgresql://``,
    or ``postgres://`` as many tools write it) gets the driver padu installs,
    ``postgresql+psycopg2://``; any other URL is returned as written."""
    return _NO_DRIVER.sub(f"postgresql+{POSTGRES_DRIVER}://", url, count=1)


class UnsupportedWarehouseError(ValueError):
    """A warehouse URL padu cannot use: not a SQLAlchemy URL, or another database or driver
    than DuckDB or PostgreSQL through psycopg2."""


def supported_url(url: str) -> sa.engine.URL:
    """``url`` (as ``engine_url`` returns it) parsed, if padu's warehouse can use it; else
    ``UnsupportedWarehouseError`` naming the URL without its password."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise UnsupportedWarehouseError(
            f"the warehouse URL {url_for_display(url)} is not a SQLAlchemy URL"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("duckdb", "postgresql"):
        raise UnsupportedWarehouseError(
            f"unsupported warehouse backend {backend!r} (duckdb or postgresql)"
        )
    if backend == "postgresql" and parsed.get_driver_name() != POSTGRES_DRIVER:
        raise UnsupportedWarehouseError(
            f"the warehouse URL {url_for_display(url)} names the PostgreSQL driver "
            f"{parsed.get_driver_name()!r}; padu's warehouse uses {POSTGRES_DRIVER}: write "
            f"postgresql+{POSTGRES_DRIVER}:// or postgresql://"
        )
    return parsed


def embedded_file(parsed: sa.engine.URL) -> Path | None:
    """The database file of an embedded DuckDB URL (its folder made if missing); ``None`` for
    a server or an in-memory database."""
    if parsed.get_backend_name() != "duckdb":
        return None
    database = parsed.database
    if not database or database == ":memory:":
        return None
    file = Path(database)
    file.parent.mkdir(parents=True, exist_ok=True)
    return file


class WarehouseConnectionError(RuntimeError):
    """No connection to the warehouse. ``permanent`` when the server refused it for who
    asked or what they asked for (a role that does not exist, a wrong password, a database
    that does not exist), which trying again cannot mend; otherwise the fault may pass (the
    server is down or restarting, the network failed). The message names the URL without
    its password."""

    def __init__(self, url: str, reason: str, permanent: bool) -> None:
        super().__init__(f"cannot connect to the warehouse {url_for_display(url)}: {reason}")
        self.permanent = permanent


def refused(err: BaseException) -> bool:
    """True if ``err`` is a connection the database server refused for good (see
    ``WarehouseConnectionError``), not a fault that may pass."""
    if isinstance(err, WarehouseConnectionError):
        return err.permanent
    if not isinstance(err, sa.exc.DBAPIError):
        return False
    orig = err.orig
    state = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    return state in _REFUSED_STATES or bool(_REFUSED.search(str(orig)))


def connection_error(url: str, err: sa.exc.DBAPIError) -> WarehouseConnectionError:
    """The ``WarehouseConnectionError`` for a connection to ``url`` that failed with ``err``:
    the server's reason on one line, without the URL's secrets."""
    text = " ".join(str(err.orig).split()) or type(err.orig).__name__
    # psycopg2: 'connection to server at "h", port 5432 failed: FATAL:  role "x" does not
    # exist': the URL already names the server.
    reason = text.split("FATAL:", 1)[1].strip() if "FATAL:" in text else text
    # A fault another attempt may mend is one of these (unless refused); any other, such as
    # a connection option the driver does not know, is as permanent as a refusal.
    may_pass = isinstance(err, sa.exc.OperationalError | sa.exc.InterfaceError)
    permanent = refused(err) or not may_pass
    return WarehouseConnectionError(url, scrub(reason, url), permanent)


def connect(engine: sa.Engine, url: str) -> sa.Connection:
    """A new connection of ``engine`` (made from ``url``); one that cannot be made raises
    ``WarehouseConnectionError``."""
    try:
        return engine.connect()
    except sa.exc.DBAPIError as err:
        raise connection_error(url, err) from err


def driver(conn: sa.Connection) -> Any:
    """The DB-API connection under SQLAlchemy's, for the native bulk paths."""
    dbapi = conn.connection.driver_connection
    if dbapi is None:  # pragma: no cover - only after the connection was invalidated
        raise RuntimeError("the warehouse connection is closed")
    return dbapi
