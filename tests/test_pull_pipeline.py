"""Whole runs whose extracts are pulled: the civil registry from a database table, the voter
list from a URL. The result equals the run on the delivered files; a source that misbehaves
fails its own asset, keeps the last good state and shows in the run audit."""

from __future__ import annotations

import functools
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa
from ops_helpers import content_hashes
from sqlalchemy.pool import NullPool
from test_pull_database import mariadb_url

from connectors.warehouse.engine import Warehouse
from pipelines.cli import run_pipeline

pytestmark = pytest.mark.postgres  # and MariaDB for the registry's database


@pytest.fixture
def portal(tmp_path):
    """A web server on loopback serving the files of ``tmp_path / 'portal'``."""
    root = tmp_path / "portal"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _resident_state(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    store = Warehouse(url)
    try:
        residents = store.query("SELECT * FROM resident").drop(columns="run_id")
        links = store.query(
            "SELECT source, source_row, resident_id, link_method, link_score FROM resident_link"
        )
    finally:
        store.dispose()
    return (residents.sort_values("resident_id").reset_index(drop=True),
            links.sort_values(["source", "source_row"]).reset_index(drop=True))  # fmt: skip


def _deployment(path, landing, portal_url: str, table: str) -> None:  # type: ignore[no-untyped-def]
    path.write_text(
        f"landing: {landing}\n"
        "regions:\n"
        "  '6309':\n"
        f"    dukcapil: {{kind: database, url_env: PADU_TEST_REGISTRY_DB, table: {table}}}\n"
        f"    kpu: {{kind: http, url: '{portal_url}/voters.csv', allow_hosts: [127.0.0.1]}}\n"
    )


@pytest.fixture(params=["postgresql", "mariadb"])
def registry_db(request) -> Iterator[tuple[str, str]]:
    """A database to hold the registry's table, and the table's name."""
    if request.param == "postgresql":
        yield request.getfixturevalue("postgres_url"), "biodata_wni"
        return
    url, table = mariadb_url(), f"biodata_wni_{uuid.uuid4().hex[:8]}"
    yield url, table
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


def test_pulled_extracts_give_the_same_residents_as_delivered_files(
    tmp_path, registry_db, portal, monkeypatch, generated
):
    postgres_url, table = registry_db  # the registry's database (PostgreSQL or MariaDB)
    # Pulls are named for today (in the deployment's timezone); so are the delivered files,
    # so that both runs see the same snapshot date and file names.
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    delivered = tmp_path / "delivered"
    generated(delivered, region="6309", people=300, seed=61, snapshot=today)
    by_file = f"duckdb:///{tmp_path / 'by_file.duckdb'}"
    assert run_pipeline(delivered, by_file, None, echo=lambda _: None)

    registry = pd.read_csv(next(delivered.glob("dukcapil_*.csv")), sep="|", dtype=str,
                           keep_default_na=False)  # fmt: skip
    source_db = sa.create_engine(postgres_url, poolclass=NullPool)
    registry.to_sql(table, source_db, index=False)
    source_db.dispose()
    root, portal_url = portal
    voters = next(delivered.glob("kpu_dpt_*.csv"))
    shutil.copy(voters, root / "voters.csv")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(next(delivered.glob("bps_*.csv")), landing)
    sources = tmp_path / "sources.yaml"
    _deployment(sources, landing, portal_url, table)
    # PostgreSQL here trusts local connections, so a password can be given and must not show.
    with_password = sa.engine.make_url(postgres_url)
    if postgres_url.startswith("postgresql"):
        with_password = with_password.set(password="s3cret-pw")
    monkeypatch.setenv("PADU_TEST_REGISTRY_DB", with_password.render_as_string(False))

    pulled = f"duckdb:///{tmp_path / 'pulled.duckdb'}"
    lines: list[str] = []
    assert run_pipeline(None, pulled, None, echo=lines.append, sources=sources), lines
    for by_file_table, pulled_table in zip(_resident_state(by_file), _resident_state(pulled),
                                           strict=True):  # fmt: skip
        pd.testing.assert_frame_equal(by_file_table, pulled_table)

    store = Warehouse(pulled)
    audit = store.query("SELECT * FROM load_audit").set_index("source")
    store.dispose()
    assert audit.loc["dukcapil", "origin"] == "database"
    assert audit.loc["dukcapil", "origin_rows"] == len(registry)
    assert "s3cret-pw" not in audit.to_csv() and "s3cret-pw" not in "\n".join(lines)
    assert len(audit.loc["dukcapil", "origin_fingerprint"]) == 64
    assert audit.loc["kpu", "origin"] == "http"
    assert audit.loc["kpu", "origin_source"].startswith(portal_url)
    assert audit.loc["bps", "origin"] == "folder"

    if not postgres_url.startswith("postgresql"):
        return  # the failures below do not depend on the database
    # The registry's server goes away: that source's pull fails, nothing is published.
    good = content_hashes(pulled)
    unreachable = "postgresql+psycopg2://padu:s3cret-pw@127.0.0.1:9/registry"
    monkeypatch.setenv("PADU_TEST_REGISTRY_DB", unreachable)
    lines.clear()
    assert not run_pipeline(None, pulled, None, echo=lines.append, sources=sources)
    assert any(line.startswith("failed: dukcapil_pull") and "127.0.0.1:9" in line
               for line in lines), lines  # fmt: skip
    assert "s3cret-pw" not in "\n".join(lines)
    assert content_hashes(pulled) == good
    store = Warehouse(pulled)
    failed = store.query("SELECT status, message FROM run_audit WHERE status = 'failed'")
    store.dispose()
    assert len(failed) == 1 and "dukcapil_pull" in failed["message"].iloc[0]
    assert "s3cret-pw" not in failed["message"].iloc[0]

    # The portal answers with a web page instead of the voter list: the same.
    monkeypatch.setenv("PADU_TEST_REGISTRY_DB", with_password.render_as_string(False))
    (root / "voters.csv").write_text("<!DOCTYPE html><html>Maintenance</html>")
    lines.clear()
    assert not run_pipeline(None, pulled, None, echo=lines.append, sources=sources)
    assert any(line.startswith("failed: kpu_pull") and "HTML" in line for line in lines), lines
    assert content_hashes(pulled) == good


def test_registry_changes_are_pulled_incrementally_then_in_full(
    tmp_path, postgres_url, monkeypatch, generated
):
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    delivered = tmp_path / "delivered"
    generated(delivered, region="6309", people=200, seed=62, snapshot=today)
    registry = pd.read_csv(next(delivered.glob("dukcapil_*.csv")), sep="|", dtype=str,
                           keep_default_na=False)  # fmt: skip
    registry["TGL_UBAH"] = pd.Timestamp("2026-01-01")
    source_db = sa.create_engine(postgres_url, poolclass=NullPool)
    registry.to_sql("biodata_wni", source_db, index=False)
    landing = tmp_path / "landing"
    landing.mkdir()
    for path in delivered.iterdir():
        if not path.name.startswith("dukcapil"):
            shutil.copy(path, landing)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"landing: {landing}\nregions:\n  '6309':\n    dukcapil: {{kind: database, "
        "url_env: PADU_TEST_REGISTRY_DB, table: biodata_wni, change_column: TGL_UBAH, "
        "key_column: NIK}\n"
    )
    monkeypatch.setenv("PADU_TEST_REGISTRY_DB", postgres_url)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    assert run_pipeline(None, url, None, echo=lambda _: None, sources=sources)

    # A clerk corrects one name: the next pull reads that row only.
    nik = registry.loc[registry["NIK"].str.fullmatch(r"\d{16}"), "NIK"].iloc[0]
    with source_db.begin() as conn:
        conn.execute(
            sa.text('UPDATE biodata_wni SET "NAMA_LGKP" = :name, "TGL_UBAH" = :t WHERE "NIK" = :n'),
            {"name": "ZULAIKHA PRATIWI", "t": pd.Timestamp("2026-06-01"), "n": nik},
        )
    assert run_pipeline(None, url, None, echo=lambda _: None, sources=sources)
    pulled = next(landing.glob("dukcapil_*.csv.origin.json")).read_text()
    assert f'"rows": {len(registry)}' in pulled
    store = Warehouse(url)
    changes = store.query("SELECT change, changed_fields FROM source_change")
    name = store.query("SELECT name_raw FROM restricted.source_record WHERE nik = :n", {"n": nik})[
        "name_raw"
    ]
    store.dispose()
    assert list(changes["change"]) == ["changed"]
    assert set(changes["changed_fields"].iloc[0].split(",")) == {"name_raw", "name_norm"}
    assert "ZULAIKHA PRATIWI" in set(name)

    # A row deleted at the source is seen only by a whole-table pull.
    with source_db.begin() as conn:
        conn.execute(sa.text('DELETE FROM biodata_wni WHERE "NIK" = :n'), {"n": nik})
    source_db.dispose()
    assert run_pipeline(None, url, None, echo=lambda _: None, sources=sources, full_refresh=True)
    store = Warehouse(url)
    changes = store.query("SELECT change, changed_fields FROM source_change ORDER BY change")
    store.dispose()
    assert list(changes["change"]) == ["changed", "removed"], changes.to_string()
