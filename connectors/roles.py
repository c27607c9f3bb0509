"""Warehouse roles on PostgreSQL: who may read what.

Three group roles (NOLOGIN; grant them to people's login roles):

* ``padu_statistician`` reads the statisticians' views and the pseudonymised tables only:
  residents (with a keyed pseudonym of the NIK, never the NIK), their history, quality results;
* ``padu_auditor`` also reads the lineage and the auditor's lists: every table of the public
  schema (links to source files and rows, discrepancies, quarantine reasons, load and run
  audits, review queue), and writes nothing;
* ``padu_engineer`` may do everything, including reading the ``restricted`` schema, where the
  raw identifiers are.

Nobody else (PUBLIC) can use the restricted schema. DuckDB has no roles: an embedded warehouse
is one file, protected by the file system's permissions.
"""

from __future__ import annotations

import sqlalchemy as sa

from connectors.tables import RESTRICTED, quality_result, resident, resident_history
from connectors.views import VIEW_NAMES

STATISTICIAN = "padu_statistician"
AUDITOR = "padu_auditor"
ENGINEER = "padu_engineer"
ROLES = (STATISTICIAN, AUDITOR, ENGINEER)
#: What a statistician may read besides the views: pseudonymised tables without lineage.
STATISTICIAN_TABLES = (resident.name, resident_history.name, quality_result.name)


class RoleError(RuntimeError):
    """The roles could not be created or granted."""


def roles_exist(connection: sa.Connection) -> bool:
    found = connection.execute(
        sa.text("SELECT count(*) FROM pg_roles WHERE rolname = ANY(:names)"),
        {"names": list(ROLES)},
    ).scalar()
    return found == len(ROLES)


def create_roles(connection: sa.Connection) -> None:
    """Create the group roles that do not exist yet, and grant them (``grant``)."""
    try:
        for role in ROLES:
            connection.execute(
                sa.text(
                    f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
                    f"THEN CREATE ROLE {role} NOLOGIN; END IF; "
                    # Another init creating it at the same moment is fine too.
                    "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
                )
            )
    except sa.exc.ProgrammingError as err:
        raise RoleError(
            "cannot create the padu roles (the connecting user needs CREATEROLE); ask a "
            "database administrator to run `padu warehouse init` once"
        ) from err
    grant(connection)


def grant(connection: sa.Connection) -> None:
    """(Re)grant the roles on every table and view that exists now. Idempotent."""
    views = ", ".join(VIEW_NAMES)
    statements = [
        f"REVOKE ALL ON SCHEMA {RESTRICTED} FROM PUBLIC",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {RESTRICTED} FROM PUBLIC, {STATISTICIAN}, {AUDITOR}",
        f"GRANT USAGE ON SCHEMA public TO {STATISTICIAN}, {AUDITOR}",
        f"GRANT SELECT ON {views}, {', '.join(STATISTICIAN_TABLES)} TO {STATISTICIAN}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {AUDITOR}",
        f"GRANT USAGE, CREATE ON SCHEMA public, {RESTRICTED} TO {ENGINEER}",
        f"GRANT ALL ON ALL TABLES IN SCHEMA public, {RESTRICTED} TO {ENGINEER}",
    ]
    for statement in statements:
        connection.execute(sa.text(statement))
