"""The ``padu`` command: generate synthetic extracts, run the pipeline, run the demo."""

from __future__ import annotations

import fcntl
import os
import re
import sys
import time
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Literal

import click

from pipelines.warehouse_cli import warehouse

DEFAULT_DEMO_DIR = Path("data") / "demo"
DEFAULT_DEMO_REGION = "6309"  # Kab. Tabalong, Kalimantan Selatan


def _snapshot(value: str | None) -> date:
    if value is None:
        return date(2026, 11, 1)
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYYMMDD form") from None


_ARGUMENTS = "padu.arguments"
#: A URL in an error's message, which may hold a password.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
#: The longest summary of an unexpected error shown (its traceback is for --debug).
_SUMMARY_CHARACTERS = 500


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that say what is wrong with the settings, files or servers padu was given:
    shown as their message alone."""
    from connectors.landing.deployment import DeploymentError
    from connectors.landing.folder import MissingExtractsError
    from connectors.reference.regions import UnknownRegionError
    from connectors.warehouse.engine import UnsupportedWarehouseError, WarehouseConnectionError
    from connectors.warehouse.migrate import MigrationError
    from connectors.warehouse.region_lock import RegionBusyError
    from connectors.warehouse.review import ReviewError
    from connectors.warehouse.roles import RoleError
    from pipelines.rekey import RekeyError
    from pipelines.resources import SettingsError

    return (
        SettingsError, DeploymentError, UnsupportedWarehouseError, WarehouseConnectionError,
        MigrationError, RoleError, RegionBusyError, MissingExtractsError, UnknownRegionError,
        ReviewError, RekeyError,
        OSError,  # a file or folder missing or not allowed, a server not reached, a lock wait
    )  # fmt: skip


def _scrubbed(text: str, arguments: Iterable[str]) -> str:
    """``text`` without the secrets of any URL on the command line, in the environment
    (PADU_WAREHOUSE_URL, a source database's variable) or in ``text`` itself."""
    from connectors.redaction import scrub

    urls = [a.split("=", 1)[-1] if a.startswith("--") else a for a in arguments]
    urls += list(os.environ.values())
    urls += _URL_IN_TEXT.findall(text)
    return scrub(text, *sorted({u for u in urls if "://" in u}, key=len, reverse=True))


class _Unexpected(click.ClickException):
    """An error padu did not expect: a one-line summary, and how to see more."""

    def show(self, file: IO[Any] | None = None) -> None:
        super().show(file)
        click.echo(
            "run again with --debug (padu --debug COMMAND ...) for the traceback",
            file=file,
            err=file is None,
        )


def _reported(err: Exception, arguments: Iterable[str]) -> click.ClickException:
    """How ``err`` is shown: an expected error by its message; any other by its type and its
    message on one line (a database error without its statement and parameters, which may
    quote data)."""
    import sqlalchemy as sa

    if isinstance(err, _expected_errors()):
        return click.ClickException(_scrubbed(str(err), arguments))
    message = str(err.orig) if isinstance(err, sa.exc.StatementError) and err.orig else str(err)
    summary = " ".join(_scrubbed(message, arguments).split())
    if len(summary) > _SUMMARY_CHARACTERS:
        summary = summary[: _SUMMARY_CHARACTERS - 3] + "..."
    return _Unexpected(f"{type(err).__name__}: {summary}" if summary else type(err).__name__)


class _Padu(click.Group):
    """The ``padu`` command. An error padu expects (settings, the deployment file, the
    warehouse URL or its server, a busy region, missing files, ...) prints its message, any
    other a one-line summary; neither shows a password. With ``--debug`` every error shows
    its whole traceback instead, for a bug report."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGUMENTS] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as err:
            if ctx.params.get("debug"):
                raise
            raise _reported(err, ctx.meta.get(_ARGUMENTS, ())) from None


@click.group(cls=_Padu, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--debug", is_flag=True,
    help="On an error, show its full traceback (for a bug report) instead of a summary.",
)  # fmt: skip
def main(debug: bool) -> None:
    """padu: reconcile Disdukcapil, KPU and BPS resident lists into one resident table."""


@main.command()
@click.option("--region", required=True, help="Kemendagri kab/kota code, 4 digits (e.g. 6309).")
@click.option("--people", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same files.")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Landing folder to write."
)
@click.option("--snapshot", help="Snapshot date YYYYMMDD (default 20261101).")
@click.option("--kpu-format", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option(
    "--truth",
    type=click.Path(path_type=Path),
    help="Where to write truth.csv (default: next to the landing folder, OUT/../truth.csv).",
)
def generate(
    region: str,
    people: int,
    seed: int,
    out: Path,
    snapshot: str | None,
    kpu_format: Literal["csv", "xlsx"],
    truth: Path | None,
) -> None:
    """Write synthetic Disdukcapil, KPU and BPS extracts for a kab/kota, with the truth."""
    from connectors.reference.regions import UnknownRegionError

    run_generator = _synthetic_generator()
    started = time.perf_counter()
    try:
        summary = run_generator(
            region=region,
            people=people,
            seed=seed,
            out=out,
            snapshot=_snapshot(snapshot),
            truth=truth,
            kpu_format=kpu_format,
        )
    except UnknownRegionError as err:
        raise click.ClickException(str(err)) from None
    elapsed = time.perf_counter() - started
    click.echo(f"generated {people:,} people for {region} in {elapsed:.1f} s")
    for path, rows in summary.rows_per_file.items():
        click.echo(f"  {Path(path).name}: {rows:,} rows")
    click.echo(f"  truth: {summary.truth_path}")


def _synthetic_generator():  # type: ignore[no-untyped-def]
    """The generator of ``padu generate``: an optional part of padu (the ``synthetic`` extra),
    imported only when asked for, so a production install does without Faker."""
    try:
        from synthetic import generate as run_generator
    except ModuleNotFoundError as err:
        raise click.ClickException(
            f"the synthetic-data generator needs {err.name!r}, which is not installed: "
            "install padu with its extra, pip install 'padu[synthetic]'"
        ) from None
    return run_generator


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


def _run_cross_region(landing, warehouse, echo, settings) -> bool:  # type: ignore[no-untyped-def]
    """The cross-region pass, when the warehouse holds more than one region."""
    import dagster as dg

    from connectors.warehouse import summaries
    from connectors.warehouse.engine import Warehouse
    from pipelines.assets.cross_region import cross_region_links
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
        result = dg.materialize(
            [cross_region_links], resources=resources, instance=_instance(),
            raise_on_error=False,
            tags={"padu/started_by": f"padu run ({os.environ.get('USER', 'unknown')})"},
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
    import dagster as dg

    from connectors.redaction import scrub, url_for_display
    from connectors.warehouse import summaries
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.region_lock import RegionBusyError, region_run
    from pipelines.definitions import ALL_ASSETS, ALL_CHECKS
    from pipelines.resources import WarehouseResource
    from pipelines.run_audit import record_failure

    resources = _resources(landing, warehouse, settings)
    warehouse_resource = resources["warehouse"]
    assert isinstance(warehouse_resource, WarehouseResource)
    url = warehouse_resource.target()
    instance = _instance()
    started = time.perf_counter()
    try:
        with region_run(Warehouse(url), kab.kemendagri_code):
            result = dg.materialize(
                [*ALL_ASSETS, *ALL_CHECKS],
                resources=resources,
                instance=instance,
                partition_key=kab.compact_code,
                raise_on_error=False,
                tags={"padu/started_by": f"padu run ({os.environ.get('USER', 'unknown')})"},
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
    store = Warehouse(url)
    audit = summaries.current_files(store, kab.kemendagri_code)
    residents = summaries.resident_count(store, kab.kemendagri_code)
    checks = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    echo(f"\npadu run {result.run_id} for {kab.kemendagri_code} {kab.name}: {elapsed:.1f} s")
    for row in audit.itertuples():
        again = "" if row.run_id == result.run_id else " (already loaded; not read again)"
        echo(
            f"  {row.source_file}: read {row.rows_read:,}, loaded {row.rows_loaded:,}, "
            f"quarantined {row.rows_quarantined:,}{again}"
        )
    echo(
        f"  total: read {int(audit.rows_read.sum()):,}, loaded {int(audit.rows_loaded.sum()):,},"
        f" quarantined {int(audit.rows_quarantined.sum()):,}; residents {residents:,}"
    )
    import pandas as pd

    refused = summaries.refused_in_run(store, result.run_id)
    for row in refused.itertuples():
        echo(
            f"  STALE {row.source}: stays on {row.current_file} of "
            f"{pd.Timestamp(row.stale_since).date().isoformat()}; {row.source_file} refused: "
            f"{row.reason}"
        )
    for check in checks:
        verdict = (
            "passed"
            if check.passed
            else ("WARNING" if check.severity == dg.AssetCheckSeverity.WARN else "FAILED")
        )
        echo(f"  check {check.asset_key.to_user_string()}.{check.check_name}: {verdict}")
    echo(f"  warehouse: {url_for_display(url)}")
    return all(c.passed or c.severity == dg.AssetCheckSeverity.WARN for c in checks)


@main.command()
@click.option(
    "--landing", type=click.Path(path_type=Path, file_okay=False),
    help="Landing folder (default: the deployment file's).",
)  # fmt: skip
@click.option(
    "--sources", type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Deployment file naming each region's sources (databases, URLs, folder); "
    "default: $PADU_SOURCES.",
)  # fmt: skip
@click.option("--full-refresh", is_flag=True, help="Database sources: pull whole tables.")
@click.option("--warehouse", help="SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb).")
@click.option("--region", help="Kab/kota code (6309); default: every region with extracts.")
@click.option(
    "--mapping-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder of <source>.yaml column mappings overriding the defaults.",
)
@click.option(
    "--reload", is_flag=True,
    help="Read every file again, even those already loaded (e.g. after a mapping change).",
)  # fmt: skip
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True,
    help="Regions run side by side, each in a process of its own (about one per core; "
    "each needs the memory of its region's run).",
)  # fmt: skip
def run(
    landing: Path | None, sources: Path | None, full_refresh: bool, warehouse: str | None,
    region: str | None, mapping_dir: Path | None, reload: bool, workers: int,
) -> None:  # fmt: skip
    """Pull what the deployment file says to pull, load the newest extracts in the landing
    folder, link them and publish the warehouse tables, one run per region (with --workers,
    several regions at a time)."""
    sources = sources or (Path(os.environ["PADU_SOURCES"]) if os.environ.get("PADU_SOURCES")
                          else None)  # fmt: skip
    if landing is not None and not landing.is_dir():
        raise click.BadParameter(
            f"{landing} does not exist or is not a folder", param_hint="--landing"
        )
    ok = run_pipeline(landing, warehouse, region, mapping_dir, reload=reload, sources=sources,
                      full_refresh=full_refresh, workers=workers)  # fmt: skip
    if not ok:
        sys.exit(1)


@main.command()
@click.option("--people", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--region", default=DEFAULT_DEMO_REGION, show_default=True)
@click.option(
    "--dir", "folder", type=click.Path(path_type=Path), default=DEFAULT_DEMO_DIR, show_default=True
)
@click.option("--warehouse", help="SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb).")
@click.pass_context
def demo(
    ctx: click.Context, people: int, seed: int, region: str, folder: Path, warehouse: str | None
) -> None:
    """Generate a synthetic region into DIR/landing and run the whole pipeline on it."""
    landing = folder / "landing"
    if landing.exists():
        for old in landing.iterdir():
            if old.is_file():
                old.unlink()
    ctx.invoke(
        generate,
        region=region,
        people=people,
        seed=seed,
        out=landing,
        snapshot=None,
        kpu_format="csv",
        truth=None,
    )
    if not run_pipeline(landing, warehouse, region):
        sys.exit(1)


def _existing_warehouse(warehouse: str | None) -> str:
    """The URL of the warehouse a command reads (``--warehouse``, else the default), refused
    when it names an embedded DuckDB file that does not exist: opening it would create an
    empty warehouse there, and the command would report on nothing."""
    import sqlalchemy as sa

    from connectors.warehouse.engine import default_url

    url = warehouse or default_url()
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return url  # not a URL: the warehouse says so when it is opened
    database = parsed.database
    embedded = parsed.get_backend_name() == "duckdb" and database not in (None, "", ":memory:")
    if embedded and not Path(str(database)).is_file():
        raise click.ClickException(
            f"no warehouse at {database}: the file does not exist (give --warehouse with "
            "the URL of an existing warehouse, or create one with padu run)"
        )
    return url


@main.command()
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=Path("data") / "report",
    show_default=True, help="Folder for report.html and the CSV exports.",
)  # fmt: skip
@click.option("--warehouse", help="SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb).")
@click.option("--region", help="Kab/kota code (63.09) to restrict to.")
def report(out: Path, warehouse: str | None, region: str | None) -> None:
    """Write the auditor's report: one offline HTML page with charts, plus CSV exports."""
    from connectors.report.page import build_report
    from connectors.warehouse.engine import Warehouse

    path = build_report(Warehouse(_existing_warehouse(warehouse)), out, region)
    click.echo(f"report: {path}")


@main.group()
def review() -> None:
    """Clerical review: pairs the model was unsure about, and your decisions on them."""


@review.command("list")
@click.option("--warehouse", help="SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def review_list(warehouse: str | None, limit: int) -> None:
    """Show the pairs waiting for review, most likely matches first."""
    from connectors.warehouse import summaries
    from connectors.warehouse.engine import Warehouse

    store = Warehouse(_existing_warehouse(warehouse))
    store.create_tables()
    pairs = summaries.waiting_pairs(store, limit)
    if pairs.empty:
        click.echo("nothing to review")
    for row in pairs.itertuples():
        click.echo(
            f"{row.left_file}:{row.left_row}  {row.right_file}:{row.right_row}  "
            f"p={row.match_probability:.3f}  {row.explanation}"
        )


def _row_ref(value: str) -> tuple[str, int]:
    file, sep, row = value.rpartition(":")
    if not sep or not row.isdigit():
        raise click.BadParameter(f"{value!r}: expected FILE:ROW, e.g. kpu_dpt_6309_20261101.csv:17")
    return file, int(row)


@review.command("decide")
@click.argument("left")
@click.argument("right")
@click.argument("decision", type=click.Choice(["match", "no_match"]))
@click.option("--by", "decided_by", help="Who decided (default: $USER; required without it).")
@click.option(
    "--yes", "-y", is_flag=True,
    help="Record without asking, even when the rows speak against the decision (scripts).",
)  # fmt: skip
@click.option("--warehouse", help="SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb).")
def review_decide(
    left: str, right: str, decision: str, decided_by: str | None, yes: bool,
    warehouse: str | None,
) -> None:  # fmt: skip
    """Record that source rows LEFT and RIGHT (FILE:ROW) are or are not one person.

    Both rows are shown first (name, sex, birth date, desa, and whether their NIKs agree;
    never the NIK or KK number). When they speak strongly against the decision (for a match:
    different sex, birth dates years apart or different NIKs; for no_match: the same NIK),
    you are asked to confirm; --yes skips the question.

    The decision is kept in the review_decision table and applied by every later run,
    also to later snapshots of the same records.
    """
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.review import ReviewError, pair_evidence, record_decision

    by = (decided_by or os.environ.get("USER") or "").strip()
    if not by:
        raise click.UsageError("say who decided with --by NAME ($USER is not set)")
    left_ref, right_ref = _row_ref(left), _row_ref(right)
    store = Warehouse(_existing_warehouse(warehouse))
    try:
        evidence = pair_evidence(store, left_ref, right_ref)
        click.echo(f"left:  {evidence.left.describe()}")
        click.echo(f"right: {evidence.right.describe()}")
        click.echo(f"NIKs:  {evidence.nik_text()}")
        against = evidence.against(decision)
        if against:
            click.echo(f"These rows speak against {decision}: " + "; ".join(against) + ".")
            if not yes and not click.confirm(f"Record {decision} anyway?", default=False):
                click.echo("nothing recorded")
                raise click.Abort
        record_decision(store, left_ref, right_ref, decision, by)
    except ReviewError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.dispose()
    click.echo(f"recorded: {left} and {right}: {decision} by {by} (applied from the next run)")


@main.command()
@click.option(
    "--truth", type=click.Path(path_type=Path, dir_okay=False, exists=True), required=True,
    help="CSV with file,row,person_id (as padu generate writes).",
)  # fmt: skip
@click.option("--warehouse", help="SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb).")
@click.option("--region", help="Kab/kota code (63.09) to restrict to.")
def evaluate(truth: Path, warehouse: str | None, region: str | None) -> None:
    """Pairwise precision, recall, F1 and exactly-right persons against a truth file."""
    from pipelines.evaluate import evaluate as run_evaluation

    result = run_evaluation(truth, _existing_warehouse(warehouse), region)
    click.echo(f"persons:             {result.persons:,}")
    click.echo(f"true pairs:          {result.true_pairs:,}")
    click.echo(f"predicted pairs:     {result.predicted_pairs:,}")
    click.echo(f"precision:           {result.precision:.4f}")
    click.echo(f"recall:              {result.recall:.4f}")
    click.echo(f"F1:                  {result.f1:.4f}")
    click.echo(f"persons exactly right: {result.exact_share:.2%}")


@main.command()
@click.option(
    "--source", type=click.Choice(["dukcapil", "kpu", "bps"]), required=True,
    help="Whose snapshots to purge.",
)  # fmt: skip
@click.option("--before", required=True, help="Purge snapshots dated before this day, YYYY-MM-DD.")
@click.option("--region", help="Kab/kota (63.09); default: every region.")
@click.option("--warehouse", help="SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb).")
def purge(source: str, before: str, region: str | None, warehouse: str | None) -> None:
    """Remove superseded snapshots of SOURCE older than BEFORE, and the rows derived from
    them; the current state is kept. What was removed is recorded in run_audit."""
    from connectors.reference.regions import UnknownRegionError, kabupaten
    from connectors.schema import Source
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.retention import purge as run_purge

    try:
        day = date.fromisoformat(before)
    except ValueError:
        raise click.BadParameter(f"{before!r} is not YYYY-MM-DD", param_hint="--before") from None
    try:
        code = kabupaten(region).kemendagri_code if region else None
    except UnknownRegionError as err:
        raise click.ClickException(str(err)) from None
    store = Warehouse(_existing_warehouse(warehouse))
    try:
        done = run_purge(store, Source(source), day, code, os.environ.get("USER", "unknown"))
    finally:
        store.dispose()
    click.echo(f"purged {len(done.files)} superseded {source} snapshot(s) dated before {day}")
    for name in done.files:
        click.echo(f"  {name}")
    for table, rows in done.rows.items():
        click.echo(f"  {table}: {rows:,} rows removed")


@main.command()
@click.option(
    "--new-key-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True, help="File holding the new pseudonym key (at least 32 bytes).",
)  # fmt: skip
@click.option("--warehouse", help="SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb).")
def rekey(new_key_file: Path, warehouse: str | None) -> None:
    """Rotate the pseudonym key: re-pseudonymise the warehouse with the key in NEW_KEY_FILE,
    keeping resident IDs and review decisions. The key in use is read from
    PADU_PSEUDONYM_KEY_FILE or PADU_PSEUDONYM_KEY, else it is padu's own key file beside an
    embedded DuckDB warehouse. Configure the new one there afterwards; padu's own key file is
    given the new key itself."""
    from connectors.warehouse.engine import Warehouse, default_url
    from pipelines.rekey import RekeyError
    from pipelines.rekey import rekey as run_rekey
    from pipelines.resources import SettingsError, install_own_key, key_problem, pseudonym_key

    url = warehouse or default_url()
    try:
        in_use = pseudonym_key(url)
        if in_use.is_new():
            raise click.ClickException(
                f"no pseudonym key is configured, and padu's own key file {in_use.own_key_file} "
                "does not exist: there is no key in use to rotate"
            )
        current = in_use.read()
    except SettingsError as err:
        raise click.ClickException(str(err)) from None
    new = new_key_file.read_bytes().strip()
    problem = key_problem(new)
    if problem:
        raise click.ClickException(f"{new_key_file}: {problem}")
    store = Warehouse(_existing_warehouse(url))
    try:
        done = run_rekey(store, current, new)
    except RekeyError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.dispose()
    click.echo(
        f"rekeyed {done.record_keys:,} record keys in {done.files} files, "
        f"{done.nik_pseudonyms:,} NIK pseudonyms, {done.decisions:,} review decisions "
        f"({done.decisions_kept:,} on purged records kept as they were)"
    )
    if in_use.own_key_file:
        install_own_key(Path(in_use.own_key_file), new)
        click.echo(f"padu's own key file {in_use.own_key_file} now holds the new key")
    else:
        click.echo(f"now configure the new key: PADU_PSEUDONYM_KEY_FILE={new_key_file}")


main.add_command(warehouse)


if __name__ == "__main__":  # pragma: no cover
    main()
