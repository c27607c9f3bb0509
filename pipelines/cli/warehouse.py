"""``padu warehouse``: create, migrate and inspect the warehouse schema.

The schema is defined by the migrations in ``connectors/warehouse/migrations`` (Alembic revisions);
the statisticians' views are re-created after every migration, in the same transaction.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from alembic.util import CommandError

from connectors.redaction import scrub, url_for_display

_WAREHOUSE_HELP = "SQLAlchemy URL (default: duckdb:///data/warehouse.duckdb)."


def _url(value: str | None) -> str:
    from connectors.warehouse.connection import default_url

    return value or default_url()


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    return url_for_display(url)


def _scrubbed(err: Exception, url: str) -> str:
    """The error's message without the URL's password (an unparseable URL is quoted)."""
    return scrub(str(err), url)


def _migrate(url: str, with_roles: bool = False) -> None:
    """Upgrade the schema to the newest revision and re-create the views, in one transaction;
    on PostgreSQL, with ``with_roles``, create the padu roles and grant them."""
    from connectors.warehouse import migrate, roles
    from connectors.warehouse.engine import Warehouse

    try:
        store = Warehouse(url)
    except (ValueError, sa.exc.ArgumentError) as err:
        raise click.ClickException(_scrubbed(err, url)) from None
    try:
        with store.transaction() as connection:
            before = migrate.current(connection)
            adopted = migrate.adopt(connection)
            store.create_tables(connection, refresh=True)  # migrations, then the views
            if with_roles and store.backend == "postgresql":
                roles.create_roles(connection)
            after = migrate.current(connection)
    except (migrate.MigrationError, roles.RoleError, CommandError, sa.exc.SQLAlchemyError) as err:
        raise click.ClickException(f"{_shown(url)} is unchanged: {_scrubbed(err, url)}") from None
    finally:
        store.dispose()
    if adopted:
        click.echo(f"adopted a warehouse made before migrations as revision {migrate.INITIAL}")
    if before == after:
        click.echo(f"{_shown(url)}: already at the newest revision, {after}; views re-created")
    else:
        click.echo(f"{_shown(url)}: migrated from {before or 'nothing'} to revision {after}")


@click.group()
def warehouse() -> None:
    """Create and migrate the warehouse schema (connectors/warehouse/migrations)."""


@warehouse.command()
@click.option("--warehouse", "url", help=_WAREHOUSE_HELP)
@click.option(
    "--roles/--no-roles", "with_roles", default=True, show_default=True,
    help="On PostgreSQL: create the statistician, auditor, reviewer and engineer roles and "
    "grant them.",
)  # fmt: skip
def init(url: str | None, with_roles: bool) -> None:
    """Create the warehouse's tables at the newest revision, and its views; on PostgreSQL,
    the padu_statistician, padu_auditor, padu_reviewer and padu_engineer roles
    (connectors/warehouse/roles.py)."""
    _migrate(_url(url), with_roles)
    if with_roles and _url(url).startswith("postgresql"):
        click.echo(
            "roles: padu_statistician, padu_auditor, padu_reviewer, padu_engineer "
            "(grant them to users)"
        )


@warehouse.command()
@click.option("--warehouse", "url", help=_WAREHOUSE_HELP)
def upgrade(url: str | None) -> None:
    """Migrate an existing warehouse to the newest revision and re-create its views.

    A warehouse made before migrations existed is adopted first. Everything runs in one
    transaction: if a step fails, the warehouse is left as it was."""
    _migrate(_url(url))


@warehouse.command()
@click.option("--warehouse", "url", help=_WAREHOUSE_HELP)
def current(url: str | None) -> None:
    """Print the warehouse's revision and the newest one."""
    from connectors.warehouse import migrate

    target = _url(url)
    try:
        revision = migrate.current(target)
    except sa.exc.SQLAlchemyError as err:
        raise click.ClickException(
            f"cannot read {_shown(target)}: {_scrubbed(err, target)}"
        ) from None
    head = migrate.head()
    click.echo(f"warehouse: {_shown(target)}")
    click.echo(f"current: {revision or 'none'}")
    click.echo(f"head: {head}")
    if revision is None:
        click.echo("run `padu warehouse init` (or `upgrade`) to create or adopt the schema")
    elif revision != head:
        click.echo("run `padu warehouse upgrade` to migrate it")
