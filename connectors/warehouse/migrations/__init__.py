"""Alembic migrations of the warehouse schema: ``env.py`` and the revisions in ``versions/``.

Run them with ``warehouse.migrate`` or ``padu warehouse init|upgrade``. Importing this package
teaches Alembic DuckDB: duckdb_engine's dialect speaks PostgreSQL's DDL (and DuckDB has
transactional DDL), but Alembic keys its implementations and its PostgreSQL-only statements
(column comments, type changes, table renames) by the dialect's name, ``duckdb``.
"""

from __future__ import annotations

from alembic.ddl import postgresql
from alembic.ddl.base import ColumnComment, RenameTable
from sqlalchemy.ext.compiler import compiles


class DuckDBImpl(postgresql.PostgresqlImpl):
    """Alembic's implementation for the ``duckdb`` dialect: PostgreSQL's."""

    __dialect__ = "duckdb"


compiles(ColumnComment, "duckdb")(postgresql.visit_column_comment)
compiles(postgresql.PostgresqlColumnType, "duckdb")(postgresql.visit_column_type)
compiles(RenameTable, "duckdb")(postgresql.visit_rename_table)
