"""A run killed at any point leaves the last good state intact, and the next run completes.

The run is a real ``padu run`` process, paused inside a chosen warehouse write and killed
there with SIGKILL: once mid-load (a source's staging table written) and once mid-publish
(inside the publishing transaction, after the region's residents were replaced).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BACKENDS
from ops_helpers import content_hashes, next_registry_snapshot

from pipelines.cli import run_pipeline

ROOT = Path(__file__).resolve().parents[1]
#: Runs padu with one warehouse write made to hang, so the test can kill the run there.
PAUSING_RUN = """
import os, sys, time
from connectors.warehouse.engine import Warehouse

target, original = os.environ["PADU_TEST_PAUSE_AT"], Warehouse._insert

def pausing(self, conn, name, frame):
    original(self, conn, name, frame)
    if name == target:
        print("PAUSED", flush=True)
        time.sleep(600)

Warehouse._insert = pausing
from pipelines.cli import main
main()
"""


def _kill_inside(table: str, landing: Path, url: str, tmp_path: Path) -> None:
    """Start ``padu run``; SIGKILL it while it writes ``table``."""
    log = (tmp_path / f"killed_{table}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSING_RUN, "run", "--landing", str(landing), "--warehouse", url],
        cwd=ROOT, env={**os.environ, "PADU_TEST_PAUSE_AT": table},
        stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "PAUSED":
                break
        else:
            pytest.fail(f"the run ended without writing {table}; see {log.name}")
        process.kill()
    finally:
        process.wait(timeout=60)
        log.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_runs_leave_the_last_good_state(tmp_path, published_region, backend):
    first = tmp_path / "first"
    with (
        published_region(backend, first, people=300, seed=31) as killed,
        published_region(backend, tmp_path / "undisturbed", people=300, seed=31) as undisturbed,
    ):
        _kill_twice_then_rerun(tmp_path, first, killed.url, undisturbed.url)


def _kill_twice_then_rerun(tmp_path: Path, first: Path, url: str, reference: str) -> None:
    good = content_hashes(url)

    second = tmp_path / "second"
    shutil.copytree(first, second)
    next_registry_snapshot(first, second, url)
    for table in ("restricted.stg_dukcapil_raw_6309", "resident_link"):  # mid-load, mid-publish
        _kill_inside(table, second, url, tmp_path)
        assert content_hashes(url) == good, f"killed inside {table}: the published state changed"

    # The next run completes, and ends where an undisturbed history ends.
    assert run_pipeline(second, url, None, echo=lambda _: None)
    assert run_pipeline(second, reference, None, echo=lambda _: None)
    assert content_hashes(url) == content_hashes(reference)
