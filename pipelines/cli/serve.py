"""``padu serve``: the reviewers' and auditors' workbench (docs/workbench.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from pipelines.cli.options import WAREHOUSE_HELP, existing_warehouse


@click.command()
@click.option("--warehouse", help=WAREHOUSE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. An embedded warehouse is served elsewhere than on "
              "this machine only with --token.")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8750, show_default=True)
@click.option("--token", envvar="PADU_SERVE_TOKEN", default=None,
              help="Embedded warehouse: an access token every sign-in must give. Prefer "
              "PADU_SERVE_TOKEN: other users of the machine can see a command line.")  # fmt: skip
@click.option(
    "--docs", "docs_dir", type=click.Path(path_type=Path, file_okay=False),
    default=lambda: os.environ.get("PADU_QUALITY_DOCS") or str(Path("data") / "quality" / "docs"),
    show_default="$PADU_QUALITY_DOCS, else data/quality/docs",
    help="The Data Docs folder the quality suites write, to link and serve its pages.",
)  # fmt: skip
@click.option(
    "--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
    default=Path("data") / "report", show_default=True,
    help="Where padu report writes report.html, to serve it.",
)  # fmt: skip
def serve(
    warehouse: str | None, host: str, port: int, token: str | None, docs_dir: Path,
    report_dir: Path,
) -> None:  # fmt: skip
    """Serve the workbench: overview, review queue, residents, discrepancies and quality.

    On PostgreSQL each person signs in with their own database role and password, and sees
    what that role may read. An embedded DuckDB warehouse has no roles: it is served on this
    machine only, unless an access token is given, which every sign-in must then give.
    """
    import uvicorn

    from workbench import ServeRefused, ServeSettings, check_binding, create_app

    url = existing_warehouse(warehouse)
    settings = ServeSettings(
        warehouse=url, host=host, port=port, token=token or None, docs_dir=docs_dir,
        report_dir=report_dir,
    )  # fmt: skip
    try:
        check_binding(settings)
    except ServeRefused as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"padu workbench on http://{host}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
