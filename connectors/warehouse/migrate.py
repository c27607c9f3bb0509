"""Schema migrations of the warehouse (Alembic; the revisions are in ``migrations`` beside this).

``upgrade`` brings a warehouse, new or existing, to a revision (the newest by default). It runs
on a connection inside the caller's transaction, or on a URL in a transaction of its own.
A warehouse made before migrations existed (padu's tables, no ``alembic_version``) is adopted
first: it is recorded at the initial revision (``adopt``) and then upgraded like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.pool import NullPool

import connectors.warehouse.migrations  # also registers Alembic's implementation for DuckDB
from connectors.warehouse import locks
from connectors.warehouse.connection import connect, engine_url

MIGRATIONS = Path(connectors.warehouse.migrations.__file__).parent
INITIAL = "0001"
VERSION_TABLE = "alembic_version"
#: The tables of revision INITIAL: the schema the earlier ``metadata.create_all`` path made.
INITIAL_TABLES = frozenset({
    "resident", "resident_link", "quarantine", "load_audit", "review_queue", "review_decision",
    "resident_history", "discrepancy", "quality_result",
})  # fmt: skip


class MigrationError(RuntimeError):
    """The warehouse cannot be migrated as asked."""


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration for padu's migrations, without an ``alembic.ini``; commands
    run on ``connection`` when one is given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision of the migration scripts."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise MigrationError(
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads)) or 'none'}); "
            "every revision must follow exactly one other (set its down_revision)"
        )
    return heads[0]


def current(target: sa.Connection | str) -> str | None:
    """The warehouse's revision; None when it has none (new, or made before migrations)."""
    if isinstance(target, str):
        if _missing_duckdb_file(target):
            return None
        with _connect(target) as connection:
            return current(connection)
    return MigrationContext.configure(target).get_current_revision()


def predates_migrations(connection: sa.Connection) -> bool:
    """True for a warehouse made by ``metadata.create_all``: padu's tables, no version table."""
    tables = set(sa.inspect(connection).get_table_names())
    return VERSION_TABLE not in tables and bool(tables & INITIAL_TABLES)


def adopt(connection: sa.Connection) -> bool:
    """Record a warehouse made before migrations at the initial revision, so that upgrading
    runs only the later ones. One with every initial table is stamped; one that lacks some
    (made by an older padu) gets them from the initial revision, which skips existing tables.
    False when there was nothing to adopt."""
    if not predates_migrations(connection):
        return False
    config = alembic_config(connection)
    if INITIAL_TABLES.issubset(sa.inspect(connection).get_table_names()):
        command.stamp(config, INITIAL)
    else:
        command.upgrade(config, INITIAL)
    return True


def upgrade(target: sa.Connection | str, revision: str = "head") -> None:
    """Migrate the warehouse to ``revision`` (the newest by default), adopting one made before
    migrations. On a connection in a transaction, this joins the transaction: nothing is
    committed, and a rollback undoes the migration. Otherwise (a URL, or a connection outside
    a transaction) it commits when every revision ran."""
    if isinstance(target, str):
        with _connect(target) as connection:
            upgrade(connection, revision)
        return
    if not target.in_transaction():
        with target.begin():
            upgrade(target, revision)
        return
    _check_known(target)
    adopt(target)
    try:
        command.upgrade(alembic_config(target), revision)
    except CommandError as err:
        raise MigrationError(f"cannot upgrade the warehouse to {revision!r}: {err}") from err


def _check_known(connection: sa.Connection) -> None:
    """Refuse a warehouse migrated by a newer padu: its revision is not among the scripts."""
    revision = current(connection)
    if revision is None:
        return
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        raise MigrationError(
            f"the warehouse is at revision {revision!r}, which this padu does not know "
            f"(its newest is {head()!r}): it was migrated by a newer padu; upgrade padu"
        ) from None


def _missing_duckdb_file(url: str) -> bool:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb":
        return False
    database = parsed.database
    return bool(database) and database != ":memory:" and not Path(str(database)).exists()


@contextmanager
def _connect(url: str) -> Iterator[sa.Connection]:
    url = engine_url(url)
    parsed = sa.engine.make_url(url)
    turn: AbstractContextManager[None] = nullcontext()
    if parsed.get_backend_name() == "duckdb" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        turn = locks.exclusive(Path(str(parsed.database)))  # in turn with padu's runs
    # No pooling: an embedded DuckDB file stays locked while a connection is open.
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with turn, connect(engine, url) as connection:
            yield connection
    finally:
        engine.dispose()
