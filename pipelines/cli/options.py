"""What several commands share: the warehouse they read, a snapshot day, a region code."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import click

WAREHOUSE_HELP = "SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb)."


def snapshot_day(value: str | None) -> date:
    if value is None:
        return date(2026, 11, 1)
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYYMMDD form") from None


class RegionCode(click.ParamType):
    """A kab/kota code as either scheme's users write it (``6309`` or ``63.09``), given to the
    command as the Kemendagri code the warehouse stores (``63.09``)."""

    name = "region"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        from connectors.reference.regions import UnknownRegionError, kabupaten

        try:
            return kabupaten(str(value)).kemendagri_code
        except UnknownRegionError as err:
            self.fail(str(err), param, ctx)


REGION = RegionCode()


def person(by: str | None, who: str) -> str:
    """The name a command records: ``--by``, else ``$USER``; a usage error without either
    (``who``: what the message asks for, e.g. "decided")."""
    name = (by or os.environ.get("USER") or "").strip()
    if not name:
        raise click.UsageError(f"say who {who} with --by NAME ($USER is not set)")
    return name


def existing_warehouse(warehouse: str | None) -> str:
    """The URL of the warehouse a command reads (``--warehouse``, else the default), refused
    when it names an embedded DuckDB file that does not exist: opening it would create an
    empty warehouse there, and the command would report on nothing."""
    import sqlalchemy as sa

    from connectors.warehouse.connection import default_url

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
