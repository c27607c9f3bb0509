"""Schema migrations (connectors/warehouse/migrations) on embedded DuckDB and the real
PostgreSQL server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy.pool import NullPool

from connectors.warehouse import migrate
from connectors.warehouse.tables import RESTRICTED, metadata
from connectors.warehouse.views import VIEWS
from pipelines.cli.warehouse import warehouse

VIEW_NAMES = [re.search(r"VIEW (\w+)", view).group(1) for view in VIEWS]  # type: ignore[union-attr]


@pytest.fixture
def url(warehouse_url) -> str:
    """An empty warehouse on each backend (conftest: a DuckDB file, a PostgreSQL database)."""
    return warehouse_url


@pytest.fixture
def engine(url) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url, poolclass=NullPool)
    yield engine
    engine.dispose()


def _tables(engine: sa.Engine) -> set[str]:
    """Tables of the default and the restricted schema, restricted ones qualified."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE' AND table_schema IN ('main', 'public', :r)"
            ),
            {"r": RESTRICTED},
        )
        return {f"{s}.{t}" if s == RESTRICTED else t for s, t in rows}


def _make_pre_migration_warehouse(engine: sa.Engine, drop: tuple[str, ...] = ()) -> None:
    """A warehouse as the earlier ``metadata.create_all`` path left it: revision 0001's tables,
    no version table, a resident. (The live metadata has moved on since, so it cannot make
    one; revision 0001 creates exactly what it made then.) ``drop``: tables it lacks, as a
    warehouse made by an older padu does."""
    with engine.begin() as conn:
        migrate.upgrade(conn, migrate.INITIAL)
        conn.execute(sa.text(f"DROP TABLE {migrate.VERSION_TABLE}"))
        for name in drop:
            conn.execute(sa.text(f"DROP TABLE {name}"))
        conn.execute(
            sa.text(
                "INSERT INTO resident (resident_id, region, in_dukcapil, in_kpu, in_bps, sources, "
                "source_rows, run_id) VALUES ('R1', '63.09', TRUE, FALSE, FALSE, 'dukcapil', 1, "
                "'run-0')"
            )
        )


# -- the schema the migrations make is the declared one --------------------------------------


_SCHEMAS = f"('main', '{RESTRICTED}')"


def _duckdb_catalog(conn: sa.Connection) -> dict[str, list[tuple]]:
    """DuckDB's own description of the tables: columns (type, nullability, comment), table
    comments, constraints and indexes, without Alembic's version table."""
    queries = {
        "columns": "SELECT table_name, schema_name, column_name, data_type, is_nullable, "
        f"comment FROM duckdb_columns() WHERE schema_name IN {_SCHEMAS} "
        "AND table_name IN (SELECT table_name FROM duckdb_tables())",
        "tables": "SELECT table_name, schema_name, comment FROM duckdb_tables() "
        f"WHERE schema_name IN {_SCHEMAS}",
        "constraints": "SELECT table_name, schema_name, constraint_type, "
        f"constraint_column_names FROM duckdb_constraints() WHERE schema_name IN {_SCHEMAS}",
        "indexes": "SELECT table_name, schema_name, index_name, is_unique, expressions "
        f"FROM duckdb_indexes() WHERE schema_name IN {_SCHEMAS}",
    }
    catalog = {}
    for part, sql in queries.items():
        rows = conn.execute(sa.text(sql)).fetchall()
        catalog[part] = sorted(
            tuple(str(value) for value in row) for row in rows if row[0] != migrate.VERSION_TABLE
        )
    return catalog


def _schema_differences(engine: sa.Engine, tmp_path: Path) -> list:
    """How the migrated warehouse differs from ``connectors.warehouse.tables.metadata``."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # Alembic's comparison finds no reflection noise on PostgreSQL: nothing is ignored.
            context = MigrationContext.configure(conn, opts={"include_schemas": True})
            return compare_metadata(context, metadata)
        # SQLAlchemy's reflection of DuckDB fails (duckdb_engine queries pg_catalog tables
        # and the REGCLASS type DuckDB lacks, and reflects no indexes), so Alembic cannot
        # compare there. Instead, DuckDB's catalog of the migrated warehouse must equal the
        # catalog of one made from the metadata by create_all.
        migrated = _duckdb_catalog(conn)
    reference = sa.create_engine(f"duckdb:///{tmp_path / 'declared.duckdb'}", poolclass=NullPool)
    try:
        with reference.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {RESTRICTED}"))
            metadata.create_all(conn)
            declared = _duckdb_catalog(conn)
    finally:
        reference.dispose()
    return [
        (part, sorted(set(declared[part]) ^ set(migrated[part])))
        for part in declared
        if declared[part] != migrated[part]
    ]


def test_upgrade_from_empty_makes_the_declared_schema(url, engine, tmp_path):
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert _tables(engine) == {t.fullname for t in metadata.sorted_tables} | {"alembic_version"}
    assert _schema_differences(engine, tmp_path) == []


def test_upgrading_twice_is_a_no_op(url, engine, tmp_path):
    migrate.upgrade(url)
    with engine.begin() as conn:
        for view in VIEWS:
            conn.execute(sa.text(view))
    migrate.upgrade(url)
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
        assert list(versions) == [migrate.head()]
    assert _schema_differences(engine, tmp_path) == []


def test_a_warehouse_made_before_migrations_is_stamped_and_upgraded(url, engine, tmp_path):
    _make_pre_migration_warehouse(engine)
    with engine.connect() as conn:
        assert migrate.predates_migrations(conn)
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    with engine.connect() as conn:
        assert not migrate.predates_migrations(conn)
        assert conn.execute(sa.text("SELECT resident_id FROM resident")).scalar() == "R1"
    assert _schema_differences(engine, tmp_path) == []


def test_a_warehouse_lacking_later_tables_gets_them_when_adopted(url, engine, tmp_path):
    _make_pre_migration_warehouse(engine, drop=("quality_result", "discrepancy"))
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM resident")).scalar() == 1
    assert _schema_differences(engine, tmp_path) == []


def test_upgrade_on_a_connection_joins_its_transaction(url, engine):
    with engine.connect() as conn:
        transaction = conn.begin()
        migrate.upgrade(conn)
        assert migrate.current(conn) == migrate.head()
        transaction.rollback()
    assert _tables(engine) == set()
    assert migrate.current(url) is None


def test_a_warehouse_of_a_newer_padu_is_refused(url, engine):
    migrate.upgrade(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(migrate.MigrationError, match="newer padu"):
        migrate.upgrade(url)


def test_downgrade_to_base_removes_the_tables_and_views(url, engine):
    migrate.upgrade(url)
    with engine.begin() as conn:
        for view in VIEWS:
            conn.execute(sa.text(view))
        command.downgrade(migrate.alembic_config(conn), "base")
    assert _tables(engine) == {"alembic_version"}
    assert migrate.current(url) is None


def test_current_of_a_missing_duckdb_file_is_none_and_creates_nothing(tmp_path):
    path = tmp_path / "absent.duckdb"
    assert migrate.current(f"duckdb:///{path}") is None
    assert not path.exists()


def test_revision_files_are_named_by_their_ids_in_one_line():
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = list(script.walk_revisions())
    assert revisions[-1].revision == migrate.INITIAL and revisions[0].revision == migrate.head()
    for revision in revisions:
        assert Path(revision.path).name.startswith(f"{revision.revision}_")


# -- padu warehouse ------------------------------------------------------------------------


def test_cli_init_then_current(url, engine):
    runner = CliRunner()
    result = runner.invoke(warehouse, ["init", "--warehouse", url])
    assert result.exit_code == 0, result.output
    assert f"to revision {migrate.head()}" in result.output
    with engine.connect() as conn:
        for name in VIEW_NAMES:
            conn.execute(sa.text(f"SELECT * FROM {name}")).fetchall()
    result = runner.invoke(warehouse, ["current", "--warehouse", url])
    assert result.exit_code == 0, result.output
    assert f"current: {migrate.head()}\nhead: {migrate.head()}\n" in result.output


def test_cli_upgrade_adopts_a_warehouse_made_before_migrations(url, engine):
    _make_pre_migration_warehouse(engine)
    result = CliRunner().invoke(warehouse, ["upgrade", "--warehouse", url])
    assert result.exit_code == 0, result.output
    assert "adopted a warehouse made before migrations" in result.output
    assert migrate.current(url) == migrate.head()
    result = CliRunner().invoke(warehouse, ["upgrade", "--warehouse", url])
    assert result.exit_code == 0, result.output
    assert "already at the newest revision" in result.output


def test_cli_refuses_an_unsupported_backend():
    result = CliRunner().invoke(warehouse, ["init", "--warehouse", "sqlite:///x.db"])
    assert result.exit_code != 0
    assert "unsupported warehouse backend" in result.output
