"""Operating padu day after day: reruns, new snapshots, re-delivered files, transient faults.

Run on both backends (embedded DuckDB and the real PostgreSQL server)."""

from __future__ import annotations

import shutil

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import rows_of
from ops_helpers import content_hashes, next_registry_snapshot

from connectors.warehouse.engine import Warehouse
from pipelines.cli import run_pipeline


def _run(landing, url) -> None:  # type: ignore[no-untyped-def]
    assert run_pipeline(landing, url, None, echo=lambda _: None)


@pytest.fixture
def first_snapshot(tmp_path, generated):
    """The small region's first snapshot, not loaded anywhere yet."""
    generated(tmp_path / "landing", people=300, seed=31)
    return tmp_path / "landing"


def test_rerun_on_the_same_inputs_gives_identical_tables(published):
    first_snapshot, warehouse_url = published.landing, published.url
    before = content_hashes(warehouse_url)
    # Nothing changed: the run recognises every file and its inputs, and publishes nothing.
    _run(first_snapshot, warehouse_url)
    assert content_hashes(warehouse_url) == before
    # Everything read, standardised, linked and published again: the same tables.
    assert run_pipeline(first_snapshot, warehouse_url, None, echo=lambda _: None, reload=True)
    assert content_hashes(warehouse_url) == before
    runs = rows_of(
        warehouse_url,
        "SELECT status, outputs, input_fingerprint FROM run_audit ORDER BY finished_at",
    )
    assert list(runs["status"]) == ["success"] * 3
    assert runs["outputs"].iloc[1] == "{}"  # the second run had nothing to publish
    assert '"resident": 0' not in runs["outputs"].iloc[2]
    assert runs["input_fingerprint"].nunique() == 1
    assert len(rows_of(warehouse_url, "SELECT * FROM load_audit")) == 3  # nothing loaded twice


def test_second_snapshot_records_known_changes(published, tmp_path):
    first_snapshot, warehouse_url = published.landing, published.url
    second = tmp_path / "second"
    shutil.copytree(first_snapshot, second)
    niks = next_registry_snapshot(first_snapshot, second, warehouse_url)
    _run(second, warehouse_url)

    audit = rows_of(warehouse_url, "SELECT source, source_file, current FROM load_audit")
    assert len(audit) == 4  # the new registry file; KPU and BPS were recognised
    registry = audit[audit["source"] == "dukcapil"].set_index("source_file")["current"]
    assert bool(registry["dukcapil_6309_20261102.csv"])
    assert not bool(registry["dukcapil_6309_20261101.csv"])

    # Both snapshots stay queryable.
    counts = rows_of(
        warehouse_url,
        "SELECT source_file, count(*) AS n FROM restricted.source_record WHERE source = 'dukcapil' "
        "GROUP BY source_file",
    ).set_index("source_file")["n"]
    assert counts["dukcapil_6309_20261101.csv"] == counts["dukcapil_6309_20261102.csv"]

    changes = rows_of(
        warehouse_url,
        "SELECT c.change, c.changed_fields, coalesce(n.nik, o.nik) AS nik "
        "FROM source_change c "
        "LEFT JOIN restricted.source_record n ON n.source_file = c.source_file "
        "AND n.source_row = c.source_row "
        "LEFT JOIN restricted.source_record o ON o.source_file = c.previous_file "
        "AND o.source_row = c.previous_row",
    )
    found = {row.change: row.nik for row in changes.itertuples()}
    assert len(changes) == 3, changes
    assert found == niks
    changed = changes[changes["change"] == "changed"].iloc[0]
    assert set(changed["changed_fields"].split(",")) == {"name_raw", "name_norm"}

    # The renamed resident shows as changed in the resident_change view, by attribute name.
    events = rows_of(
        warehouse_url,
        "SELECT change, changed_attributes FROM resident_change WHERE change = 'changed'",
    )
    assert "display_name" in set(",".join(events["changed_attributes"]).split(","))


def test_file_redelivered_under_a_new_name_is_not_loaded_twice(published):
    first_snapshot, warehouse_url = published.landing, published.url
    before = content_hashes(warehouse_url)
    voters = next(first_snapshot.glob("kpu_dpt_*.csv"))
    shutil.copy(voters, voters.with_name("kpu_dpt_6309_20261105.csv"))
    _run(first_snapshot, warehouse_url)
    assert content_hashes(warehouse_url) == before


def test_transient_fault_is_retried(first_snapshot, tmp_path, monkeypatch):
    """A dropped warehouse connection fails one step once; the retry completes the run."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    calls: list[str] = []
    original = Warehouse.replace_table

    def flaky(self, name, frame, connection=None):  # type: ignore[no-untyped-def]
        if connection is None:  # the outer call, not its call inside its own transaction
            calls.append(name)
            if name == "restricted.stg_bps_raw_6309" and calls.count(name) == 1:
                raise sa.exc.OperationalError("INSERT", {}, Exception("connection reset"))
        return original(self, name, frame, connection)

    monkeypatch.setattr(Warehouse, "replace_table", flaky)
    _run(first_snapshot, url)
    assert calls.count("restricted.stg_bps_raw_6309") == 2


def test_unreadable_file_fails_without_retrying(first_snapshot, tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    voters = next(first_snapshot.glob("kpu_dpt_*.csv"))
    voters.write_text("this is not the voter list\n")
    lines: list[str] = []
    assert not run_pipeline(first_snapshot, url, None, echo=lines.append)
    assert any("kpu_raw" in line and voters.name in line for line in lines)
    failed = rows_of(url, "SELECT status, region, message FROM run_audit")
    assert list(failed["status"]) == ["failed"] and failed["region"].iloc[0] == "63.09"
    assert voters.name in failed["message"].iloc[0]


def test_failure_sensor_records_a_failed_scheduled_run(first_snapshot, tmp_path):
    """A run the daemon launched (here: as the schedule would) that fails is recorded."""
    from pipelines.automation.failure_audit import run_failure_audit
    from pipelines.definitions import ALL_ASSETS, ALL_CHECKS, build_resources

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    next(first_snapshot.glob("bps_*.csv")).write_bytes(b"")
    resources = build_resources(landing=str(first_snapshot), warehouse_url=url)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*ALL_ASSETS, *ALL_CHECKS], resources=resources, instance=instance,
            partition_key="6309", raise_on_error=False,
            tags={"dagster/schedule_name": "daily_sync"},
        )  # fmt: skip
        assert not result.success
        logged = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        failure = logged[0].dagster_event
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_audit", dagster_event=failure, dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id), resources=resources,
        ).for_run_failure()  # fmt: skip
        run_failure_audit(context)
    row = rows_of(url, "SELECT * FROM run_audit").iloc[0]
    assert (row["status"], row["region"], row["started_by"]) == (
        "failed",
        "63.09",
        "schedule daily_sync",
    )
    assert "bps_regsosek_6309_20261101.csv" in row["message"]


def _purge(url: str, *args: str) -> str:
    from click.testing import CliRunner

    from pipelines.cli import main

    result = CliRunner().invoke(main, ["purge", "--warehouse", url, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_purge_removes_superseded_snapshots_only(published, tmp_path):
    first_snapshot, warehouse_url = published.landing, published.url
    second = tmp_path / "second"
    shutil.copytree(first_snapshot, second)
    next_registry_snapshot(first_snapshot, second, warehouse_url)
    (second / "dukcapil_6309_20261101.csv").unlink()
    _run(second, warehouse_url)
    current = {k: v for k, v in content_hashes(warehouse_url).items() if "source_record" not in k
               and k not in ("load_audit", "source_change", "quarantine",
                             "restricted.quarantine_line")}  # fmt: skip

    # Far in the future: still only the superseded registry snapshot goes.
    output = _purge(warehouse_url, "--source", "dukcapil", "--before", "2030-01-01")
    assert "dukcapil_6309_20261101.csv" in output and "purged 1 " in output
    files = rows_of(warehouse_url, "SELECT DISTINCT source_file FROM restricted.source_record")[
        "source_file"
    ]
    assert "dukcapil_6309_20261101.csv" not in set(files)
    assert "dukcapil_6309_20261102.csv" in set(files) and len(files) == 3
    audit = rows_of(warehouse_url, "SELECT source_file, purged_at FROM load_audit")
    purged = audit.set_index("source_file")["purged_at"]
    assert purged.notna().sum() == 1 and pd.notna(purged["dukcapil_6309_20261101.csv"])
    # The changes that made the current snapshot stay (names and rows, no personal data).
    changes = rows_of(warehouse_url, "SELECT change, source_file FROM source_change")
    assert sorted(changes["change"]) == ["added", "changed", "removed"]
    after = content_hashes(warehouse_url)
    assert all(after[k] == v for k, v in current.items())  # the current state is intact
    logged = rows_of(warehouse_url, "SELECT started_by, outputs FROM run_audit "
                    "WHERE started_by LIKE 'padu purge%'")  # fmt: skip
    assert len(logged) == 1 and '"files": 1' in logged["outputs"].iloc[0]
    assert "purged 0 " in _purge(warehouse_url, "--source", "dukcapil", "--before", "2030-01-01")
    # The next run still works, and a purged file delivered again is read again.
    _run(second, warehouse_url)
