"""The deployment file: checked with clear errors, and turned into Dagster schedules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.landing.deployment import (
    DatabaseOrigin,
    DeploymentError,
    FolderOrigin,
    HttpOrigin,
    load_deployment,
)
from connectors.schema import Source

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "sources.yaml"


def test_the_example_deployment_file_is_valid():
    deployment = load_deployment(EXAMPLE)
    tabalong = deployment.region("6309")
    assert isinstance(tabalong.origin(Source.DUKCAPIL), DatabaseOrigin)
    assert isinstance(tabalong.origin(Source.KPU), HttpOrigin)
    assert isinstance(tabalong.origin(Source.BPS), FolderOrigin)
    assert isinstance(deployment.region("6301").origin(Source.KPU), FolderOrigin)
    assert isinstance(deployment.region("1101").origin(Source.KPU), FolderOrigin)  # unlisted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("landing: x\nregions:\n  '9999': {}\n", "regions: Value error, unknown"),
        ("landing: x\nregions:\n  '6309':\n    kpu: {kind: ftp}\n", "regions.6309.kpu"),
        ("landing: x\nregions:\n  '6309':\n    dukcapil: {kind: database, url_env: X}\n",
         "give either table or query"),
        ("landing: x\nregions:\n  '6309':\n    dukcapil: {kind: database, url_env: X, "
         "table: 'T; DROP TABLE T'}\n", "not a plain table name"),
        ("landing: x\nregions:\n  '6309':\n    dukcapil: {kind: database, url_env: X, "
         "table: T, change_column: TGL_UBAH}\n", "change_column needs key_column"),
        ("landing: x\nregions:\n  '6309':\n    kpu: {kind: http, url: 'https://x', "
         "username_env: U}\n", "both username_env and password_env"),
        ("landing: x\nregoins: {}\n", "regoins"),
        ("landing: [unclosed\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_mistakes_are_named_with_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    with pytest.raises(DeploymentError) as raised:
        load_deployment(path)
    assert str(path) in str(raised.value) and message in str(raised.value)


def test_credentials_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PADU_6309_DUKCAPIL_DB", raising=False)
    database = load_deployment(EXAMPLE).region("6309").origin(Source.DUKCAPIL)
    with pytest.raises(DeploymentError, match="PADU_6309_DUKCAPIL_DB"):
        database.url()
    monkeypatch.setenv("PADU_6309_DUKCAPIL_DB", "mysql+pymysql://u:p@h/db")
    assert database.url() == "mysql+pymysql://u:p@h/db"


def test_dagster_gets_a_schedule_per_region_of_the_deployment():
    script = (
        "from pipelines.definitions import defs\n"
        "print(sorted(s.name for s in defs.schedules))\n"
        "print(defs.resolve_schedule_def('sync_6301').cron_schedule)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PADU_SOURCES": str(EXAMPLE)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "['daily_cross_region', 'sync_6301', 'sync_6309']",
        "30 2 * * *",
    ]


def test_a_region_can_name_its_own_column_mapping(tmp_path, generated):
    """This office's registry extract calls NAMA_LGKP 'NAMA_LENGKAP'; its mapping says so."""
    from connectors.warehouse.engine import Warehouse
    from pipelines.cli import run_pipeline

    landing = tmp_path / "landing"
    generated(landing, region="6309", people=100, seed=71)
    registry = next(landing.glob("dukcapil_*.csv"))
    registry.write_text(registry.read_text().replace("NAMA_LGKP", "NAMA_LENGKAP", 1))
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "dukcapil-6309.yaml").write_text(
        "columns:\n  NAMA_LGKP: [NAMA_LENGKAP]\n"
    )
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "landing: landing\nregions:\n  '6309':\n    dukcapil: {kind: folder, "
        "mapping: mappings/dukcapil-6309.yaml}\n"
    )
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    assert run_pipeline(None, url, None, echo=lambda _: None, sources=sources)
    store = Warehouse(url)
    named = store.scalar("SELECT count(*) FROM resident WHERE name_source = 'dukcapil'")
    store.dispose()
    assert named > 50

    sources.write_text(sources.read_text().replace("dukcapil-6309", "missing"))
    with pytest.raises(DeploymentError, match="regions.6309.dukcapil.mapping: no file"):
        load_deployment(sources)
