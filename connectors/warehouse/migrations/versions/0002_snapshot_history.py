"""Snapshot history, source changes, run audit, and the restricted schema.

load_audit keeps every file loaded (``current`` marks each source's current snapshot; the
rows already there were the current files). restricted.source_record keeps the standardised
records of every snapshot, source_change what changed between snapshots, run_audit every run;
resident_history gains the attributes of a ``changed`` event. Quarantined rows' raw text,
which may hold identifiers, moves from quarantine.raw_line to restricted.quarantine_line.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_SOURCE_RECORD_COMMENT = (
    "Restricted (raw identifiers): the standardised records of every snapshot loaded; "
    "load_audit.current tells the current one."
)
_LOAD_AUDIT_COMMENT = (
    "Every file ever loaded, kept across snapshots; a file whose checksum is here is not "
    "loaded again."
)

_QUARANTINE_COMMENT = (
    "Rows that could not be read as records, with the reason (the raw line is in "
    "restricted.quarantine_line)."
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS restricted")
    op.create_table(
        "run_audit",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=True),
        sa.Column(
            "started_by",
            sa.String(),
            nullable=True,
            comment="schedule, sensor, padu run, or a user",
        ),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("status", sa.String(), nullable=False, comment="success or failed"),
        sa.Column("inputs", sa.String(), nullable=True, comment="file: sha256 of every input"),
        sa.Column("outputs", sa.String(), nullable=True, comment="row counts published, as JSON"),
        sa.Column("message", sa.String(), nullable=True, comment="why the run failed"),
        comment="Append-only: one row per finished run.",
    )
    op.create_index(op.f("ix_run_audit_run_id"), "run_audit", ["run_id"], unique=False)
    op.create_table(
        "source_change",
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("change", sa.String(), nullable=False, comment="added, removed or changed"),
        sa.Column("record_key", sa.String(), nullable=False),
        sa.Column(
            "changed_fields",
            sa.String(),
            nullable=True,
            comment="fields that differ (names, no values)",
        ),
        sa.Column(
            "source_file",
            sa.String(),
            nullable=True,
            comment="the new snapshot (null when removed)",
        ),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column(
            "previous_file",
            sa.String(),
            nullable=True,
            comment="the superseded snapshot (null when added)",
        ),
        sa.Column("previous_row", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=False),
        comment="Append-only: per source record, what changed from one snapshot to the next.",
    )
    op.create_table(
        "source_record",
        sa.Column("source", sa.String(), nullable=True, comment="dukcapil, kpu or bps"),
        sa.Column(
            "source_file", sa.String(), nullable=False, comment="file name the row came from"
        ),
        sa.Column(
            "source_row",
            sa.BigInteger(),
            nullable=False,
            comment="1-based data row in that file (header excluded)",
        ),
        sa.Column(
            "snapshot_date", sa.Date(), nullable=True, comment="snapshot date from the file name"
        ),
        sa.Column("nik", sa.String(), nullable=True, comment="16-digit NIK, or null when unusable"),
        sa.Column(
            "nik_issue",
            sa.String(),
            nullable=True,
            comment="why the NIK is null (no value shown), or null",
        ),
        sa.Column(
            "kk",
            sa.String(),
            nullable=True,
            comment="16-digit family card number, or null when unusable",
        ),
        sa.Column(
            "kk_issue", sa.String(), nullable=True, comment="why the KK number is null, or null"
        ),
        sa.Column("name_raw", sa.String(), nullable=True, comment="name as written in the source"),
        sa.Column(
            "name_norm",
            sa.String(),
            nullable=True,
            comment="upper case, titles removed, Muhammad variants unified",
        ),
        sa.Column(
            "name_titles",
            sa.String(),
            nullable=True,
            comment="titles removed from the name, kept for display",
        ),
        sa.Column("sex", sa.String(), nullable=True, comment="M or F"),
        sa.Column("birth_date", sa.Date(), nullable=True, comment="date of birth, parsed"),
        sa.Column("birth_place", sa.String(), nullable=True, comment="place of birth, upper case"),
        sa.Column(
            "age_reported",
            sa.BigInteger(),
            nullable=True,
            comment="age in completed years as reported (BPS)",
        ),
        sa.Column(
            "marital_status",
            sa.String(),
            nullable=True,
            comment="belum_kawin, kawin, cerai_hidup, cerai_mati, pernah_kawin",
        ),
        sa.Column(
            "relation",
            sa.String(),
            nullable=True,
            comment="relation to the family head (head, spouse, child, ...)",
        ),
        sa.Column("religion", sa.BigInteger(), nullable=True, comment="Disdukcapil code 1-7"),
        sa.Column(
            "occupation",
            sa.BigInteger(),
            nullable=True,
            comment="Disdukcapil occupation code (6 TNI, 7 POLRI, ...)",
        ),
        sa.Column(
            "alive",
            sa.Boolean(),
            nullable=True,
            comment="false when the civil registry records a death",
        ),
        sa.Column(
            "mother_name", sa.String(), nullable=True, comment="mother's full name, normalised"
        ),
        sa.Column(
            "kab_code", sa.String(), nullable=True, comment="Kemendagri kab/kota code, 63.09"
        ),
        sa.Column(
            "kec_code", sa.String(), nullable=True, comment="Kemendagri kecamatan code, 63.09.01"
        ),
        sa.Column(
            "desa_code",
            sa.String(),
            nullable=True,
            comment="Kemendagri desa/kelurahan code, 63.09.01.2001",
        ),
        sa.Column("address", sa.String(), nullable=True, comment="street address"),
        sa.Column("rt", sa.BigInteger(), nullable=True, comment="RT number"),
        sa.Column("rw", sa.BigInteger(), nullable=True, comment="RW number"),
        sa.Column(
            "household",
            sa.String(),
            nullable=True,
            comment="household key within the source (KK or BPS building/family)",
        ),
        sa.Column("tps", sa.String(), nullable=True, comment="KPU polling station"),
        sa.Column("disability", sa.BigInteger(), nullable=True, comment="KPU disability code 0-6"),
        sa.Column(
            "ktp_el", sa.Boolean(), nullable=True, comment="KPU: holds an electronic ID card"
        ),
        sa.Column(
            "issues",
            sa.String(),
            nullable=True,
            comment="semicolon list of field problems found while parsing",
        ),
        sa.Column(
            "record_key", sa.String(), nullable=True, comment="keyed pseudonym of the record"
        ),
        sa.Column(
            "row_hash", sa.BigInteger(), nullable=False, comment="hash of the record's content"
        ),
        sa.Column("region", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("source_file", "source_row"),
        schema="restricted",
        comment=_SOURCE_RECORD_COMMENT,
    )
    op.create_table(
        "quarantine_line",
        sa.Column("source_file", sa.String(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column(
            "raw_line", sa.String(), nullable=True, comment="the row as read; may hold identifiers"
        ),
        sa.Column("region", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("source_file", "source_row"),
        schema="restricted",
        comment="Restricted: the raw text of each quarantined row, for engineers fixing a source.",
    )
    op.execute(
        "INSERT INTO restricted.quarantine_line (source_file, source_row, raw_line, region) "
        "SELECT source_file, source_row, raw_line, region FROM quarantine"
    )
    _drop_quarantine_raw_line()
    op.create_table_comment("quarantine", _QUARANTINE_COMMENT, existing_comment=None)
    op.add_column(
        "load_audit",
        sa.Column(
            "current",
            sa.Boolean(),
            nullable=False,
            server_default=sa.true(),
            comment="the file is its source's current snapshot for the region",
        ),
    )
    op.add_column(
        "load_audit",
        sa.Column(
            "purged_at",
            sa.DateTime(),
            nullable=True,
            comment="when padu purge removed the file's records (retention)",
        ),
    )
    op.alter_column(
        "load_audit",
        "run_id",
        existing_type=sa.VARCHAR(),
        comment="the run that loaded the file",
        existing_nullable=False,
    )
    op.create_table_comment(
        "load_audit",
        _LOAD_AUDIT_COMMENT,
        existing_comment=None,
        schema=None,
    )
    op.add_column(
        "resident_history",
        sa.Column(
            "details", sa.String(), nullable=True, comment="changed: the attributes that changed"
        ),
    )
    op.alter_column(
        "resident_history",
        "event",
        existing_type=sa.VARCHAR(),
        comment="new, merged, split, retired or changed",
        existing_comment="new, merged, split or retired",
        existing_nullable=False,
    )


def downgrade() -> None:
    # Views read the columns and tables removed here; Warehouse.create_tables re-creates them.
    op.execute("DROP VIEW IF EXISTS resident_change")
    op.alter_column(
        "resident_history",
        "event",
        existing_type=sa.VARCHAR(),
        comment="new, merged, split or retired",
        existing_comment="new, merged, split, retired or changed",
        existing_nullable=False,
    )
    # DuckDB cannot drop a column of a table with an index: drop the index around it.
    op.drop_index("ix_resident_history_resident_id", table_name="resident_history")
    op.drop_column("resident_history", "details")
    op.create_index(
        "ix_resident_history_resident_id", "resident_history", ["resident_id"], unique=False
    )
    op.drop_table_comment(
        "load_audit",
        existing_comment=_LOAD_AUDIT_COMMENT,
        schema=None,
    )
    op.alter_column(
        "load_audit",
        "run_id",
        existing_type=sa.VARCHAR(),
        comment=None,
        existing_comment="the run that loaded the file",
        existing_nullable=False,
    )
    op.drop_column("load_audit", "purged_at")
    op.drop_column("load_audit", "current")
    op.drop_table_comment("quarantine", existing_comment=_QUARANTINE_COMMENT)
    op.add_column(
        "quarantine",
        sa.Column(
            "raw_line",
            sa.String(),
            nullable=True,
            comment="the row as read; restricted: may hold identifiers",
        ),
    )
    op.execute(
        "UPDATE quarantine SET raw_line = (SELECT l.raw_line FROM restricted.quarantine_line l "
        "WHERE l.source_file = quarantine.source_file AND l.source_row = quarantine.source_row)"
    )
    op.drop_table("quarantine_line", schema="restricted")
    op.drop_table("source_record", schema="restricted")
    op.execute("DROP SCHEMA IF EXISTS restricted")
    op.drop_table("source_change")
    op.drop_index(op.f("ix_run_audit_run_id"), table_name="run_audit")
    op.drop_table("run_audit")


def _drop_quarantine_raw_line() -> None:
    op.drop_column("quarantine", "raw_line")
