"""The Alembic environment of the warehouse.

Migrations run on the connection the caller puts in ``config.attributes["connection"]``
(inside the caller's transaction when one is open: ``warehouse.migrate`` does this), else on
a URL: ``-x url=...`` of the ``alembic`` command, else padu's default warehouse.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlalchemy.pool import NullPool

import connectors.warehouse.migrations  # noqa: F401 - registers Alembic's implementation for DuckDB
from connectors.warehouse.tables import metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from connectors.warehouse.connection import default_url

    return default_url()


def _run(connection: sa.Connection) -> None:
    # ``metadata`` is the autogenerate target only: revisions never read it.
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """``alembic upgrade --sql``: print the SQL instead of running it."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
