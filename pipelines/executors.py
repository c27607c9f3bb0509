"""Which Dagster executor runs the steps of a run, chosen per deployment.

``PADU_EXECUTOR`` names it; ``PADU_EXECUTOR_CONFIG`` names a YAML file holding its settings
in Dagster's run-config form (``execution: config: ...``; examples in ``deploy/executors/``):

* ``in_process`` (default): every step of a run in the run's own process. A region's steps
  follow each other almost in a line, so this is the cheapest way to run one region;
* ``multiprocess``: each step in a process of its own on this machine, so the three sources
  of a region are read and standardised at the same time;
* ``celery``: each step a task for a pool of Celery workers (dagster-celery);
* ``k8s``: each step a Kubernetes Job (dagster-k8s).

Regions run side by side as separate runs whatever the executor: how many at once is the
run queue's setting in the Dagster instance (``deploy/dagster*.yaml``), and where a run's
process lives is the run launcher's (on Kubernetes, a Job per run). Steps hand their data to
each other through the warehouse (``restricted.stg_*``), so the Celery and Kubernetes
executors, whose steps run on other machines, need a warehouse they all reach (PostgreSQL).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
import yaml

from pipelines.resources import SettingsError

#: Executors by name: (module, attribute, the padu extra that installs the module).
EXECUTORS: dict[str, tuple[str, str, str | None]] = {
    "in_process": ("dagster", "in_process_executor", None),
    "multiprocess": ("dagster", "multiprocess_executor", None),
    "celery": ("dagster_celery", "celery_executor", "celery"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "k8s"),
}
#: Executors whose steps run in other processes on other machines: no embedded warehouse.
DISTRIBUTED = frozenset({"celery", "k8s"})


class ExecutorSettingsError(SettingsError):
    """The executor settings name an unknown executor or do not fit it."""


def executor_settings(path: Path) -> dict[str, Any]:
    """The executor's settings in a run-config file (``execution: config: {...}``)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ExecutorSettingsError(f"cannot read the executor settings {path}: {err}") from None
    execution = document.get("execution") if isinstance(document, Mapping) else None
    settings = execution.get("config", {}) if isinstance(execution, Mapping) else None
    if not isinstance(settings, Mapping) or set(document) - {"execution"}:
        raise ExecutorSettingsError(
            f"{path}: expected only `execution: config: {{...}}` (the executor's settings)"
        )
    return dict(settings)


def choose_executor(
    name: str | None, settings_file: str | None, warehouse_url: str
) -> dg.ExecutorDefinition:
    """The executor ``name`` (default ``in_process``) with the settings in ``settings_file``,
    checked against the executor's own schema; refused for a warehouse it cannot use."""
    name = name or "in_process"
    if name not in EXECUTORS:
        raise ExecutorSettingsError(
            f"unknown executor {name!r} (PADU_EXECUTOR): one of {', '.join(EXECUTORS)}"
        )
    if name in DISTRIBUTED and sa.engine.make_url(warehouse_url).get_backend_name() == "duckdb":
        raise ExecutorSettingsError(
            f"the {name} executor runs steps on other machines, which cannot share an embedded "
            "DuckDB file: set PADU_WAREHOUSE_URL to a PostgreSQL warehouse"
        )
    module, attribute, extra = EXECUTORS[name]
    try:
        executor: dg.ExecutorDefinition = getattr(importlib.import_module(module), attribute)
    except ImportError:
        raise ExecutorSettingsError(
            f"the {name} executor needs {module.replace('_', '-')}: pip install 'padu[{extra}]'"
        ) from None
    if not settings_file:
        return executor
    settings = executor_settings(Path(settings_file))
    _check(executor, settings, Path(settings_file))
    return executor.configured(settings, name=executor.name)


def _check(executor: dg.ExecutorDefinition, settings: dict[str, Any], path: Path) -> None:
    """Validate ``settings`` against the executor's schema, as a run would."""

    @dg.op
    def step() -> None: ...

    @dg.job(executor_def=executor)
    def probe() -> None:
        step()

    try:
        dg.validate_run_config(probe, {"execution": {"config": settings}})
    except dg.DagsterInvalidConfigError as err:
        problems = "; ".join(e.message for e in err.errors)
        raise ExecutorSettingsError(f"{path}: not settings of the {executor.name} executor: "
                                    f"{problems}") from None  # fmt: skip
