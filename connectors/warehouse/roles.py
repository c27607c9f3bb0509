"""Warehouse roles on PostgreSQL: who may read what.

Three group roles (NOLOGIN; grant them to people's login roles):

* ``padu_statistician`` reads the statisticians' views and the pseudonymised tables only:
  residents (with a keyed pseudonym of the NIK, never the NIK), their history, quality results,
  place names and the blocking counts (``linkage_blocking``);
* ``padu_auditor`` also reads the lineage and the auditor's lists: every table of the public
  schema (links to source files and rows, discrepancies, quarantine reasons, load and run
  audits, review queue), and writes nothing;
* ``padu_reviewer`` has the auditor's rights, and also reads the personal fields a clerical
  review needs (``restricted.source_record``) and records decisions (``review_decision``);
* ``padu_engineer`` may do everything, including reading the ``restricted`` schema, where the
  raw identifiers are.

Reviewers and auditors add to ``access_log`` (every display of a record's personal fields in
``padu serve``), which auditors and engineers read.

Nobody else (PUBLIC) can use the restricted schema, nor create anything in the public schema
(PostgreSQL before 15 lets every role create tables there, and a database upgraded from one
keeps that): only engineers may. DuckDB has no roles: an embedded warehouse is one file,
protected by the file system's permissions.
"""

from __future__ import annotations

import sqlalchemy as sa

from connectors.warehouse.tables import (
    RESTRICTED,
    access_log,
    linkage_blocking,
    metadata,
    place,
    quality_item,
    quality_result,
    resident,
    resident_history,
    review_decision,
    source_record,
)
from connectors.warehouse.views import VIEW_NAMES

STATISTICIAN = "padu_statistician"
AUDITOR = "padu_auditor"
ENGINEER = "padu_engineer"
REVIEWER = "padu_reviewer"
ROLES = (STATISTICIAN, AUDITOR, ENGINEER, REVIEWER)
#: The roles of a warehouse initialised before padu_reviewer existed. Runs keep granting them
#: (``grant`` leaves out a role that does not exist); ``padu warehouse init`` adds the reviewer.
FIRST_ROLES = (STATISTICIAN, AUDITOR, ENGINEER)
#: What a statistician may read besides the views: pseudonymised tables without lineage.
STATISTICIAN_TABLES = (
    resident.name, resident_history.name, quality_result.name, place.name, linkage_blocking.name,
)  # fmt: skip


class RoleError(RuntimeError):
    """The roles could not be created or granted."""


def roles_exist(connection: sa.Connection) -> bool:
    """padu's roles were created (``FIRST_ROLES`` at least)."""
    return _existing_roles(connection) >= set(FIRST_ROLES)


def _existing_roles(connection: sa.Connection) -> set[str]:
    found = connection.execute(
        sa.text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names)"),
        {"names": list(ROLES)},
    ).scalars()
    return set(found)


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
    """(Re)grant the roles on every table and view that exists now. Idempotent.

    In the restricted schema only padu's declared tables are granted by name: a run's working
    tables (``restricted.stg_*``), which other runs drop and re-create meanwhile, get the
    engineers' grant as they are made, from the default privileges of the connecting user."""
    views = ", ".join(VIEW_NAMES)
    declared = _restricted_tables(connection)
    restricted = ", ".join(declared)
    reviewer = REVIEWER in _existing_roles(connection)
    # Reviewers read what auditors read (and a little more: ``_reviewer_grants``).
    readers = f"{AUDITOR}, {REVIEWER}" if reviewer else AUDITOR
    statements = [
        f"REVOKE ALL ON SCHEMA {RESTRICTED} FROM PUBLIC",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {STATISTICIAN}, {readers}",
        f"GRANT SELECT ON {views}, {', '.join(STATISTICIAN_TABLES)} TO {STATISTICIAN}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {readers}",
        f"GRANT USAGE, CREATE ON SCHEMA public, {RESTRICTED} TO {ENGINEER}",
        f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ENGINEER}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {RESTRICTED} GRANT ALL ON TABLES TO {ENGINEER}",
    ]
    if restricted:
        statements[1:1] = [
            f"REVOKE ALL ON {restricted} FROM PUBLIC, {STATISTICIAN}, {readers}",
            f"GRANT ALL ON {restricted} TO {ENGINEER}",
        ]
    if _exists(connection, access_log.name):
        # Both are shown source rows in padu serve, and every display is logged.
        statements.append(f"GRANT INSERT ON {access_log.name} TO {readers}")
    if reviewer:
        statements += _reviewer_grants(connection, declared)
    for statement in statements:
        connection.execute(sa.text(statement))


def _reviewer_grants(connection: sa.Connection, restricted_tables: list[str]) -> list[str]:
    """What reviewers may do beyond what auditors may: read the records a review shows,
    record decisions, and label the quality sample.

    A decision replaces an earlier one on the same pair (``connectors.warehouse.review``
    deletes it first), hence DELETE on review_decision as well as INSERT."""
    statements = []
    if source_record.fullname in restricted_tables:
        statements += [
            f"GRANT USAGE ON SCHEMA {RESTRICTED} TO {REVIEWER}",
            f"GRANT SELECT ON {source_record.fullname} TO {REVIEWER}",
        ]
    if _exists(connection, review_decision.name):
        statements.append(f"GRANT INSERT, DELETE ON {review_decision.name} TO {REVIEWER}")
    # The clerical quality sample's items, which reviewers label (padu serve /quality/review).
    if _exists(connection, quality_item.name):
        # Only the label's columns: the design (strata, inclusion, keys) is the estimate's.
        statements += [
            f"REVOKE UPDATE ON {quality_item.name} FROM {REVIEWER}",
            f"GRANT UPDATE (label, note, decided_by, decided_at) ON {quality_item.name} "
            f"TO {REVIEWER}",
        ]
    return statements


def _exists(connection: sa.Connection, name: str) -> bool:
    return bool(connection.execute(sa.text("SELECT to_regclass(:t)"), {"t": name}).scalar())


def defaults_granted(connection: sa.Connection) -> bool:
    """True when the tables the connecting user makes in the restricted schema are granted
    to engineers as they are made (``grant`` sets this up)."""
    found = connection.execute(
        sa.text(
            "SELECT count(*) FROM pg_default_acl d "
            "JOIN pg_namespace n ON n.oid = d.defaclnamespace "
            "WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
            "AND n.nspname = :schema AND d.defaclobjtype = 'r' "
            "AND array_to_string(d.defaclacl, ',') LIKE :engineer"
        ),
        {"schema": RESTRICTED, "engineer": f"%{ENGINEER}=%"},
    ).scalar()
    return bool(found)


def _restricted_tables(connection: sa.Connection) -> list[str]:
    """padu's declared tables of the restricted schema that exist now."""
    declared = [t.fullname for t in metadata.sorted_tables if t.schema == RESTRICTED]
    return [name for name in declared if _exists(connection, name)]
