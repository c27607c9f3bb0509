"""padu's Dagster definitions: the asset graph, its checks and its resources.

Settings come from environment variables when set (documented in the README), else from the
demo defaults: ``PADU_MODE`` (``production`` refuses to run without a configured pseudonym
key), ``PADU_LANDING``, ``PADU_WAREHOUSE_URL``, ``PADU_PSEUDONYM_KEY_FILE``,
``PADU_PSEUDONYM_KEY`` (without either, an embedded DuckDB warehouse gets a random key of its
own, ``pseudonym.key`` beside the file; a PostgreSQL one is refused), ``PADU_MAPPING_DIR``,
``PADU_SOURCES`` (the deployment file), ``PADU_EXECUTOR`` and ``PADU_EXECUTOR_CONFIG`` (what
runs a run's steps: pipelines/executors.py).
"""

import os
from pathlib import Path
from typing import Any

import dagster as dg

from connectors.agencies.kpu import UNPACKED_SETTING
from connectors.landing.deployment import Deployment, DeploymentError, load_deployment
from pipelines.automation.failure_audit import run_failure_audit
from pipelines.automation.schedules import (
    cross_region_job,
    daily_cross_region,
    daily_sync,
    landing_sensor,
    region_schedules,
    sync_job,
)
from pipelines.cross_region import cross_region_links
from pipelines.executors import choose_executor
from pipelines.ingest.file_checks import FILE_CHECKS
from pipelines.ingest.files import FILE_ASSETS
from pipelines.ingest.pulls import PULL_ASSETS
from pipelines.link.checks import LINK_CHECKS
from pipelines.link.residents import linked_residents
from pipelines.publish.checks import row_accounting
from pipelines.publish.tables import published_tables
from pipelines.resources import (
    AuditSettings,
    LandingFolder,
    SettingsError,
    SourcesResource,
    WarehouseResource,
    key_problem,
    positive_bytes,
    pseudonym_key,
    warehouse_resource,
)
from pipelines.standardise.checks import RECORDS_CHECKS
from pipelines.standardise.records import RECORDS_ASSETS


def _deployment(path: str | None) -> Deployment | None:
    if not path:
        return None
    try:
        return load_deployment(Path(path))
    except DeploymentError as err:
        raise SettingsError(str(err)) from None


def build_resources(
    landing: str | None = None,
    warehouse_url: str | None = None,
    mapping_dir: str | None = None,
    reload: bool = False,
    sources: str | None = None,
    full_refresh: bool = False,
) -> dict[str, dg.ConfigurableResource]:
    """Resources from explicit values, else ``PADU_*`` environment variables, else defaults."""
    sources = sources or os.environ.get("PADU_SOURCES")
    deployment = _deployment(sources)
    settings: dict[str, Any] = {
        "folder": landing
        or os.environ.get("PADU_LANDING")
        or (deployment.landing if deployment else None),
        "mapping_dir": mapping_dir or os.environ.get("PADU_MAPPING_DIR"),
    }
    if os.environ.get(UNPACKED_SETTING):
        settings["max_xlsx_unpacked"] = positive_bytes(
            UNPACKED_SETTING, os.environ[UNPACKED_SETTING]
        )
    landing_resource = LandingFolder(**{k: v for k, v in settings.items() if v}, reload=reload)
    warehouse = warehouse_resource(warehouse_url)
    production = os.environ.get("PADU_MODE", "demo") == "production"
    # Refused at once, before anything is read: production mode or a PostgreSQL warehouse
    # without a configured key; in production mode, a key too short or unreadable too.
    key = pseudonym_key(warehouse.target(), production)
    if production:
        problem = key_problem(key.read())
        if problem:
            raise SettingsError(f"production mode (PADU_MODE=production): {problem}")
    audit = AuditSettings(
        **{
            k: v
            for k, v in {
                "reference_date": os.environ.get("PADU_REFERENCE_DATE"),
                "docs_dir": os.environ.get("PADU_QUALITY_DOCS"),
                "quality_settings": os.environ.get("PADU_QUALITY_SETTINGS"),
            }.items()
            if v
        }
    )
    return {
        "landing": landing_resource,
        "warehouse": warehouse,
        "pseudonym_key": key,
        "audit": audit,
        "sources": SourcesResource(path=sources, full_refresh=full_refresh),
    }


#: The assets of one region's run (partitioned by region); the cross-region pass runs over
#: all regions' published state after their runs.
ALL_ASSETS = [*PULL_ASSETS, *FILE_ASSETS, *RECORDS_ASSETS, linked_residents, published_tables]
ALL_CHECKS = [*FILE_CHECKS, *RECORDS_CHECKS, *LINK_CHECKS, row_accounting]

# With a deployment file (PADU_SOURCES), each region listed there gets its own schedule;
# without one, one daily schedule syncs every region that has extracts in the landing folder.
_DEPLOYMENT = _deployment(os.environ.get("PADU_SOURCES"))
_RESOURCES = build_resources()
_WAREHOUSE = _RESOURCES["warehouse"]
assert isinstance(_WAREHOUSE, WarehouseResource)
# A run's steps execute in the run's own process unless the deployment chooses another
# executor (PADU_EXECUTOR): a region's steps follow each other almost in a line. Regions run
# side by side as separate runs, as many as the instance's run queue allows
# (deploy/dagster*.yaml).
EXECUTOR = choose_executor(
    os.environ.get("PADU_EXECUTOR"), os.environ.get("PADU_EXECUTOR_CONFIG"), _WAREHOUSE.target()
)


def definitions(
    resources: dict[str, dg.ConfigurableResource],
    executor: dg.ExecutorDefinition | None = None,
    automation: bool = False,
) -> dg.Definitions:
    """padu's definitions with ``resources``: the assets, their checks and the two jobs, and
    with ``automation`` the schedules and sensors of the deployment (PADU_SOURCES)."""
    return dg.Definitions(
        assets=[*ALL_ASSETS, cross_region_links],
        asset_checks=ALL_CHECKS,
        jobs=[sync_job, cross_region_job],
        schedules=[
            *(region_schedules(_DEPLOYMENT) if _DEPLOYMENT else [daily_sync]),
            daily_cross_region,
        ] if automation else None,
        sensors=[landing_sensor, run_failure_audit] if automation else None,
        resources=resources,
        executor=executor,
    )  # fmt: skip


def job(name: str, resources: dict[str, dg.ConfigurableResource]) -> dg.JobDefinition:
    """One of the jobs the deployment runs (``sync_region``, ``cross_region``), with
    ``resources``: what ``padu run`` executes, so it runs what the schedules run."""
    return definitions(resources).resolve_job_def(name)


defs = definitions(_RESOURCES, EXECUTOR, automation=True)
