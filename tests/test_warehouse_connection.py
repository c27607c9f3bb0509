"""Connecting to the warehouse: a PostgreSQL URL without a driver works, and a connection the
server refuses (no such role or database, a wrong password) fails at once with one line naming
the URL without its password, instead of being retried as a transient fault."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from connectors.warehouse.connection import WarehouseConnectionError, engine_url, refused
from connectors.warehouse.engine import Warehouse
from pipelines.cli import main
from pipelines.resources import warehouse_resource
from pipelines.retries import TRANSIENT, transient_only

REFUSALS = [
    'connection to server at "db", port 5432 failed: FATAL:  role "nouser" does not exist',
    'connection to server at "db", port 5432 failed: FATAL:  database "nodb" does not exist',
    'connection to server at "db", port 5432 failed: FATAL:  password authentication failed '
    'for user "padu"',
    'connection to server at "db", port 5432 failed: FATAL:  no pg_hba.conf entry for host '
    '"10.0.0.9", user "padu", database "padu", no encryption',
    "fe_sendauth: no password supplied",
]
PASSING = [
    'connection to server at "db", port 5432 failed: Connection refused\n\tIs the server '
    "running on that host and accepting TCP/IP connections?",
    "server closed the connection unexpectedly",
    'connection to server at "db", port 5432 failed: FATAL:  the database system is starting up',
    'connection to server at "db", port 5432 failed: FATAL:  sorry, too many clients already',
]


def _operational(message: str) -> sa.exc.OperationalError:
    return sa.exc.OperationalError(None, None, Exception(message))


def _server() -> sa.engine.URL:
    admin = os.environ.get("PADU_TEST_POSTGRES_URL")
    if not admin:
        pytest.skip("PADU_TEST_POSTGRES_URL not set (set it to run the PostgreSQL tests)")
    return sa.engine.make_url(admin)


def _bare(url: sa.engine.URL) -> str:
    """``url`` as someone would type it, naming no driver: postgresql://..."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.parametrize(
    "url",
    ["postgresql://padu:SECRET@db.example:5432/padu", "postgres://padu:SECRET@db.example/padu"],
)
def test_a_postgresql_url_without_a_driver_uses_psycopg2(url):
    store = Warehouse(url)
    assert store.engine.dialect.driver == "psycopg2"
    assert store.url == url.replace(url.split("://")[0], "postgresql+psycopg2", 1)
    assert store.backend == "postgresql"
    assert engine_url(url).startswith("postgresql+psycopg2://padu:SECRET@db.example")
    assert warehouse_resource(url).open().engine.dialect.driver == "psycopg2"


def test_other_urls_are_left_as_written(tmp_path):
    for url in (
        f"duckdb:///{tmp_path / 'w.duckdb'}",
        "postgresql+psycopg2://padu@db/padu",
        "duckdb:///:memory:",
    ):
        assert engine_url(url) == url


def test_a_postgresql_driver_padu_does_not_use_is_refused_clearly():
    with pytest.raises(ValueError, match=r"psycopg2") as caught:
        Warehouse("postgresql+pg8000://padu:SECRET@db.example/padu")
    assert "SECRET" not in str(caught.value)
    assert "postgresql+pg8000://padu:***@db.example/padu" in str(caught.value)


@pytest.mark.parametrize("message", REFUSALS)
def test_refusals_are_permanent(message):
    assert refused(_operational(message))


@pytest.mark.parametrize("message", PASSING)
def test_faults_that_may_pass_are_not_refusals(message):
    assert not refused(_operational(message))


@pytest.mark.parametrize("message", REFUSALS[:3])
def test_a_refused_connection_is_not_retried(message):
    @transient_only
    def step() -> None:
        raise _operational(message)

    with pytest.raises(dg.Failure) as caught:
        step()
    assert not caught.value.allow_retries
    assert "not retried" in str(caught.value)


def test_a_fault_that_may_pass_is_still_retried():
    @transient_only
    def step() -> None:
        raise _operational(PASSING[0])

    with pytest.raises(sa.exc.OperationalError):
        step()


def test_an_unreachable_server_is_named_without_its_password():
    # Nothing listens on port 1: a fault that may pass (the server is down), not a refusal.
    store = Warehouse("postgresql://padu:SECRET@127.0.0.1:1/padu")
    with pytest.raises(WarehouseConnectionError) as caught:
        store.scalar("SELECT 1")
    message = str(caught.value)
    assert "postgresql+psycopg2://padu:***@127.0.0.1:1/padu" in message
    assert "SECRET" not in message and "\n" not in message
    assert not caught.value.permanent


@pytest.mark.postgres
def test_a_bare_postgresql_url_connects():
    store = Warehouse(_bare(_server()))
    try:
        assert store.scalar("SELECT 1") == 1
    finally:
        store.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"username": "nouser", "password": "SECRET"}, 'role "nouser" does not exist'),
        ({"database": "padu_no_such_database"}, 'database "padu_no_such_database" does not exist'),
    ],
)
def test_a_refused_connection_names_the_url_without_its_password(change, reason):
    url = _bare(_server().set(**change))
    store = Warehouse(url)
    with pytest.raises(WarehouseConnectionError) as caught:
        store.scalar("SELECT 1")
    message = str(caught.value)
    assert caught.value.permanent
    assert reason in message and "SECRET" not in message
    assert f"cannot connect to the warehouse {engine_url(url).replace('SECRET', '***')}" in (
        message
    )


@pytest.mark.postgres
def test_a_step_refused_by_the_server_fails_at_once():
    """In a Dagster run (schedule, sensor, UI) the retry policy never sees a refusal."""
    url = _server().set(username="nouser").render_as_string(hide_password=False)
    attempts: list[int] = []

    @dg.asset(retry_policy=TRANSIENT)
    @transient_only
    def touches_the_warehouse() -> None:
        attempts.append(1)
        Warehouse(url).scalar("SELECT 1")

    started = time.perf_counter()
    result = dg.materialize([touches_the_warehouse], raise_on_error=False)
    assert not result.success
    assert len(attempts) == 1
    assert time.perf_counter() - started < 5  # the first retry would wait 5 s
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert 'role "nouser" does not exist' in failure.step_failure_data.error.message


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"username": "nouser"}, 'role "nouser" does not exist'),
        ({"database": "padu_no_such_database"}, 'database "padu_no_such_database" does not exist'),
    ],
)
def test_padu_run_refused_by_the_server_fails_at_once_with_one_line(
    landing, monkeypatch, change, reason
):
    monkeypatch.setenv("PADU_PSEUDONYM_KEY", "k" * 40)
    monkeypatch.delenv("PADU_WAREHOUSE_URL", raising=False)
    url = _bare(_server().set(**change))
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["run", "--landing", str(landing), "--warehouse", url])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"Error: cannot connect to the warehouse {engine_url(url)}: {reason}"]
    assert elapsed < 10
