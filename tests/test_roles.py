"""Warehouse roles on the real PostgreSQL server: statisticians read views and pseudonymised
tables only, auditors read more but write nothing, nobody but engineers reads raw identifiers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import permitted
from sqlalchemy.pool import NullPool

from pipelines.cli import main

pytestmark = pytest.mark.postgres


@pytest.fixture
def initialised(postgres_url) -> str:
    result = CliRunner().invoke(main, ["warehouse", "init", "--warehouse", postgres_url])
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO resident (resident_id, region, in_dukcapil, in_kpu, in_bps, sources, "
                "source_rows, run_id) VALUES ('R1', '63.09', TRUE, FALSE, FALSE, 'dukcapil', 1, "
                "'run-0')"
            )
        )
    engine.dispose()
    return postgres_url


@pytest.fixture
def connect_as(initialised) -> Iterator:
    """A function opening a connection as a new login user who is a member of a padu role."""
    admin = sa.create_engine(initialised, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    made: list[str] = []
    engines: list[sa.Engine] = []

    def connect(role: str) -> sa.Engine:
        user = f"padu_test_{role.split('_')[1]}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE ROLE {user} LOGIN IN ROLE {role}"))
        made.append(user)
        url = sa.engine.make_url(initialised).set(username=user)
        engines.append(sa.create_engine(url, poolclass=NullPool))
        return engines[-1]

    yield connect
    for engine in engines:
        engine.dispose()
    with admin.connect() as conn:
        for user in made:
            conn.execute(sa.text(f"DROP ROLE {user}"))
    admin.dispose()


def test_statistician_reads_views_and_pseudonymised_tables_only(connect_as):
    statistician = connect_as("padu_statistician")
    for readable in ("v_population_by_desa", "v_coverage_by_kecamatan",
                     "v_voter_list_quality_by_kecamatan", "resident_change", "resident",
                     "resident_history", "linkage_blocking"):  # fmt: skip
        assert permitted(statistician, f"SELECT * FROM {readable}"), readable
    for restricted in ("restricted.source_record", "restricted.quarantine_line",
                       "resident_link", "discrepancy", "quarantine", "load_audit"):  # fmt: skip
        assert not permitted(statistician, f"SELECT * FROM {restricted}"), restricted


def test_auditor_reads_lineage_but_cannot_write_or_see_raw_identifiers(connect_as):
    auditor = connect_as("padu_auditor")
    for readable in ("discrepancy", "resident_link", "quarantine", "load_audit", "run_audit",
                     "source_change", "resident", "v_population_by_desa"):  # fmt: skip
        assert permitted(auditor, f"SELECT * FROM {readable}"), readable
    assert not permitted(auditor, "SELECT * FROM restricted.source_record")
    assert not permitted(auditor, "DELETE FROM resident")
    assert not permitted(auditor, "UPDATE discrepancy SET details = 'x'")
    assert not permitted(
        auditor,
        "INSERT INTO review_decision (left_key, right_key, decision, decided_by, decided_at) "
        "VALUES ('a', 'b', 'match', 'x', now())",
    )


def test_engineer_reads_the_restricted_schema(connect_as):
    engineer = connect_as("padu_engineer")
    assert permitted(engineer, "SELECT * FROM restricted.source_record")
    assert permitted(engineer, "DELETE FROM resident WHERE resident_id = 'none'")


def test_engineers_read_a_runs_working_tables_as_they_are_made(initialised, connect_as):
    """Working tables (restricted.stg_*) are dropped and made again by every run, while other
    regions' runs publish: they get the engineers' grant from default privileges, not from a
    GRANT that would touch tables other runs are replacing."""
    import pandas as pd

    from connectors.warehouse.engine import Warehouse

    store = Warehouse(initialised)
    store.replace_table("restricted.stg_links_6309", pd.DataFrame({"source_row": [1, 2]}))
    store.dispose()
    engineer, auditor = connect_as("padu_engineer"), connect_as("padu_auditor")
    assert permitted(engineer, "SELECT * FROM restricted.stg_links_6309")
    assert not permitted(auditor, "SELECT * FROM restricted.stg_links_6309")


def test_only_engineers_create_tables_in_public_after_init(postgres_url):
    """PostgreSQL before 15 (and a database upgraded from one) lets every role create tables
    in the public schema: init takes that from PUBLIC, so statisticians and auditors cannot."""
    admin = sa.create_engine(postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("GRANT CREATE ON SCHEMA public TO PUBLIC"))
    admin.dispose()
    result = CliRunner().invoke(main, ["warehouse", "init", "--warehouse", postgres_url])
    assert result.exit_code == 0, result.output
    engines = {}
    admin = sa.create_engine(postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    users = []
    try:
        for role in ("padu_statistician", "padu_auditor", "padu_engineer"):
            user = f"padu_test_{role.split('_')[1]}_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE ROLE {user} LOGIN IN ROLE {role}"))
            users.append(user)
            url = sa.engine.make_url(postgres_url).set(username=user)
            engines[role] = sa.create_engine(url, poolclass=NullPool)
        assert not permitted(engines["padu_statistician"], "CREATE TABLE public.mine (x int)")
        assert not permitted(engines["padu_auditor"], "CREATE TABLE public.mine (x int)")
        assert permitted(engines["padu_engineer"], "CREATE TABLE public.mine (x int)")
    finally:
        for engine in engines.values():
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS public.mine"))
            for user in users:
                conn.execute(sa.text(f"DROP ROLE {user}"))
        admin.dispose()
