"""A landing folder missing an extract is refused before anything is read, with what was
ignored there and why, and the file name expected."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from connectors.landing.deployment import load_deployment
from connectors.landing.folder import MissingExtractsError, check_extracts, expected_name
from connectors.reference.regions import kabupaten
from connectors.schema import Source
from pipelines.cli import main
from pipelines.cli.running import _check_before_running
from pipelines.resources import LandingFolder

TABALONG = kabupaten("6309")


def _run(landing: Path, tmp_path: Path, *more: str):  # type: ignore[no-untyped-def]
    warehouse = tmp_path / "w" / "warehouse.duckdb"
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["run", "--landing", str(landing), "--warehouse", f"duckdb:///{warehouse}", *more]
    )
    return result, time.perf_counter() - started, warehouse


def test_a_misnamed_file_is_named_before_anything_is_read(landing, tmp_path):
    (landing / "bps_regsosek_6309_20261101.csv").rename(landing / "bps_6309_20261101.csv")
    result, elapsed, warehouse = _run(landing, tmp_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: no run started, nothing was read:")
    assert "63.09 KAB. TABALONG: no bps extract" in result.output
    assert "expected bps_regsosek_6309_<YYYYMMDD>.csv" in result.output
    assert "bps_6309_20261101.csv: not an agency extract name" in result.output
    assert "reading" not in result.output  # no asset ran
    assert not warehouse.exists()
    assert elapsed < 5


def test_every_missing_source_and_every_ignored_file_is_listed(landing, tmp_path):
    (landing / "kpu_dpt_6309_20261101.csv").unlink()
    (landing / "dukcapil_6309_20261101.csv").rename(landing / "dukcapil_6309_20261131.csv")
    (landing / "dukcapil_0000_20261101.csv").write_text("NIK\n")
    result, _, warehouse = _run(landing, tmp_path, "--region", "6309")
    assert result.exit_code == 1
    out = result.output
    assert "no dukcapil extract" in out and "expected dukcapil_6309_<YYYYMMDD>.csv" in out
    assert "no kpu extract" in out and "expected kpu_dpt_6309_<YYYYMMDD>.csv or .xlsx" in out
    assert "no bps extract" not in out
    assert "dukcapil_6309_20261131.csv: snapshot date 20261131 in the file name is not a date" in (
        out
    )
    assert "dukcapil_0000_20261101.csv: unknown Kemendagri kab/kota code '0000'" in out
    assert not warehouse.exists()


def test_an_extract_named_with_the_wrong_region_code_is_pointed_out(landing):
    # A file named with another region's code (BPS 6303 is Kab. Banjar) is that region's.
    (landing / "bps_regsosek_6309_20261101.csv").rename(landing / "bps_regsosek_6303_20261101.csv")
    with pytest.raises(MissingExtractsError) as caught:
        check_extracts(landing, {TABALONG: list(Source)})
    assert "there is bps_regsosek_6303_20261101.csv for 63.03" in str(caught.value)


def test_an_empty_folder_says_what_it_holds(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "DKB Tabalong Nov.csv").write_text("NIK\n")
    result, _, _ = _run(folder, tmp_path)
    assert result.exit_code == 1
    assert f"no agency extracts found in {folder}" in result.output
    assert "DKB Tabalong Nov.csv: not an agency extract name (expected dukcapil_<KAB>_" in (
        result.output
    )


def test_sources_the_run_pulls_need_no_file_yet(landing, tmp_path):
    (landing / "dukcapil_6309_20261101.csv").unlink()
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"landing: {landing}\n"
        "regions:\n"
        '  "6309":\n'
        "    dukcapil: {kind: database, url_env: PADU_6309_DUKCAPIL_DB, table: BIODATA_WNI}\n"
    )
    deployment = load_deployment(sources)
    settings = {"mapping_dir": None, "reload": False, "sources": sources, "full_refresh": False}
    warehouse = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    _check_before_running(landing, warehouse, [TABALONG], deployment, settings)  # no error
    (landing / "kpu_dpt_6309_20261101.csv").unlink()
    with pytest.raises(Exception, match="no kpu extract") as caught:
        _check_before_running(landing, warehouse, [TABALONG], deployment, settings)
    assert "no dukcapil extract" not in str(caught.value)


def test_a_step_without_its_extract_names_what_was_ignored(landing):
    """Runs the daemon starts (schedule, sensor, UI) fail the source's step with the same
    explanation."""
    (landing / "kpu_dpt_6309_20261101.csv").rename(landing / "kpu_6309_20261101.csv")
    with pytest.raises(dg.Failure) as caught:
        LandingFolder(folder=str(landing)).extract(Source.KPU, TABALONG)
    message = str(caught.value)
    assert expected_name(Source.KPU, TABALONG) in message
    assert "kpu_6309_20261101.csv: not an agency extract name" in message
