"""Bringing the warehouse's schema up to date: migrations, the statisticians' views and, on
PostgreSQL, the grants of padu's roles.

On PostgreSQL a schema that is already current is only read, so that runs of different regions
starting at once do not queue for the catalog; any work is done under a lock all of padu's
connections share.
"""

from __future__ import annotations

import sqlalchemy as sa

from connectors.warehouse import roles
from connectors.warehouse.migrate import current, head, upgrade
from connectors.warehouse.views import VIEW_COMMENTS, VIEWS


def bring_up_to_date(connection: sa.Connection, backend: str, refresh: bool = False) -> None:
    """Migrate ``connection``'s warehouse to the newest revision and (re-)create its views, in
    the connection's transaction; ``Warehouse.create_tables`` says when and why."""
    if backend == "postgresql":
        if not refresh and _schema_is_current(connection):
            return
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "padu:schema"}
        )
    upgrade(connection)
    for view in VIEWS:
        connection.execute(sa.text(view))
    if backend == "postgresql":
        for name, comment in VIEW_COMMENTS.items():
            connection.execute(sa.text(f"COMMENT ON VIEW {name} IS '{comment}'"))
        if roles.roles_exist(connection):
            roles.grant(connection)  # tables a migration added get their grants too


def _schema_is_current(connection: sa.Connection) -> bool:
    """PostgreSQL: the schema is at the newest revision, every view has this padu's
    definition (its comment names it), and the roles' grants are in place."""
    if current(connection) != head():
        return False
    comments: dict[str, str | None] = dict(
        connection.execute(
            sa.text(
                "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'v'"
            )
        ).all()
    )
    if any(comments.get(name) != comment for name, comment in VIEW_COMMENTS.items()):
        return False
    return not roles.roles_exist(connection) or roles.defaults_granted(connection)
