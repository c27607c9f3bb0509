"""A password in a database URL (the warehouse's, a pulled source's) is never printed, logged
or stored: not on stdout or stderr, not in Dagster's storage (job snapshots, event logs,
captured logs), not in the warehouse's run_audit and load_audit, not in origin records."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import postgres_database, stored_bytes
from sqlalchemy.pool import NullPool

from connectors.landing import origin
from connectors.redaction import scrub, url_for_display, url_secrets
from connectors.warehouse.engine import Warehouse

ROOT = Path(__file__).resolve().parents[1]
PADU = [sys.executable, "-m", "pipelines.cli"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg2://padu:pw@db:5432/w", "postgresql+psycopg2://padu:***@db:5432/w"),
        ("postgresql://padu@db/w?password=pw&sslmode=require",
         "postgresql://padu@db/w?password=***&sslmode=require"),
        ("postgresql://padu:a/b@c@db/w", "postgresql://padu:***@db/w"),  # "/" and "@" in it
        ("mysql+pymysql://u@h/db?sslpassword=x&charset=utf8mb4",
         "mysql+pymysql://u@h/db?sslpassword=***&charset=utf8mb4"),
        ("https://host/x.csv?id=1&access_token=abc#top", "https://host/x.csv?id=1&access_token=***#top"),
        ("duckdb:///data/warehouse.duckdb", "duckdb:///data/warehouse.duckdb"),
        ("postgresql://padu@db:5432/w", "postgresql://padu@db:5432/w"),
    ],
)  # fmt: skip
def test_url_for_display_hides_passwords_and_secret_query_values(url, shown):
    assert url_for_display(url) == shown
    assert url_for_display(shown) == shown  # shown twice: the same


def test_scrub_hides_every_form_of_the_secrets_of_a_url():
    url = "postgresql://padu:p%40ss@db/w?password=tok%2Fen"
    assert url_secrets(url) >= {"p@ss", "p%40ss", "tok/en", "tok%2Fen"}
    text = f"cannot connect to {url}: user padu, password p@ss, token tok/en"
    assert scrub(text, url) == (
        "cannot connect to postgresql://padu:***@db/w?password=***: user padu, "
        "password ***, token ***"
    )


def test_origin_records_never_hold_a_password(tmp_path):
    extract = tmp_path / "dukcapil_6309_20261101.csv"
    record = origin.Origin("database", "postgresql://u@db/siak?password=hunter2", None, 1,
                           datetime(2026, 11, 1))  # fmt: skip
    origin.write(extract, record)
    assert "hunter2" not in origin.path_for(extract).read_text()
    # A record written before, with the password in it, is read without it.
    legacy = origin.path_for(extract).read_text().replace("***", "hunter2")
    origin.path_for(extract).write_text(legacy)
    read = origin.read(extract)
    assert read is not None and read.source == "postgresql://u@db/siak?password=***"


def _with_password(url: str, password: str, form: str) -> str:
    parsed = sa.engine.make_url(url)
    if form == "userinfo":
        parsed = parsed.set(password=password)
    else:
        parsed = parsed.update_query_dict({"password": password})
    return parsed.render_as_string(hide_password=False)


def _padu(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*PADU, *args], cwd=ROOT, env=env, capture_output=True, timeout=600)


@pytest.mark.postgres
@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_a_password_in_a_database_url_shows_nowhere(tmp_path, postgres_url, form, generated):
    """PostgreSQL here trusts local connections, so any password is accepted."""
    password = f"pw-{secrets.token_hex(12)}"
    warehouse = _with_password(postgres_url, password, form)
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    delivered = tmp_path / "delivered"
    generated(delivered, region="6309", people=120, seed=5, snapshot=today)
    landing = tmp_path / "landing"
    landing.mkdir()
    for path in delivered.iterdir():
        if not path.name.startswith("dukcapil"):
            shutil.copy(path, landing)
    registry = pd.read_csv(next(delivered.glob("dukcapil_*.csv")), sep="|", dtype=str,
                           keep_default_na=False)  # fmt: skip
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"landing: {landing}\nregions:\n  '6309':\n    dukcapil: {{kind: database, "
        "url_env: PADU_TEST_REGISTRY_DB, table: biodata_wni}\n"
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PADU_")}
    env.update(DAGSTER_HOME=str(home), PADU_PSEUDONYM_KEY=secrets.token_hex(32),
               PADU_QUALITY_DOCS=str(tmp_path / "docs"))  # fmt: skip
    runs = []
    for registry_url in postgres_database():
        engine = sa.create_engine(registry_url, poolclass=NullPool)
        registry.to_sql("biodata_wni", engine, index=False)
        engine.dispose()
        env["PADU_TEST_REGISTRY_DB"] = _with_password(registry_url, password, form)
        runs.append(_padu("run", "--sources", str(sources), "--warehouse", warehouse, env=env))
        assert runs[-1].returncode == 0, runs[-1].stderr[-3000:]
    # The registry's server is unreachable: the pull fails, with the source named.
    env["PADU_TEST_REGISTRY_DB"] = _with_password(
        "postgresql+psycopg2://padu@127.0.0.1:9/registry", password, form
    )
    runs.append(_padu("run", "--sources", str(sources), "--warehouse", warehouse, env=env))
    assert runs[-1].returncode != 0
    assert b"postgresql+psycopg2://padu:***@127.0.0.1:9/registry" in runs[-1].stdout or (
        b"postgresql+psycopg2://padu@127.0.0.1:9/registry?password=***" in runs[-1].stdout
    )
    runs.append(_padu("warehouse", "current", "--warehouse", warehouse, env=env))
    assert runs[-1].returncode == 0, runs[-1].stderr[-3000:]

    secret = password.encode()
    for run in runs:
        assert secret not in run.stdout + run.stderr
    assert b"warehouse: postgresql+psycopg2://" in runs[0].stdout
    scanned = 0
    for path in [*home.rglob("*"), *landing.iterdir()]:
        if path.is_file():
            scanned += 1
            assert secret not in stored_bytes(path), path
    assert scanned > 5 and list(home.rglob("*.db"))
    store = Warehouse(warehouse)
    try:
        load_audit = store.read_table("load_audit")
        run_audit = store.read_table("run_audit")
    finally:
        store.dispose()
    pulled = load_audit.loc[load_audit["source"] == "dukcapil", "origin_source"]
    assert pulled.str.startswith("postgresql+psycopg2://").all() and len(pulled) == 1
    assert list(run_audit["status"]) == ["success", "failed"], run_audit
    assert "dukcapil_pull" in run_audit["message"].iloc[1]
    for table in (load_audit, run_audit):
        assert password not in table.astype(str).to_csv(index=False)


def test_a_warehouse_url_with_a_password_is_configured_by_its_variable(monkeypatch):
    from pipelines.resources import WAREHOUSE_URL_VARIABLE, warehouse_resource

    monkeypatch.delenv(WAREHOUSE_URL_VARIABLE, raising=False)
    plain = warehouse_resource("postgresql://padu@db/w")
    assert plain.url == "postgresql://padu@db/w" and WAREHOUSE_URL_VARIABLE not in os.environ
    for url in ("postgresql://padu:pw@db/w", "postgresql://padu@db/w?password=pw"):
        resource = warehouse_resource(url)
        assert isinstance(resource.url, dg.EnvVar) and resource.url == WAREHOUSE_URL_VARIABLE
        assert os.environ[WAREHOUSE_URL_VARIABLE] == url and resource.target() == url
    # From the environment, as Dagster's daemon and web server have it: read from there.
    assert isinstance(warehouse_resource().url, dg.EnvVar)
