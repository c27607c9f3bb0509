"""The ``padu`` commands that generate, run, report, evaluate, purge and rekey."""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Literal

import click

from pipelines.cli.options import REGION, WAREHOUSE_HELP, existing_warehouse, snapshot_day
from pipelines.cli.running import run_pipeline

DEFAULT_DEMO_DIR = Path("data") / "demo"
DEFAULT_DEMO_REGION = "6309"  # Kab. Tabalong, Kalimantan Selatan


@click.command()
@click.option("--region", type=REGION, required=True, help="Kab/kota code: 6309 or 63.09.")
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
            snapshot=snapshot_day(snapshot),
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


@click.command()
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
@click.option("--warehouse", help=WAREHOUSE_HELP)
@click.option(
    "--region",
    type=REGION,
    help="Kab/kota code (6309 or 63.09); default: every region with extracts.",
)
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


@click.command()
@click.option("--people", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--region", type=REGION, default=DEFAULT_DEMO_REGION, show_default=True)
@click.option(
    "--dir", "folder", type=click.Path(path_type=Path), default=DEFAULT_DEMO_DIR, show_default=True
)
@click.option("--warehouse", help=WAREHOUSE_HELP)
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


@click.command()
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=Path("data") / "report",
    show_default=True, help="Folder for report.html and the CSV exports.",
)  # fmt: skip
@click.option("--warehouse", help=WAREHOUSE_HELP)
@click.option("--region", type=REGION, help="Kab/kota code (6309 or 63.09) to restrict to.")
def report(out: Path, warehouse: str | None, region: str | None) -> None:
    """Write the auditor's report: one offline HTML page with charts, plus CSV exports."""
    from connectors.report.page import build_report
    from connectors.warehouse.engine import Warehouse

    path = build_report(Warehouse(existing_warehouse(warehouse)), out, region)
    click.echo(f"report: {path}")


@click.command()
@click.option(
    "--truth", type=click.Path(path_type=Path, dir_okay=False, exists=True), required=True,
    help="CSV with file,row,person_id (as padu generate writes).",
)  # fmt: skip
@click.option("--warehouse", help=WAREHOUSE_HELP)
@click.option("--region", type=REGION, help="Kab/kota code (6309 or 63.09) to restrict to.")
def evaluate(truth: Path, warehouse: str | None, region: str | None) -> None:
    """Pairwise precision, recall, F1 and exactly-right persons against a truth file."""
    from pipelines.evaluate import evaluate as run_evaluation

    result = run_evaluation(truth, existing_warehouse(warehouse), region)
    click.echo(f"persons:             {result.persons:,}")
    click.echo(f"true pairs:          {result.true_pairs:,}")
    click.echo(f"predicted pairs:     {result.predicted_pairs:,}")
    click.echo(f"precision:           {result.precision:.4f}")
    click.echo(f"recall:              {result.recall:.4f}")
    click.echo(f"F1:                  {result.f1:.4f}")
    click.echo(f"persons exactly right: {result.exact_share:.2%}")


@click.command()
@click.option(
    "--source", type=click.Choice(["dukcapil", "kpu", "bps"]), required=True,
    help="Whose snapshots to purge.",
)  # fmt: skip
@click.option("--before", required=True, help="Purge snapshots dated before this day, YYYY-MM-DD.")
@click.option("--region", type=REGION, help="Kab/kota code (6309 or 63.09); default: every region.")
@click.option("--warehouse", help=WAREHOUSE_HELP)
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
    store = Warehouse(existing_warehouse(warehouse))
    try:
        done = run_purge(store, Source(source), day, code, os.environ.get("USER", "unknown"))
    finally:
        store.dispose()
    click.echo(f"purged {len(done.files)} superseded {source} snapshot(s) dated before {day}")
    for name in done.files:
        click.echo(f"  {name}")
    for table, rows in done.rows.items():
        click.echo(f"  {table}: {rows:,} rows removed")


@click.command()
@click.option(
    "--new-key-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True, help="File holding the new pseudonym key (at least 32 bytes).",
)  # fmt: skip
@click.option("--warehouse", help=WAREHOUSE_HELP)
def rekey(new_key_file: Path, warehouse: str | None) -> None:
    """Rotate the pseudonym key: re-pseudonymise the warehouse with the key in NEW_KEY_FILE,
    keeping resident IDs and review decisions. The key in use is read from
    PADU_PSEUDONYM_KEY_FILE or PADU_PSEUDONYM_KEY, else it is padu's own key file beside an
    embedded DuckDB warehouse. Configure the new one there afterwards; padu's own key file is
    given the new key itself."""
    from connectors.warehouse.connection import default_url
    from connectors.warehouse.engine import Warehouse
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
    store = Warehouse(existing_warehouse(url))
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
