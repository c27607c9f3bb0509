"""The warehouse: one place that executes SQL, for embedded DuckDB and PostgreSQL.

Data moves through native bulk paths: DuckDB ingests DataFrames directly, PostgreSQL gets
``COPY``; rows already in the warehouse (a run's working tables) are published with
``INSERT ... SELECT`` and never leave the database (``Staged``). Published tables are created
from the declarations in ``tables``; a run's results are published for its region
in one transaction, so readers see either the previous complete state or the new one, never
a mix.

Regions are published side by side without conflict: every region replaces only its own rows,
and the tables all regions add to (``load_audit``, ``run_audit``, the histories) are only
appended to. On PostgreSQL runs write concurrently (a schema already current is only read, so
runs do not queue for the catalog); an embedded DuckDB file admits one writing process, so
padu's processes take turns on it, one transaction at a time (``connectors.warehouse.locks``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from connectors.redaction import scrub, url_for_display
from connectors.warehouse import locks, roles
from connectors.warehouse.migrate import current, head, upgrade
from connectors.warehouse.tables import PER_FILE, PUBLISHED, REPLACED
from connectors.warehouse.views import VIEW_COMMENTS, VIEWS

DEFAULT_WAREHOUSE = Path("data") / "warehouse.duckdb"
_NAME = re.compile(r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$")  # table or schema.table
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")  # :name, not a ::cast


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


def _sql_type(dtype: Any) -> str:
    kind = str(dtype)
    if kind in ("Int64", "int64", "int32", "Int32"):
        return "BIGINT"
    if kind in ("float64", "Float64"):
        return "DOUBLE PRECISION"
    if kind in ("boolean", "bool"):
        return "BOOLEAN"
    if kind.startswith("datetime64"):
        return "TIMESTAMP"
    return "TEXT"


@dataclass(frozen=True)
class Staged:
    """Rows of a table already in this warehouse (a run's working table), published by
    ``Warehouse.publish`` with one ``INSERT ... SELECT``: they never leave the database.

    Each column of the published table takes the column of the same name in ``table`` (or
    the one ``renamed`` names), or the value ``constants`` gives every row (a plain Python
    value, bound as a parameter). ``not_null`` keeps only the rows where that column has a
    value. Every value is cast to the published column's declared type, whatever type the
    working table got from the frame it was written from (``Warehouse.replace_table``). A
    published column ``table`` lacks is an error, not a column of nulls."""

    table: str
    constants: Mapping[str, Any] = field(default_factory=dict)
    renamed: Mapping[str, str] = field(default_factory=dict)
    not_null: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.table)
        columns = [*self.constants, *self.renamed, *self.renamed.values()]
        for column in [*columns, *([self.not_null] if self.not_null else [])]:
            if not _COLUMN.match(column):
                raise ValueError(f"not a valid column name: {column!r}")

    def from_clause(self) -> str:
        """``table`` and the row filter, for a ``FROM`` clause."""
        where = f' WHERE "{self.not_null}" IS NOT NULL' if self.not_null else ""
        return f"{self.table}{where}"


#: What ``Warehouse.publish`` writes into a table: a frame, or rows already in the warehouse
#: (from several working tables, one after another).
Rows: TypeAlias = pd.DataFrame | Staged | Sequence[Staged]
_DECLARED = {t.fullname: t for t in PUBLISHED}


class Warehouse:
    """A SQLAlchemy URL and the few operations padu needs on it.

    ``lock_timeout``: how long a connection to an embedded DuckDB file waits while other
    processes use it (``connectors.warehouse.locks``) before failing with a transient error."""

    def __init__(self, url: str, lock_timeout: float = locks.DEFAULT_TIMEOUT) -> None:
        url = engine_url(url)
        self.url = url
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
        self.backend = backend
        self.lock_timeout = lock_timeout
        #: The embedded database file, whose connections take turns between processes.
        self.file: Path | None = None
        if backend == "duckdb":
            database = parsed.database
            if database and database != ":memory:":
                self.file = Path(database)
                self.file.parent.mkdir(parents=True, exist_ok=True)
        # No pooling: an embedded DuckDB file is locked while a connection is open.
        self.engine = sa.create_engine(url, poolclass=NullPool)

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in a transaction, committed when the block ends. On an embedded
        DuckDB file the connection is opened in this process's turn and closed before the
        turn passes on."""
        with self._turn(), self.connect() as connection, connection.begin():
            yield connection

    def connect(self) -> sa.Connection:
        """A new connection, outside any turn; one that cannot be made raises
        ``WarehouseConnectionError``."""
        return connect(self.engine, self.url)

    def check_connection(self) -> None:
        """Connect to a warehouse server once and hang up, so that a URL the server refuses
        fails before any work starts. An embedded file is not opened (it is made when first
        used)."""
        if self.file is None and self.backend != "duckdb":
            self.connect().close()

    def _turn(self) -> contextlib.AbstractContextManager[None]:
        if self.file is None:
            return contextlib.nullcontext()
        return locks.exclusive(self.file, self.lock_timeout)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------------------

    def create_tables(self, connection: sa.Connection | None = None, refresh: bool = False) -> None:
        """Bring the schema to the newest migration (connectors/warehouse/migrations), create the
        statisticians' views (connectors/warehouse/views.py) and, on PostgreSQL, grant padu's roles.

        On PostgreSQL a schema that is already current (revision, views, grants) is only
        read, so runs of different regions calling this at once neither collide on the
        catalog nor queue behind each other's publishing transaction. When there is work
        (or with ``refresh``), it is done under a lock all of padu's connections share, held
        to the end of the transaction: two runs never migrate or re-create views at once."""
        if connection is None:
            with self.transaction() as conn:
                self.create_tables(conn, refresh)
            return
        if self.backend == "postgresql":
            if not refresh and _schema_is_current(connection):
                return
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "padu:schema"}
            )
        upgrade(connection)
        for view in VIEWS:
            connection.execute(sa.text(view))
        if self.backend == "postgresql":
            for name, comment in VIEW_COMMENTS.items():
                connection.execute(sa.text(f"COMMENT ON VIEW {name} IS '{comment}'"))
            if roles.roles_exist(connection):
                roles.grant(connection)  # tables a migration added get their grants too

    def has_table(self, name: str) -> bool:
        with self.transaction() as conn:
            return sa.inspect(conn).has_table(name)

    # -- bulk data ---------------------------------------------------------------------------

    def replace_table(
        self, name: str, frame: pd.DataFrame, connection: sa.Connection | None = None
    ) -> None:
        """Create (or recreate) a working table holding exactly ``frame`` (in ``connection``'s
        transaction when given, else in one of its own)."""
        _check_name(name)
        if connection is None:
            with self.transaction() as conn:
                self.replace_table(name, frame, conn)
            return
        if "." in name:
            connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {name.split('.')[0]}"))
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        columns = ", ".join(f'"{c}" {_sql_type(t)}' for c, t in frame.dtypes.items())
        connection.execute(sa.text(f"CREATE TABLE {name} ({columns})"))
        self._insert(connection, name, frame)

    def read_table(self, name: str) -> pd.DataFrame:
        _check_name(name)
        return self.query(f"SELECT * FROM {name}")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        with self.transaction() as conn:
            if self.backend == "duckdb":
                # DuckDB's own result path builds the frame natively (named parameters: $name).
                return _driver(conn).execute(_PARAMETER.sub(r"$\1", sql), dict(params or {})).df()
            result = conn.execute(sa.text(sql), dict(params or {}))
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        with self.transaction() as conn:
            return conn.execute(sa.text(sql), dict(params or {})).scalar()

    def row_counts(self, tables: Mapping[str, Rows]) -> dict[str, int]:
        """How many rows ``publish`` would write into each of ``tables``, counted where the
        staged rows are rather than read out."""
        counts = {}
        with self.transaction() as conn:
            for name, rows in tables.items():
                if isinstance(rows, pd.DataFrame):
                    counts[name] = len(rows)
                    continue
                counts[name] = 0
                for staged in [rows] if isinstance(rows, Staged) else rows:
                    sql = f"SELECT count(*) FROM {staged.from_clause()}"
                    counts[name] += int(conn.execute(sa.text(sql)).scalar_one())
        return counts

    def publish(
        self,
        region: str,
        tables: Mapping[str, Rows],
        new_files: Sequence[str] = (),
        current_files: Sequence[str] | None = None,
        dropped: Sequence[str] = (),
    ) -> None:
        """Publish a run's results for ``region`` in one transaction.

        The region's rows of the replaced tables (``connectors.warehouse.tables.REPLACED``) are
        replaced; the other tables keep their history and get ``tables``' rows added (a
        frame's, or those of ``Staged`` working tables, copied inside the database).
        ``new_files`` were loaded by this run: rows an earlier load of a file of the same name
        left in the per-file tables are removed first (a corrected re-delivery replaces it).
        ``current_files`` become the region's current snapshots in ``load_audit``.
        ``dropped``: working tables dropped in the same transaction once their rows are
        copied (a run's staging, raw identifiers included), so they go exactly when the
        results are published.
        On PostgreSQL the region is locked for the transaction, so two publishers of one
        region wait for each other while other regions publish alongside; on an embedded
        DuckDB file publishers take turns (``transaction``).
        """
        known = {t.fullname for t in PUBLISHED}
        unknown = set(tables) - known
        if unknown:
            raise ValueError(f"not published tables: {sorted(unknown)}")
        for name in dropped:
            _check_name(name)
        with self.transaction() as conn:
            self.create_tables(conn)
            if self.backend == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"padu:publish:{region}"},
                )
            for table in PER_FILE:
                for name in new_files:
                    conn.execute(
                        sa.text(f"DELETE FROM {table} WHERE source_file = :f AND region = :r"),
                        {"f": name, "r": region},
                    )
            for name, rows in tables.items():
                if name in REPLACED:
                    conn.execute(
                        sa.text(f"DELETE FROM {name} WHERE region = :region"), {"region": region}
                    )
                self._insert(conn, name, rows)
            if current_files is not None:
                conn.execute(
                    sa.text(
                        "UPDATE load_audit SET current = source_file IN :files WHERE region = :r"
                    ).bindparams(sa.bindparam("files", expanding=True)),
                    {"files": list(current_files) or [""], "r": region},
                )
            for name in dropped:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))

    def replace_rows(self, name: str, frame: pd.DataFrame) -> None:
        """Replace every row of a declared table with ``frame``, in one transaction."""
        _check_name(name)
        with self.transaction() as conn:
            self.create_tables(conn)
            conn.execute(sa.text(f"DELETE FROM {name}"))
            self._insert(conn, name, frame)

    def append(self, name: str, frame: pd.DataFrame) -> None:
        """Add rows to a declared table (created if missing)."""
        with self.transaction() as conn:
            self.create_tables(conn)
            self._insert(conn, name, frame)

    def _insert(self, conn: sa.Connection, name: str, rows: Rows) -> None:
        if not isinstance(rows, pd.DataFrame):
            for staged in [rows] if isinstance(rows, Staged) else rows:
                _insert_staged(conn, name, staged)
            return
        frame = rows
        if frame.empty:
            return
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        if self.backend == "duckdb":
            duck = _driver(conn)
            view = f"incoming_{name.replace('.', '_')}"
            duck.register(view, frame)
            try:
                duck.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {view}")
            finally:
                duck.unregister(view)
            return
        buffer = io.StringIO()
        _to_copy_csv(frame, buffer)
        buffer.seek(0)
        cursor = _driver(conn).cursor()
        try:
            cursor.copy_expert(
                f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
            )
        finally:
            cursor.close()


def _insert_staged(conn: sa.Connection, name: str, staged: Staged) -> None:
    """Copy ``staged``'s rows into the declared table ``name``, each value cast to its
    column's type in this dialect."""
    table = _DECLARED.get(name)
    if table is None:
        raise ValueError(f"not a published table: {name!r}")
    unknown = {*staged.constants, *staged.renamed} - set(table.columns.keys())
    if unknown:
        raise ValueError(f"not columns of {name}: {sorted(unknown)}")
    columns, values = [], []
    for column in table.columns:
        kind = _cast_type(column.type).compile(dialect=conn.dialect)
        if column.name in staged.constants:
            values.append(f"CAST(:{column.name} AS {kind})")
        else:
            values.append(f'CAST("{staged.renamed.get(column.name, column.name)}" AS {kind})')
        columns.append(f'"{column.name}"')
    conn.execute(
        sa.text(
            f"INSERT INTO {name} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM {staged.from_clause()}"
        ),
        dict(staged.constants),
    )


def _cast_type(kind: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """The type a copied value is cast to: the column's, but strings without their length, so
    that a value too long is refused by the column, as from a frame, rather than cut short
    (PostgreSQL truncates on an explicit cast to VARCHAR(n))."""
    if isinstance(kind, sa.String) and kind.length is not None:
        return sa.String()
    return kind


def _schema_is_current(connection: sa.Connection) -> bool:
    """PostgreSQL: the schema is at the newest revision, every view has this padu's
    definition (its comment names it), and the roles' grants are in place."""
    if current(connection) != head():
        return False
    comments: dict[str, str | None] = dict(
        connection.execute(
            sa.text(
                "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'v'"
            )
        ).all()
    )
    if any(comments.get(name) != comment for name, comment in VIEW_COMMENTS.items()):
        return False
    return not roles.roles_exist(connection) or roles.defaults_granted(connection)


def _driver(conn: sa.Connection) -> Any:
    """The DB-API connection under SQLAlchemy's, for the native bulk paths."""
    driver = conn.connection.driver_connection
    if driver is None:  # pragma: no cover - only after the connection was invalidated
        raise RuntimeError("the warehouse connection is closed")
    return driver


def _to_copy_csv(frame: pd.DataFrame, buffer: io.StringIO) -> None:
    """CSV for PostgreSQL COPY: nulls as ``\\N``, everything else quoted as needed."""
    out = frame.copy()
    for column, dtype in out.dtypes.items():
        if str(dtype).startswith("datetime64"):
            out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif str(dtype) in ("float64", "Float64"):
            values = out[column].dropna()
            if len(values) and (values == values.round()).all():
                # Whole numbers (an integer column with nulls read back as float): "3", not
                # "3.0", which an integer column would refuse.
                out[column] = out[column].astype("Int64")
    out.to_csv(buffer, index=False, header=False, na_rep="\\N", quoting=csv.QUOTE_MINIMAL)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"not a valid table name: {name!r}")
