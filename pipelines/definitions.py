"""padu's Dagster definitions: the asset graph, its checks and its resources.

Settings come from environment variables when set (documented in the README), else from the
demo defaults: ``PADU_MODE`` (``production`` refuses the demo key), ``PADU_LANDING``,
``PADU_WAREHOUSE_URL``, ``PADU_PSEUDONYM_KEY_FILE``,
``PADU_PSEUDONYM_KEY``, ``PADU_MAPPING_DIR``.
"""

import os

import dagster as dg

from pipelines.assets.residents import linked_residents, published_tables
from pipelines.assets.sources import SOURCE_ASSETS
from pipelines.automation import daily_sync, landing_sensor, sync_job
from pipelines.checks import row_accounting
from pipelines.quality import QUALITY_CHECKS
from pipelines.resources import (
    DEMO_PSEUDONYM_KEY,
    AuditSettings,
    LandingFolder,
    PseudonymKey,
    SettingsError,
    WarehouseResource,
    key_problem,
)
from pipelines.run_audit import run_failure_audit


def build_resources(
    landing: str | None = None,
    warehouse_url: str | None = None,
    mapping_dir: str | None = None,
    reload: bool = False,
) -> dict[str, dg.ConfigurableResource]:
    """Resources from explicit values, else ``PADU_*`` environment variables, else defaults."""
    settings = {
        "folder": landing or os.environ.get("PADU_LANDING"),
        "mapping_dir": mapping_dir or os.environ.get("PADU_MAPPING_DIR"),
    }
    landing_resource = LandingFolder(**{k: v for k, v in settings.items() if v}, reload=reload)
    url = warehouse_url or os.environ.get("PADU_WAREHOUSE_URL")
    warehouse = WarehouseResource(url=url) if url else WarehouseResource()
    production = os.environ.get("PADU_MODE", "demo") == "production"
    key_settings: dict[str, object] = {"production": production}
    if os.environ.get("PADU_PSEUDONYM_KEY_FILE"):
        key_settings["key_file"] = os.environ["PADU_PSEUDONYM_KEY_FILE"]
    elif os.environ.get("PADU_PSEUDONYM_KEY"):
        key_settings["key"] = dg.EnvVar("PADU_PSEUDONYM_KEY")
    key = PseudonymKey(**key_settings)  # type: ignore[arg-type]
    if production:
        # Refuse at once, before anything is read: not only when the linkage asks for it.
        resolved = PseudonymKey(
            key=os.environ.get("PADU_PSEUDONYM_KEY", DEMO_PSEUDONYM_KEY),
            key_file=os.environ.get("PADU_PSEUDONYM_KEY_FILE"),
        )
        problem = key_problem(resolved.bytes())
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
    }


ALL_ASSETS = [*SOURCE_ASSETS, linked_residents, published_tables]
ALL_CHECKS = [row_accounting, *QUALITY_CHECKS]

# One process runs the steps of a run: an embedded DuckDB file admits one writing process at
# a time, and the steps of one region depend on each other almost in a line anyway. Regions
# run in parallel as separate runs.
defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[sync_job],
    schedules=[daily_sync],
    sensors=[landing_sensor, run_failure_audit],
    resources=build_resources(),
    executor=dg.in_process_executor,
)
