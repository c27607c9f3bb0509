"""The Dagster definitions load and hold the asset graph the README describes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs

ROOT = Path(__file__).resolve().parents[1]


def test_asset_graph():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    sources = {f"{s}_{stage}" for s in ("dukcapil", "kpu", "bps") for stage in ("raw", "records")}
    assert keys == sources | {"linked_residents", "resident", "resident_link", "quarantine",
                              "load_audit"}  # fmt: skip
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey("linked_residents")).parent_keys}
    assert upstream == {"dukcapil_records", "kpu_records", "bps_records"}
    checks = {c.name for c in graph.asset_check_keys}
    assert "row_accounting" in checks


def test_workspace_file_validates():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
