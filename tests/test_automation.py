"""The daily schedule, the landing-folder sensor, region partitions, retries and the
instance settings that keep two runs of one region apart."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import yaml

from pipelines.automation.schedules import daily_sync, landing_sensor
from pipelines.definitions import defs
from pipelines.resources import LandingFolder

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_schedule_and_sensor_are_defined():
    assert defs.resolve_schedule_def("daily_sync").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_sensor").job_name == "sync_region"
    assert defs.resolve_sensor_def("run_failure_audit") is not None


def test_every_asset_is_partitioned_by_region_but_the_cross_region_pass():
    job = defs.resolve_job_def("sync_region")
    keys = job.partitions_def.get_partition_keys()
    assert len(keys) == 514 and "6309" in keys and "3171" in keys
    for spec in defs.resolve_all_asset_specs():
        if spec.key == dg.AssetKey("cross_region_link"):
            assert spec.partitions_def is None  # over every region's published state
        else:
            assert spec.partitions_def is not None, spec.key
    assert dg.AssetKey("cross_region_link") not in job.asset_layer.selected_asset_keys
    cross = defs.resolve_job_def("cross_region")
    assert cross.asset_layer.selected_asset_keys == {dg.AssetKey("cross_region_link")}
    assert defs.resolve_schedule_def("daily_cross_region").job_name == "cross_region"


def test_sensor_requests_a_run_for_the_region_of_a_new_file(tmp_path, generated):
    landing = LandingFolder(folder=str(tmp_path))
    context = dg.build_sensor_context(resources={"landing": landing})
    assert isinstance(landing_sensor(context), dg.SkipReason)  # empty folder

    generated(tmp_path, region="6309", people=50, seed=1)
    context = dg.build_sensor_context(cursor=context.cursor, resources={"landing": landing})
    requests = landing_sensor(context)
    assert [r.partition_key for r in requests] == ["6309"]

    # Nothing new: no run. A new snapshot arrives: a run again, for that region only.
    again = dg.build_sensor_context(cursor=context.cursor, resources={"landing": landing})
    assert isinstance(landing_sensor(again), dg.SkipReason)
    generated(tmp_path, region="6301", people=30, seed=2)
    later = dg.build_sensor_context(cursor=again.cursor, resources={"landing": landing})
    assert [r.partition_key for r in landing_sensor(later)] == ["6301"]


def test_daily_schedule_requests_one_run_per_region(tmp_path, generated):
    landing = LandingFolder(folder=str(tmp_path))
    when = datetime(2026, 11, 26, 2, 0)
    context = dg.build_schedule_context(
        resources={"landing": landing}, scheduled_execution_time=when
    )
    assert isinstance(daily_sync(context), dg.SkipReason)
    generated(tmp_path, region="6309", people=30, seed=1)
    generated(tmp_path, region="6301", people=30, seed=2)
    requests = daily_sync(context)
    assert sorted(r.partition_key for r in requests) == ["6301", "6309"]
    assert len({r.run_key for r in requests}) == 2


def test_instance_settings_allow_one_run_per_region(tmp_path):
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    queue = instance.get_concurrency_config().run_queue_config
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True},
            "limit": 1} in queue.tag_concurrency_limits  # fmt: skip
    assert queue.max_concurrent_runs == 2  # different regions side by side, one per core


def test_dagster_postgres_instance_settings(tmp_path, postgres_url):
    """deploy/dagster-postgres.yaml gives an instance whose runs live in PostgreSQL."""
    settings = yaml.safe_load((DEPLOY / "dagster-postgres.yaml").read_text())
    settings["storage"]["postgres"]["postgres_url"] = postgres_url
    with dg.instance_for_test(overrides=settings, temp_dir=str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        run = instance.create_run_for_job(defs.resolve_job_def("sync_region"), tags={"t": "1"})
        assert instance.get_run_by_id(run.run_id) is not None
