"""Initial schema: the tables warehouses had before migrations.

Each table and index is created only if it does not exist yet, so that a warehouse made by
the earlier ``metadata.create_all`` path, which may lack tables added after it was created,
is completed rather than refused (``warehouse.migrate.adopt``). The statisticians' views are
not here: padu re-creates them after every upgrade (``warehouse.views``).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: Views that read these tables; PostgreSQL will not drop a table a view depends on.
_VIEWS = ("v_population_by_desa", "v_coverage_by_kecamatan", "v_voter_list_quality_by_kecamatan")


def upgrade() -> None:
    op.create_table(
        "resident",
        sa.Column("resident_id", sa.String(), nullable=False, comment="padu's ID for the person"),
        sa.Column("region", sa.String(), nullable=False, comment="kab/kota of the run, 63.09"),
        sa.Column("display_name", sa.String(), comment="name from the most authoritative source"),
        sa.Column("name_source", sa.String(), comment="source of display_name"),
        sa.Column("name_titles", sa.String(), comment="titles of that name (H., S.PD., ...)"),
        sa.Column("birth_date", sa.Date()),
        sa.Column("birth_date_source", sa.String()),
        sa.Column("sex", sa.String(length=1), comment="M or F"),
        sa.Column("sex_source", sa.String()),
        sa.Column("kab_code", sa.String(), comment="registered kab/kota (Kemendagri)"),
        sa.Column("kec_code", sa.String(), comment="registered kecamatan (Kemendagri)"),
        sa.Column("desa_code", sa.String(), comment="registered desa/kelurahan (Kemendagri)"),
        sa.Column("registered_source", sa.String(), comment="source of the registered address"),
        sa.Column("domicile_desa_code", sa.String(), comment="desa where BPS found the person"),
        sa.Column("tps", sa.String(), comment="polling station on the voter list (KPU)"),
        sa.Column("alive", sa.Boolean(), comment="false when the civil registry records a death"),
        sa.Column(
            "nik_pseudonym", sa.String(), comment="keyed pseudonym of the NIK, never the NIK"
        ),
        sa.Column("in_dukcapil", sa.Boolean(), nullable=False),
        sa.Column("in_kpu", sa.Boolean(), nullable=False),
        sa.Column("in_bps", sa.Boolean(), nullable=False),
        sa.Column("sources", sa.String(), nullable=False, comment="e.g. dukcapil,kpu"),
        sa.Column(
            "source_rows", sa.Integer(), nullable=False, comment="rows linked to the resident"
        ),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id"),
        if_not_exists=True,
    )
    op.create_table(
        "resident_link",
        sa.Column("source", sa.String(), nullable=False, comment="dukcapil, kpu or bps"),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False, comment="1-based data row"),
        sa.Column("resident_id", sa.String(), nullable=False),
        sa.Column("link_method", sa.String(), nullable=False, comment="how the row was linked"),
        sa.Column(
            "link_score", sa.Float(), comment="match probability of the row's strongest link"
        ),
        sa.Column(
            "record_key",
            sa.String(),
            comment="keyed pseudonym of the record, stable across snapshots",
        ),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("source_file", "source_row"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_resident_link_resident_id"), "resident_link", ["resident_id"], if_not_exists=True
    )
    op.create_table(
        "quarantine",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column(
            "raw_line", sa.String(), comment="the row as read; restricted: may hold identifiers"
        ),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("source_file", "source_row"),
        if_not_exists=True,
    )
    op.create_table(
        "load_audit",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("checksum", sa.String(), nullable=False, comment="sha256 of the file"),
        sa.Column("encoding", sa.String()),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("file_issues", sa.String(), comment="problems with the file as a whole"),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("source_file"),
        if_not_exists=True,
    )
    op.create_table(
        "review_queue",
        sa.Column("left_source", sa.String(), nullable=False),
        sa.Column("left_file", sa.String(), nullable=False),
        sa.Column("left_row", sa.Integer(), nullable=False),
        sa.Column("right_source", sa.String(), nullable=False),
        sa.Column("right_file", sa.String(), nullable=False),
        sa.Column("right_row", sa.Integer(), nullable=False),
        sa.Column("left_key", sa.String(), nullable=False, comment="record_key of the left row"),
        sa.Column("right_key", sa.String(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("explanation", sa.String(), comment="each field's weight, strongest first"),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "review_decision",
        sa.Column("left_key", sa.String(), nullable=False),
        sa.Column("right_key", sa.String(), nullable=False),
        sa.Column("decision", sa.String(), nullable=False, comment="match or no_match"),
        sa.Column("left_file", sa.String(), comment="where the reviewer saw the pair"),
        sa.Column("left_row", sa.Integer()),
        sa.Column("right_file", sa.String()),
        sa.Column("right_row", sa.Integer()),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("left_key", "right_key"),
        comment="Clerical decisions; kept across runs and applied by every later run.",
        if_not_exists=True,
    )
    op.create_table(
        "resident_history",
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("resident_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False, comment="new, merged, split or retired"),
        sa.Column("related_id", sa.String(), comment="merged into / split from this resident"),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        comment="Append-only: how residents changed from run to run.",
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_resident_history_resident_id"),
        "resident_history",
        ["resident_id"],
        if_not_exists=True,
    )
    op.create_table(
        "discrepancy",
        sa.Column("kind", sa.String(), nullable=False, comment="voter_deceased, nik_conflict, ..."),
        sa.Column("resident_id", sa.String(), nullable=False),
        sa.Column("source_rows", sa.String(), comment="file:row;file:row of the rows involved"),
        sa.Column("details", sa.String(), comment="what was found, without raw identifiers"),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        comment="The auditor's list: one row per finding.",
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_discrepancy_resident_id"), "discrepancy", ["resident_id"], if_not_exists=True
    )
    op.create_table(
        "quality_result",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("suite", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, comment="passed, warning or failed"),
        sa.Column("rows", sa.Integer()),
        sa.Column("failed_blocking", sa.String()),
        sa.Column("warnings", sa.String()),
        sa.Column("data_docs", sa.String(), comment="Data Docs index the results are in"),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        comment="Append-only: each data-quality suite's verdict per run.",
        if_not_exists=True,
    )


def downgrade() -> None:
    for view in _VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_table("quality_result")
    op.drop_index(op.f("ix_discrepancy_resident_id"), table_name="discrepancy")
    op.drop_table("discrepancy")
    op.drop_index(op.f("ix_resident_history_resident_id"), table_name="resident_history")
    op.drop_table("resident_history")
    op.drop_table("review_decision")
    op.drop_table("review_queue")
    op.drop_table("load_audit")
    op.drop_table("quarantine")
    op.drop_index(op.f("ix_resident_link_resident_id"), table_name="resident_link")
    op.drop_table("resident_link")
    op.drop_table("resident")
