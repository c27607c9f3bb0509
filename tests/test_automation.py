"""The daily schedule and the landing-folder sensor."""

from __future__ import annotations

import dagster as dg

from connectors.synthetic import generate
from pipelines.automation import landing_sensor
from pipelines.definitions import defs
from pipelines.resources import LandingFolder


def test_schedule_and_sensor_are_defined():
    assert defs.resolve_schedule_def("daily_sync").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_sensor").job_name == "sync_region"


def test_sensor_requests_a_run_for_the_region_of_a_new_file(tmp_path):
    landing = LandingFolder(folder=str(tmp_path))
    context = dg.build_sensor_context(resources={"landing": landing})
    assert isinstance(landing_sensor(context), dg.SkipReason)  # empty folder

    generate(region="6309", people=50, seed=1, out=tmp_path)
    context = dg.build_sensor_context(cursor=context.cursor, resources={"landing": landing})
    requests = landing_sensor(context)
    assert [r.tags["padu/region"] for r in requests] == ["6309"]
    assert requests[0].run_config == {"resources": {"landing": {"config": {"region": "6309"}}}}

    # Nothing new: no run. A new snapshot arrives: a run again.
    again = dg.build_sensor_context(cursor=context.cursor, resources={"landing": landing})
    assert isinstance(landing_sensor(again), dg.SkipReason)
    (tmp_path / "kpu_dpt_6309_20261202.csv").write_text(
        next(tmp_path.glob("kpu_dpt_*.csv")).read_text()
    )
    later = dg.build_sensor_context(cursor=again.cursor, resources={"landing": landing})
    assert len(landing_sensor(later)) == 1
