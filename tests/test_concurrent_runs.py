"""Two ``padu run`` of one region at once: the second refuses, the first's lineage is whole.

Both are real processes. The first is held inside its staging (after writing its raw registry
rows) until the second has tried and been refused, so the overlap is certain, not left to
timing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import rows_of

from connectors.warehouse.engine import Warehouse

ROOT = Path(__file__).resolve().parents[1]
#: padu run, held after one staging write until the file PADU_TEST_GO exists.
HELD_RUN = """
import os, sys, time
from pathlib import Path
from connectors.warehouse.engine import Warehouse

target, original = os.environ["PADU_TEST_HOLD_AT"], Warehouse.replace_table

def holding(self, name, frame, *args, **kwargs):
    original(self, name, frame, *args, **kwargs)
    if name == target and not args and not kwargs:  # the outer call, its transaction done
        print("HELD", flush=True)
        while not Path(os.environ["PADU_TEST_GO"]).exists():
            time.sleep(0.1)

Warehouse.replace_table = holding
from pipelines.cli import main
main()
"""


def _env(tmp_path: Path) -> dict[str, str]:
    key = tmp_path / "pseudonym.key"
    if not key.exists():
        key.write_bytes(os.urandom(32).hex().encode())
        key.chmod(0o600)
    return {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "PADU_PSEUDONYM_KEY_FILE": str(key)}  # fmt: skip


def test_a_second_run_of_a_region_refuses_while_the_first_runs(tmp_path, warehouse_url, generated):
    url = warehouse_url
    first = tmp_path / "first"
    generated(first, region="6309", people=200, seed=12)
    second = tmp_path / "second"  # the next day's delivery
    second.mkdir()
    for path in first.iterdir():
        if path.suffix in (".csv", ".txt") and path.name != "truth.csv":
            shutil.copy(path, second / path.name.replace("20261101", "20261102"))
    env = _env(tmp_path)
    go = tmp_path / "go"
    held = subprocess.Popen(
        [sys.executable, "-c", HELD_RUN, "run", "--landing", str(first), "--warehouse", url],
        cwd=ROOT, env={**env, "PADU_TEST_HOLD_AT": "restricted.stg_dukcapil_raw_6309",
                       "PADU_TEST_GO": str(go)},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert held.stdout is not None
        assert held.stdout.readline().strip() == "HELD"
        refused = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "run", "--landing", str(second),
             "--warehouse", url],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        go.touch()
        rest, _ = held.communicate(timeout=600)
    finally:
        held.kill() if held.poll() is None else None
    assert refused.returncode == 1
    assert "another padu run of region 63.09 is in progress" in refused.stdout
    assert held.returncode == 0, rest

    runs = rows_of(url, "SELECT run_id, status FROM run_audit")
    assert list(runs["status"]) == ["success"]
    files = rows_of(url, "SELECT source_file, run_id FROM load_audit WHERE current")
    assert set(files["run_id"]) == set(runs["run_id"])
    assert all(name.endswith(("20261101.csv", "20261101.txt")) for name in files["source_file"])
    linked = rows_of(url, "SELECT DISTINCT source_file FROM resident_link")["source_file"]
    assert set(linked) == set(files["source_file"])


def test_two_runs_on_a_fresh_dagster_home_do_not_crash(tmp_path):
    """Both make the instance's storage at once; each of them gets a working instance."""
    env = _env(tmp_path)
    script = (
        "from pipelines.cli.running import _instance; _instance().get_runs(limit=1); print('ok')"
    )
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    for process in starts:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0 and out.strip() == "ok", err


def test_the_region_lock_is_free_after_a_run(warehouse_url):
    from connectors.warehouse.region_lock import RegionBusyError, region_run

    store = Warehouse(warehouse_url)
    with region_run(store, "63.09"):
        with pytest.raises(RegionBusyError), region_run(store, "63.09"):
            pass
        with region_run(store, "63.10"):  # another region runs alongside
            pass
    with region_run(store, "63.09"):
        pass
    store.dispose()
