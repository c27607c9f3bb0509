"""When padu runs by itself: a daily sync of every region, and a sensor on the landing folder.

Runs are per region (partition). Two runs of one region must never write at once: the
Dagster instance's run queue limits runs to one per ``dagster/partition`` tag value (see
``deploy/dagster.yaml``), and publishing takes a per-region lock on PostgreSQL.
"""

import json
from datetime import datetime
from pathlib import Path

import dagster as dg

from connectors.landing.deployment import Deployment
from connectors.landing.folder import scan
from pipelines.resources import LandingFolder

#: The pass over all regions (pipelines/cross_region.py), not partitioned.
CROSS_REGION = dg.AssetSelection.assets("cross_region_link")

sync_job = dg.define_asset_job(
    "sync_region",
    selection=dg.AssetSelection.all() - CROSS_REGION,
    description="Load the newest extracts of one region (the partition), link them and publish.",
)

cross_region_job = dg.define_asset_job(
    "cross_region",
    selection=CROSS_REGION,
    description="Link residents seen in one region to their civil-registry record in another.",
)

daily_cross_region = dg.ScheduleDefinition(
    name="daily_cross_region",
    job=cross_region_job,
    cron_schedule="0 5 * * *",
    execution_timezone="Asia/Jakarta",
    description="Every morning at 05:00 WIB, after the night's region syncs, link residents "
    "across regions.",
)


@dg.schedule(
    name="daily_sync",
    job=sync_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Jakarta",
    description="Every night at 02:00 WIB, resync every region that has extracts in the "
    "landing folder (one run per region).",
)
def daily_sync(
    context: dg.ScheduleEvaluationContext, landing: LandingFolder
) -> list[dg.RunRequest] | dg.SkipReason:
    present = landing.regions()
    if not present:
        return dg.SkipReason(f"no agency extracts in {landing.folder}")
    when = context.scheduled_execution_time or datetime.now()
    return [
        dg.RunRequest(
            run_key=f"daily:{when:%Y-%m-%d}:{kab.compact_code}",
            partition_key=kab.compact_code,
            tags={"padu/started_by": "schedule daily_sync"},
        )
        for kab in present
    ]


def region_schedules(deployment: Deployment) -> list[dg.ScheduleDefinition]:
    """One schedule per region of the deployment file, at the region's cron."""
    return [_region_schedule(code, sources.schedule, deployment.timezone)
            for code, sources in sorted(deployment.regions.items())]  # fmt: skip


def _region_schedule(code: str, cron: str, timezone: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"sync_{code}",
        job=sync_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        description=f"Pull and sync region {code} (deployment file).",
    )
    def schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time or datetime.now()
        return dg.RunRequest(
            run_key=f"sync_{code}:{when:%Y-%m-%dT%H:%M}",
            partition_key=code,
            tags={"padu/started_by": f"schedule sync_{code}"},
        )

    return schedule


def _fingerprints(folder: Path) -> dict[str, str]:
    """Agency extracts in the folder, by name, with their size and modification time."""
    extracts, _ = scan(folder)
    return {e.path.name: f"{e.path.stat().st_size}:{int(e.path.stat().st_mtime)}" for e in extracts}


@dg.sensor(
    job=sync_job,
    minimum_interval_seconds=60,
    description="Starts a sync when an agency extract arrives in (or changes in) the landing "
    "folder, for the kab/kota of that file.",
)
def landing_sensor(
    context: dg.SensorEvaluationContext, landing: LandingFolder
) -> dg.SkipReason | list[dg.RunRequest]:
    folder = Path(landing.folder)
    if not folder.is_dir():
        return dg.SkipReason(f"landing folder {folder} does not exist")
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = _fingerprints(folder)
    new = sorted(name for name, print_ in current.items() if seen.get(name) != print_)
    context.update_cursor(json.dumps(current, sort_keys=True))
    if not new:
        return dg.SkipReason("no new extract")
    extracts, _ = scan(folder)
    changed = sorted({e.kab.compact_code for e in extracts if e.path.name in new})
    return [
        dg.RunRequest(
            run_key=f"{region}:{','.join(new)}:{current[new[0]]}",
            partition_key=region,
            tags={"padu/started_by": "sensor landing_sensor"},
        )
        for region in changed
    ]
