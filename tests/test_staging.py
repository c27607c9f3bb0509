"""A run's working tables (``restricted.stg_*_<region>``) hold raw NIK and KK numbers: they
are dropped when the run publishes, and ``padu purge`` drops those a failed run left behind.

Run on both backends (embedded DuckDB and the real PostgreSQL server)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
from click.testing import CliRunner
from ops_helpers import next_registry_snapshot

from connectors.reference.regions import kabupaten
from connectors.warehouse import staging
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.retention import staging_tables
from pipelines.cli import main, run_pipeline

#: Another region's working table, which nothing of region 63.09 may touch.
OTHER = "restricted.stg_dukcapil_raw_6301"


def _staging(url: str, region: str = "63.09") -> list[str]:
    store = Warehouse(url)
    try:
        with store.transaction() as conn:
            return staging_tables(conn, region)
    finally:
        store.dispose()


def _run(landing, url) -> bool:  # type: ignore[no-untyped-def]
    return run_pipeline(landing, url, None, echo=lambda _: None)


def test_every_working_table_is_found_by_its_region(warehouse_url):
    store = Warehouse(warehouse_url)
    try:
        for name in [*staging.tables(kabupaten("6309")), OTHER]:
            store.replace_table(name, pd.DataFrame({"x": [1]}))
        with store.transaction() as conn:
            assert staging_tables(conn, "63.09") == sorted(staging.tables(kabupaten("6309")))
            assert staging_tables(conn, "63.01") == [OTHER]
    finally:
        store.dispose()


def test_a_published_run_leaves_no_working_tables(published):
    landing, warehouse_url = published.landing, published.url
    assert _staging(warehouse_url) == []
    # A rerun with nothing new publishes only its run's row, and drops what it staged.
    assert _run(landing, warehouse_url)
    assert _staging(warehouse_url) == []


def test_purge_drops_the_working_tables_a_failed_run_left(published, tmp_path, monkeypatch):
    landing, warehouse_url = published.landing, published.url
    second = tmp_path / "second"
    shutil.copytree(landing, second)
    next_registry_snapshot(landing, second, warehouse_url)
    (second / "dukcapil_6309_20261101.csv").unlink()
    assert _run(second, warehouse_url)

    # A run that reads every file again and fails as it publishes: nothing is published,
    # and the raw rows it read stay in its working tables.
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the warehouse went away")

    with monkeypatch.context() as patched:
        patched.setattr(Warehouse, "publish", broken)
        assert not run_pipeline(second, warehouse_url, None, echo=lambda _: None, reload=True)
    left = _staging(warehouse_url)
    assert "restricted.stg_dukcapil_raw_6309" in left
    store = Warehouse(warehouse_url)
    store.replace_table(OTHER, pd.DataFrame({"nik": ["6301010101010001"]}))
    store.dispose()

    result = CliRunner().invoke(
        main,
        ["purge", "--warehouse", warehouse_url, "--source", "dukcapil", "--before", "2030-01-01"],
    )
    assert result.exit_code == 0, result.output
    assert "purged 1 " in result.output
    assert _staging(warehouse_url) == []
    assert _staging(warehouse_url, "63.01") == [OTHER]  # another region's run is not touched
    store = Warehouse(warehouse_url)
    try:
        outputs = store.scalar("SELECT outputs FROM run_audit WHERE started_by LIKE 'padu purge%'")
    finally:
        store.dispose()
    assert json.loads(outputs)["staging_tables"] == len(left)
    # The next run stages and publishes as before.
    assert _run(second, warehouse_url)
    assert _staging(warehouse_url) == []
