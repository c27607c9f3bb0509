"""The Dagster definitions load and hold the asset graph the README describes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs

ROOT = Path(__file__).resolve().parents[1]


def test_asset_graph():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    sources = {f"{s}_{stage}" for s in ("dukcapil", "kpu", "bps")
               for stage in ("pull", "raw", "records")}  # fmt: skip
    assert keys == sources | {"linked_residents", "resident", "resident_link", "quarantine",
                              "load_audit", "review_queue", "resident_history",
                              "discrepancy", "source_record", "source_change",
                              "run_audit", "quarantine_line", "cross_region_link",
                              "refused_file", "place", "linkage_blocking"}  # fmt: skip
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey("linked_residents")).parent_keys}
    assert upstream == {"dukcapil_records", "kpu_records", "bps_records"}
    cross = {k.to_user_string() for k in graph.get(dg.AssetKey("cross_region_link")).parent_keys}
    assert cross == {"resident", "resident_link"}
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert checks == {
        ("resident_link", "row_accounting"),
        ("dukcapil_records", "quality"), ("kpu_records", "quality"), ("bps_records", "quality"),
        ("linked_residents", "resident_quality"), ("linked_residents", "link_quality"),
        ("linked_residents", "source_coverage"),
        *((f"{s}_raw", check) for s in ("dukcapil", "kpu", "bps")
          for check in ("line_accounting", "current_snapshot")),
    }  # fmt: skip


def test_workspace_file_validates():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dg_project_loads_the_definitions():
    """``make ui`` runs ``dg dev`` on the project of ``[tool.dg]``: it loads what Dagster loads."""
    dg_cli = Path(sys.executable).with_name("dg")
    result = subprocess.run(
        [str(dg_cli), "list", "defs", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parents[1])},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    listed = json.loads(result.stdout)
    keys = {asset["asset_key"] for asset in listed["assets"]}
    assert {"linked_residents", "resident", "place", "dukcapil_raw"} <= keys


def test_dagster_asset_materialize_from_the_command_line(tmp_path, generated):
    from connectors.warehouse.engine import Warehouse

    generated(tmp_path / "landing", region="6309", people=400, seed=5)
    (tmp_path / "dagster_home").mkdir()
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PADU_LANDING": str(tmp_path / "landing"),
        "PADU_WAREHOUSE_URL": url,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "pipelines.definitions",
            "--select",
            "*",
            "--partition",
            "6309",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stderr
    store = Warehouse(url)
    assert store.scalar("SELECT count(*) FROM resident") > 350
    store.dispose()
