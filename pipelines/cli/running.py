"""``padu run``: one Dagster run of the region job per region, in this process or side by side
in worker processes, then the cross-region pass; each run's summary printed."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import click

from pipelines.cli.summary import print_summary


def run_pipeline(
    landing: Path | None,
    warehouse: str | None,
    region: str | None,
    mapping_dir: Path | None = None,
    echo=click.echo,  # type: ignore[no-untyped-def]
    reload: bool = False,
    sources: Path | None = None,
    full_refresh: bool = False,
    workers: int = 1,
) -> bool:
    """Materialise every asset for each region (``region``; else those of the deployment file
    ``sources``; else those with extracts in ``landing``), one run per region; print a
    summary. True if every run succeeded. With ``workers`` above 1, that many regions run
    side by side, each in a process of its own."""
    from connectors.landing.deployment import DeploymentError, load_deployment
    from connectors.landing.folder import describe_missing, regions_present, scan
    from connectors.reference.regions import UnknownRegionError, kabupaten
    from pipelines.resources import SettingsError

    try:
        deployment = load_deployment(sources) if sources else None
    except DeploymentError as err:
        raise click.ClickException(str(err)) from None
    if landing is None:
        if deployment is None:
            raise click.ClickException("give --landing, or --sources with a landing folder")
        landing = Path(deployment.landing)
    if region:
        try:
            kabs = [kabupaten(region)]
        except UnknownRegionError as err:
            raise click.ClickException(str(err)) from None
    elif deployment is not None:
        kabs = [kabupaten(code) for code in sorted(deployment.regions)]
    else:
        extracts, ignored = scan(landing)
        kabs = regions_present(extracts)
        if not kabs:
            found = describe_missing(landing, {}, extracts, ignored)
            raise click.ClickException(
                f"no agency extracts found in {landing}" + (f"\n{found}" if found else "")
            )
    settings = {"mapping_dir": mapping_dir, "reload": reload, "sources": sources,
                "full_refresh": full_refresh}  # fmt: skip
    ok = True
    try:
        _check_before_running(landing, warehouse, kabs, deployment, settings)
        if workers > 1 and len(kabs) > 1:
            ok = _run_regions_side_by_side(landing, warehouse, kabs, echo, settings, workers)
        else:
            for kab in kabs:
                ok = _run_region(landing, warehouse, kab, echo, settings) and ok
        ok = _run_cross_region(landing, warehouse, echo, settings) and ok
    except SettingsError as err:
        raise click.ClickException(str(err)) from None
    return ok


def _check_before_running(landing, warehouse, kabs, deployment, settings) -> None:  # type: ignore[no-untyped-def]
    """Refuse before any run starts, with nothing read: settings that do not allow a run
    (``SettingsError``), a region without an extract of a source delivered into the landing
    folder (what was ignored there and why, and the name expected), a warehouse server that
    refuses the connection or cannot be reached."""
    from connectors.landing.folder import MissingExtractsError, check_extracts
    from connectors.schema import Source
    from connectors.warehouse.engine import Warehouse
    from pipelines.resources import WarehouseResource

    resources = _resources(landing, warehouse, settings)
    needed = {}
    for kab in kabs:
        # A source the deployment file has padu pull is written into the folder by the run.
        origins = deployment.region(kab.compact_code) if deployment else None
        needed[kab] = [s for s in Source if origins is None or origins.origin(s).kind == "folder"]
    try:
        check_extracts(landing, needed)
    except MissingExtractsError as err:
        details = "\n".join(f"  {line}" for line in str(err).splitlines())
        raise click.ClickException(f"no run started, nothing was read:\n{details}") from None
    warehouse_resource = resources["warehouse"]
    assert isinstance(warehouse_resource, WarehouseResource)
    store = Warehouse(warehouse_resource.target())
    try:
        store.check_connection()
    finally:
        store.dispose()


def _started_by() -> dict[str, str]:
    return {"padu/started_by": f"padu run ({os.environ.get('USER', 'unknown')})"}


def _run_cross_region(landing, warehouse, echo, settings) -> bool:  # type: ignore[no-untyped-def]
    """The cross-region pass, when the warehouse holds more than one region."""

    from connectors.warehouse import summaries
    from connectors.warehouse.engine import Warehouse
    from pipelines.automation.schedules import cross_region_job
    from pipelines.definitions import job
    from pipelines.resources import WarehouseResource

    resources = _resources(landing, warehouse, settings)
    warehouse_resource = resources["warehouse"]
    assert isinstance(warehouse_resource, WarehouseResource)
    store = Warehouse(warehouse_resource.target())
    try:
        if not store.has_table("resident_link"):
            return True
        regions = summaries.linked_region_count(store)
        if regions < 2:
            return True
        started = time.perf_counter()
        result = job(cross_region_job.name, resources).execute_in_process(
            instance=_instance(), raise_on_error=False, tags=_started_by(),
        )  # fmt: skip
        if not result.success:
            echo("the cross-region pass failed; cross_region_link is unchanged")
            return False
        links = summaries.cross_region_methods(store)
        found = ", ".join(f"{m} {n:,}" for m, n in zip(links["method"], links["n"], strict=True))
        echo(
            f"cross-region pass over {regions} regions: {int(links['n'].sum()):,} residents "
            f"registered in another region ({found or 'none'}) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        return True
    finally:
        store.dispose()


def _run_regions_side_by_side(landing, warehouse, kabs, echo, settings, workers) -> bool:  # type: ignore[no-untyped-def]
    """Run each region in a fresh process (its memory is returned when it ends), ``workers``
    at a time, and print each region's summary as it finishes.

    Regions write only their own rows, so their runs do not conflict: on PostgreSQL they
    write at the same time; on an embedded DuckDB file they read, standardise and link at
    the same time and take turns for each write (``connectors.warehouse.locks``)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Refuse settings that do not allow a run (e.g. production without a key) before any
    # process starts.
    _resources(landing, warehouse, settings)
    # The workers record their runs in one Dagster instance: its storage is made here, before
    # they start, or several would make it at once.
    _instance().dispose()
    workers = min(workers, len(kabs))
    echo(f"running {len(kabs)} regions, {workers} at a time")
    ok = True
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),  # no state inherited from this one
        max_tasks_per_child=1,
    ) as pool:
        futures = {
            pool.submit(_run_region_in_worker, landing, warehouse, kab.compact_code, settings): kab
            for kab in kabs
        }
        for future in as_completed(futures):
            kab = futures[future]
            try:
                region_ok, lines = future.result()
            except Exception as err:  # the worker died (killed, out of memory) or broke down
                echo(
                    f"the run for {kab.kemendagri_code} did not finish ({type(err).__name__}); "
                    "its published tables are unchanged"
                )
                ok = False
                continue
            for line in lines:
                echo(line)
            ok = region_ok and ok
    return ok


def _run_region_in_worker(landing, warehouse, code, settings) -> tuple[bool, list[str]]:  # type: ignore[no-untyped-def]
    """One region's run in a worker process; returns its verdict and its summary lines."""
    from connectors.reference.regions import kabupaten

    lines: list[str] = []
    ok = _run_region(landing, warehouse, kabupaten(code), lines.append, settings)
    return ok, lines


def _resources(landing, warehouse, settings):  # type: ignore[no-untyped-def]
    """The run's resources from ``padu run``'s options (``PADU_*`` settings fill the rest)."""
    from pipelines.definitions import build_resources

    return build_resources(
        landing=str(landing),
        warehouse_url=warehouse,
        mapping_dir=str(settings["mapping_dir"]) if settings["mapping_dir"] else None,
        reload=settings["reload"],
        sources=str(settings["sources"]) if settings["sources"] else None,
        full_refresh=settings["full_refresh"],
    )


def _instance():  # type: ignore[no-untyped-def]
    """The Dagster instance at DAGSTER_HOME when set (the UI shows its runs), else a
    temporary one."""
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral()
    Path(home).mkdir(parents=True, exist_ok=True)
    # A fresh DAGSTER_HOME gets its storage made on first use; two processes doing that at
    # once collide ("table alembic_version already exists"), so they take turns.
    descriptor = os.open(Path(home) / ".padu-instance.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        instance = dg.DagsterInstance.get()
        instance.get_runs(limit=1)
        instance.get_latest_materialization_events([])
        return instance
    finally:
        os.close(descriptor)


def _run_region(landing, warehouse, kab, echo, settings) -> bool:  # type: ignore[no-untyped-def]

    from connectors.redaction import scrub
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.region_lock import RegionBusyError, region_run
    from pipelines.automation.failure_audit import record_failure
    from pipelines.automation.schedules import sync_job
    from pipelines.definitions import job
    from pipelines.resources import WarehouseResource

    resources = _resources(landing, warehouse, settings)
    warehouse_resource = resources["warehouse"]
    assert isinstance(warehouse_resource, WarehouseResource)
    url = warehouse_resource.target()
    instance = _instance()
    started = time.perf_counter()
    try:
        with region_run(Warehouse(url), kab.kemendagri_code):
            result = job(sync_job.name, resources).execute_in_process(
                instance=instance,
                partition_key=kab.compact_code,
                raise_on_error=False,
                tags=_started_by(),
                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            )
    except RegionBusyError as err:
        echo(f"{kab.kemendagri_code} {kab.name}: {err}")
        return False
    elapsed = time.perf_counter() - started
    if not result.success:
        reasons = []
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data:
                error = event.step_failure_data.error
                reason = scrub(error.message.strip(), url) if error else "unknown error"
                reasons.append(f"{event.step_key}: {reason}")
                echo(f"failed: {event.step_key}: {reason}")
        run = instance.get_run_by_id(result.run_id)
        if run is not None:
            record_failure(url, run, instance, "; ".join(reasons) or "failed")
        echo(
            f"run {result.run_id} for {kab.kemendagri_code} failed after {elapsed:.1f} s; "
            "the published tables are unchanged"
        )
        return False
    return print_summary(url, kab, result, elapsed, echo)
