"""Bulk writes into the warehouse, through each database's native path.

A frame goes in whole: DuckDB ingests the DataFrame directly, PostgreSQL gets ``COPY`` of it
as CSV. Rows already in the warehouse (a run's working tables, ``Staged``) are copied with one
``INSERT ... SELECT`` and never leave the database. No row is inserted one at a time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pandas as pd
import sqlalchemy as sa

from connectors.warehouse.connection import driver
from connectors.warehouse.tables import PUBLISHED

_NAME = re.compile(r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$")  # table or schema.table
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"not a valid table name: {name!r}")


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
        check_name(self.table)
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


def staged_parts(rows: Staged | Sequence[Staged]) -> Sequence[Staged]:
    """The working tables ``rows`` come from, one after another."""
    return [rows] if isinstance(rows, Staged) else rows


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


def recreate_table(conn: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    """Create (or recreate) the working table ``name``, empty, with ``frame``'s columns (and
    its schema, if it names one)."""
    if "." in name:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {name.split('.')[0]}"))
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    columns = ", ".join(f'"{c}" {_sql_type(t)}' for c, t in frame.dtypes.items())
    conn.execute(sa.text(f"CREATE TABLE {name} ({columns})"))


def insert(conn: sa.Connection, backend: str, name: str, rows: Rows) -> None:
    """Add ``rows`` to the table ``name``: a frame through ``backend``'s native path, staged
    rows copied inside the database."""
    if not isinstance(rows, pd.DataFrame):
        for staged in staged_parts(rows):
            insert_staged(conn, name, staged)
        return
    frame = rows
    if frame.empty:
        return
    if backend == "duckdb":
        _insert_duckdb(conn, name, frame)
    else:
        _copy_postgres(conn, name, frame)


def _insert_duckdb(conn: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    duck = driver(conn)
    view = f"incoming_{name.replace('.', '_')}"
    duck.register(view, frame)
    try:
        duck.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {view}")
    finally:
        duck.unregister(view)


def _copy_postgres(conn: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    buffer = io.StringIO()
    _to_copy_csv(frame, buffer)
    buffer.seek(0)
    cursor = driver(conn).cursor()
    try:
        cursor.copy_expert(
            f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
        )
    finally:
        cursor.close()


def insert_staged(conn: sa.Connection, name: str, staged: Staged) -> None:
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
