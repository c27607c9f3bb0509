"""Regions side by side: ``padu run --workers`` runs regions at the same time, each in a
process of its own, and publishes exactly what running them one after another does.

On PostgreSQL the runs write at the same time; on an embedded DuckDB file padu's processes
take turns on the file, one transaction at a time (connectors/warehouse/locks.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from ops_helpers import content_hashes

from connectors.warehouse.engine import Warehouse
from connectors.warehouse.locks import WarehouseBusyError, lock_path
from connectors.warehouse.tables import resident, resident_link, run_audit
from pipelines.cli import main, run_pipeline
from pipelines.retries import TRANSIENT_ERRORS

ROOT = Path(__file__).resolve().parents[1]
REGIONS = {"6309": "63.09", "6301": "63.01"}  # Kab. Tabalong, Kab. Tanah Laut
PEOPLE = 250

#: Holds a transaction on the warehouse given as argv[1] for argv[2] seconds.
HOLDING = """
import sys, time
from connectors.warehouse.engine import Warehouse

store = Warehouse(sys.argv[1])
with store.transaction() as conn:
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS held (n INTEGER)")
    print("HOLDING", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory, generated) -> Path:
    landing = tmp_path_factory.mktemp("regions") / "landing"
    for seed, code in enumerate(REGIONS, start=40):
        generated(landing, region=code, people=PEOPLE, seed=seed,
                 truth=landing.parent / f"truth_{code}.csv")  # fmt: skip
    return landing


def _hold(url: str, seconds: float) -> subprocess.Popen[str]:
    """Another process holding a transaction on the warehouse, once it holds it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDING, url, str(seconds)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "HOLDING"
    return process


def test_regions_side_by_side_publish_what_one_after_another_does(
    two_regions, two_warehouses, tmp_path, monkeypatch
):
    one_by_one, side_by_side = two_warehouses
    assert run_pipeline(two_regions, one_by_one, None, echo=lambda _: None)

    # Both runs are recorded in one Dagster instance, which tells when each ran.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    result = CliRunner().invoke(
        main, ["run", "--landing", str(two_regions), "--warehouse", side_by_side, "--workers", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "running 2 regions, 2 at a time" in result.output
    assert all(f"for {region}" in result.output for region in REGIONS.values())

    with dg.DagsterInstance.get() as instance:
        records = [r for r in instance.get_run_records() if r.dagster_run.is_success]
    # The two regions' runs, then the cross-region pass (not partitioned) over both.
    runs = [r for r in records if "dagster/partition" in r.dagster_run.tags]
    assert len(records) == len(runs) + 1
    assert "cross-region pass over 2 regions" in result.output
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in runs) == sorted(REGIONS)
    first, second = runs
    assert first.start_time is not None and second.start_time is not None
    assert first.end_time is not None and second.end_time is not None
    assert first.start_time < second.end_time and second.start_time < first.end_time, (
        "the two regions did not run at the same time"
    )

    # The same tables, row for row (run bookkeeping aside), as the runs one after another.
    assert content_hashes(side_by_side) == content_hashes(one_by_one)
    for url in (one_by_one, side_by_side):
        store = Warehouse(url)
        try:
            counts = store.query(
                f"SELECT region, count(*) AS n FROM {resident.name} GROUP BY region"
            ).set_index("region")["n"]
            assert set(counts.index) == set(REGIONS.values()) and (counts > PEOPLE * 0.9).all()
            audit = store.query(f"SELECT region, status FROM {run_audit.name}")
            assert sorted(audit["region"]) == sorted(REGIONS.values())
            assert set(audit["status"]) == {"success"}
            links = store.query(f"SELECT DISTINCT region, source_file FROM {resident_link.name}")
            assert all(
                name.split("_")[-2] == region.replace(".", "")
                for region, name in zip(links["region"], links["source_file"], strict=True)
            )  # every region's rows are its own files'
        finally:
            store.dispose()


def test_a_second_process_waits_for_an_embedded_warehouse_instead_of_failing(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    holder = _hold(url, 2.0)
    try:
        started = time.monotonic()
        store = Warehouse(url)
        assert store.scalar("SELECT count(*) FROM held") == 0  # after the holder committed
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0
    assert 1.0 < waited < 30, waited
    assert lock_path(tmp_path / "w.duckdb").exists()


def test_an_embedded_warehouse_busy_too_long_is_a_transient_fault(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    holder = _hold(url, 5.0)
    try:
        with pytest.raises(WarehouseBusyError) as raised:
            Warehouse(url, lock_timeout=0.5).query("SELECT 1")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert isinstance(raised.value, TRANSIENT_ERRORS)  # the step's retry policy takes it
    assert "w.duckdb" in str(raised.value)
    # A killed holder's turn ends with it.
    assert Warehouse(url, lock_timeout=5).scalar("SELECT 1") == 1


def test_turns_are_per_process_and_reentrant_within_a_thread(tmp_path):
    store = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}", lock_timeout=5)
    with store.transaction() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        # A second connection of the same thread, inside the first one's turn.
        assert store.scalar("SELECT count(*) FROM t") == 0  # not committed yet
    assert store.scalar("SELECT count(*) FROM t") == 1
    seen: list[int] = []
    with store.transaction():
        other = threading.Thread(target=lambda: seen.append(store.scalar("SELECT 1")))
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive()  # another thread waits for this one's turn
    other.join(timeout=10)
    assert seen == [1]


@pytest.mark.postgres
def test_regions_publish_on_postgresql_without_waiting_for_each_other(postgres_url):
    """One region's publishing transaction is open; another region publishes meanwhile
    (no lock on the schema or the views is held between them), while a second publisher
    of the same region waits for it."""
    store = Warehouse(postgres_url)
    store.create_tables()
    holding, release = threading.Event(), threading.Event()

    def open_publish() -> None:
        with store.transaction() as conn:
            store.create_tables(conn)
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": "padu:publish:63.09"},
            )
            conn.execute(sa.text("DELETE FROM run_audit WHERE region = '63.09'"))
            holding.set()
            release.wait(timeout=60)

    def publish(region: str, done: list[str]) -> threading.Thread:
        row = pd.DataFrame({"run_id": [f"run-{region}"], "region": [region],
                            "finished_at": [pd.Timestamp("2026-11-26 02:00")],
                            "status": ["success"]})  # fmt: skip
        thread = threading.Thread(
            target=lambda: (store.publish(region, {"run_audit": row}), done.append(region))
        )
        thread.start()
        return thread

    opened = threading.Thread(target=open_publish)
    opened.start()
    try:
        assert holding.wait(timeout=30)
        done: list[str] = []
        other_region = publish("63.01", done)
        other_region.join(timeout=15)
        assert done == ["63.01"], "another region's publish waited"
        same_region = publish("63.09", done)
        same_region.join(timeout=2)
        assert same_region.is_alive() and done == ["63.01"]  # waits for the open one
    finally:
        release.set()
        opened.join(timeout=30)
    same_region.join(timeout=30)
    assert done == ["63.01", "63.09"]
    store.dispose()


@pytest.mark.postgres
def test_new_postgresql_warehouse_created_by_several_runs_at_once(postgres_url):
    """Runs starting together on an empty warehouse each bring the schema up to date; one
    does it, the others wait for it and find it done (no duplicate-table errors)."""
    errors: list[str] = []

    def create() -> None:
        store = Warehouse(postgres_url)
        try:
            store.create_tables()
        except Exception as err:  # collected; the assertion below names them
            errors.append(type(err).__name__)
        finally:
            store.dispose()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    store = Warehouse(postgres_url)
    try:
        assert store.has_table("resident") and store.scalar("SELECT count(*) FROM resident") == 0
    finally:
        store.dispose()
