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

``Warehouse`` is the public face; the work is done in ``connection`` (URLs, engines and
connection errors), ``schema`` (migrations, views and grants), ``bulk`` (the native write
paths and ``Staged``) and ``publishing`` (the steps of a region's publishing transaction).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from connectors.warehouse import bulk, locks, publishing
from connectors.warehouse.bulk import Rows, check_name
from connectors.warehouse.connection import (
    connect,
    driver,
    embedded_file,
    engine_url,
    supported_url,
)
from connectors.warehouse.schema import bring_up_to_date

_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")  # :name, not a ::cast


class Warehouse:
    """A SQLAlchemy URL and the few operations padu needs on it.

    ``lock_timeout``: how long a connection to an embedded DuckDB file waits while other
    processes use it (``connectors.warehouse.locks``) before failing with a transient error."""

    def __init__(self, url: str, lock_timeout: float = locks.DEFAULT_TIMEOUT) -> None:
        url = engine_url(url)
        self.url = url
        parsed = supported_url(url)
        self.backend = parsed.get_backend_name()
        self.lock_timeout = lock_timeout
        #: The embedded database file, whose connections take turns between processes.
        self.file: Path | None = embedded_file(parsed)
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
        bring_up_to_date(connection, self.backend, refresh)

    def has_table(self, name: str) -> bool:
        with self.transaction() as conn:
            return sa.inspect(conn).has_table(name)

    # -- bulk data ---------------------------------------------------------------------------

    def replace_table(
        self, name: str, frame: pd.DataFrame, connection: sa.Connection | None = None
    ) -> None:
        """Create (or recreate) a working table holding exactly ``frame`` (in ``connection``'s
        transaction when given, else in one of its own)."""
        check_name(name)
        if connection is None:
            with self.transaction() as conn:
                self.replace_table(name, frame, conn)
            return
        bulk.recreate_table(connection, name, frame)
        self._insert(connection, name, frame)

    def read_table(self, name: str) -> pd.DataFrame:
        check_name(name)
        return self.query(f"SELECT * FROM {name}")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        with self.transaction() as conn:
            if self.backend == "duckdb":
                # DuckDB's own result path builds the frame natively (named parameters: $name).
                return driver(conn).execute(_PARAMETER.sub(r"$\1", sql), dict(params or {})).df()
            result = conn.execute(sa.text(sql), dict(params or {}))
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        with self.transaction() as conn:
            return conn.execute(sa.text(sql), dict(params or {})).scalar()

    def row_counts(self, tables: Mapping[str, Rows]) -> dict[str, int]:
        """How many rows ``publish`` would write into each of ``tables``, counted where the
        staged rows are rather than read out."""
        with self.transaction() as conn:
            return publishing.count_rows(conn, tables)

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
        publishing.check_publishable(tables, dropped)
        with self.transaction() as conn:
            self.create_tables(conn)
            if self.backend == "postgresql":
                publishing.lock_region(conn, region)
            publishing.remove_earlier_loads(conn, region, new_files)
            for name, rows in tables.items():
                publishing.clear_region(conn, name, region)
                self._insert(conn, name, rows)
            if current_files is not None:
                publishing.mark_current_files(conn, region, current_files)
            publishing.drop_tables(conn, dropped)

    def replace_rows(self, name: str, frame: pd.DataFrame) -> None:
        """Replace every row of a declared table with ``frame``, in one transaction."""
        check_name(name)
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
        # Every write of rows passes through here (tests/test_kill.py pauses a run inside it).
        bulk.insert(conn, self.backend, name, rows)
