"""The run audit: one ``run_audit`` row per finished run, successful or not.

A successful run writes its row in the same transaction as its tables. A failed run is
recorded by ``padu run`` when it returns, and, for runs the Dagster daemon launched (schedule,
sensor, UI), by ``run_failure_audit``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import dagster as dg
import pandas as pd

from connectors.warehouse.tables import run_audit
from pipelines.resources import WarehouseResource

PARTITION_TAG = "dagster/partition"


def started_by(tags: Mapping[str, str]) -> str:
    """Who or what started a run, from its tags."""
    for tag, label in (
        ("dagster/schedule_name", "schedule"),
        ("dagster/sensor_name", "sensor"),
        ("padu/started_by", None),
        ("user", "user"),
    ):
        if tag in tags:
            return f"{label} {tags[tag]}" if label else tags[tag]
    return "dagster"


def _inputs(files: pd.DataFrame | None) -> str | None:
    if files is None or files.empty:
        return None
    return "; ".join(f"{r.source_file}: {r.checksum}" for r in files.itertuples())


def audit_row(
    run: dg.DagsterRun,
    instance: dg.DagsterInstance,
    region: str | None,
    status: str,
    files: pd.DataFrame | None = None,
    outputs: Mapping[str, int] | None = None,
    message: str | None = None,
    finished: pd.Timestamp | None = None,
    fingerprint: str | None = None,
) -> pd.DataFrame:
    """The ``run_audit`` row of ``run``."""
    stats = instance.get_run_stats(run.run_id)
    started = pd.Timestamp(stats.start_time, unit="s") if stats.start_time else pd.NaT
    finished = finished if finished is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    duration = (finished - started).total_seconds() if started is not pd.NaT else None
    row = {
        "run_id": run.run_id,
        "region": region,
        "started_by": started_by(run.tags),
        "started_at": started.floor("s") if started is not pd.NaT else pd.NaT,
        "finished_at": finished.floor("s"),
        "duration_seconds": duration,
        "status": status,
        "inputs": _inputs(files),
        "input_fingerprint": fingerprint,
        "outputs": json.dumps(dict(outputs), sort_keys=True) if outputs is not None else None,
        "message": message,
    }
    frame = pd.DataFrame({k: [v] for k, v in row.items()})
    types = {"started_at": "datetime64[ns]", "finished_at": "datetime64[ns]",
             "duration_seconds": "float64"}  # fmt: skip
    return frame.astype(types)[[c.name for c in run_audit.columns]]


def run_row(
    context: dg.AssetExecutionContext,
    region: str,
    status: str,
    files: pd.DataFrame,
    outputs: Mapping[str, int],
    finished: pd.Timestamp,
    fingerprint: str,
    message: str | None = None,
) -> pd.DataFrame:
    """The row a successful run publishes with its tables (``message``: what the auditor
    should know of it, e.g. a source that stayed on an older snapshot)."""
    return audit_row(
        context.run,
        context.instance,
        region,
        status,
        files,
        outputs,
        message,
        finished,
        fingerprint,
    )


def record_failure(
    store_url: str, run: dg.DagsterRun, instance: dg.DagsterInstance, message: str
) -> None:
    """Append the row of a failed run (the warehouse tables are as the last good run left
    them). The message never shows the warehouse's password."""
    from connectors.redaction import scrub
    from connectors.warehouse.engine import Warehouse

    message = scrub(message, store_url)

    region = run.tags.get(PARTITION_TAG)
    if region and len(region) == 4 and region.isdigit():
        region = f"{region[:2]}.{region[2:]}"
    store = Warehouse(store_url)
    try:
        store.append(run_audit.name, audit_row(run, instance, region, "failed", message=message))
    finally:
        store.dispose()


@dg.run_failure_sensor(
    name="run_failure_audit",
    description="Records every failed run in the warehouse's run_audit table.",
)
def run_failure_audit(context: dg.RunFailureSensorContext, warehouse: WarehouseResource) -> None:
    if context.dagster_run.tags.get("padu/started_by", "").startswith("padu run"):
        return  # padu run records its own failures
    failures = [e.step_failure_data.error for e in context.get_step_failure_events()]
    message = "; ".join(e.message.strip() for e in failures if e) or context.failure_event.message
    record_failure(warehouse.url, context.dagster_run, context.instance, message or "failed")
