"""The clerical quality sample: samples, their strata and their labelled items.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_sample",
        sa.Column("sample_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(), nullable=False),
        sa.Column("drawn_by", sa.String(), comment="who drew it (padu quality sample --by)"),
        sa.Column("seed", sa.Integer(), nullable=False, comment="the random draw, to repeat it"),
        sa.Column("size", sa.Integer(), nullable=False, comment="items asked for"),
        sa.Column("match_probability", sa.Float(), nullable=False,
                  comment="the engine's link threshold, a band edge"),
        sa.Column("run_id", sa.String(), comment="the region's published run the pairs are of"),
        sa.PrimaryKeyConstraint("sample_id"),
        comment="Clerical quality samples: a stratified random sample of a region's candidate "
        "pairs, labelled by reviewers to estimate precision and recall (padu quality). The "
        "region's newest sample is the one estimated.",
    )  # fmt: skip
    op.create_index("ix_quality_sample_region", "quality_sample", ["region"])
    op.create_table(
        "quality_stratum",
        sa.Column("sample_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("stratum", sa.String(), nullable=False,
                  comment="source pair | linked or not | probability band"),
        sa.Column("source_pair", sa.String(), nullable=False,
                  comment="dukcapil-kpu, kpu-kpu, ..."),
        sa.Column("linked", sa.Boolean(), nullable=False,
                  comment="its pairs are in one resident"),
        sa.Column("band", sa.String(), nullable=False,
                  comment="match probability band, not compared, or unlinked record"),
        sa.Column("population", sa.Integer(), nullable=False,
                  comment="pairs (or records) in it, N_h"),
        sa.Column("sampled", sa.Integer(), nullable=False, comment="items drawn from it, n_h"),
        sa.Column("inclusion", sa.Float(), nullable=False, comment="n_h / N_h"),
        sa.PrimaryKeyConstraint("sample_id", "stratum"),
        comment="The strata of each quality sample, with their sizes: what its labels stand "
        "for.",
    )  # fmt: skip
    op.create_table(
        "quality_item",
        sa.Column("item_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("stratum", sa.String(), nullable=False),
        sa.Column("source_pair", sa.String(), nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False,
                  comment="padu put both rows in one resident"),
        sa.Column("probability", sa.Float(),
                  comment="the engine's match probability; null if unscored"),
        sa.Column("left_source", sa.String(), nullable=False),
        sa.Column("left_key", sa.String(), nullable=False, comment="record_key of the left row"),
        sa.Column("left_file", sa.String(),
                  comment="where the row was when the sample was drawn"),
        sa.Column("left_row", sa.Integer()),
        sa.Column("right_source", sa.String()),
        sa.Column("right_key", sa.String(),
                  comment="null: the left record had no candidate at all"),
        sa.Column("right_file", sa.String()),
        sa.Column("right_row", sa.Integer()),
        sa.Column("inclusion", sa.Float(), nullable=False, comment="probability it was drawn"),
        sa.Column("label", sa.String(),
                  comment="match, no_match or unsure; null until labelled"),
        sa.Column("note", sa.String(), comment="the reviewer's note"),
        sa.Column("decided_by", sa.String()),
        sa.Column("decided_at", sa.DateTime()),
        sa.PrimaryKeyConstraint("item_id"),
        comment="The items of each quality sample (pairs of record keys, never a NIK) and "
        "their labels: a review queue of its own, apart from review_queue.",
    )  # fmt: skip
    op.create_index("ix_quality_item_sample_id", "quality_item", ["sample_id"])


def downgrade() -> None:
    op.drop_index("ix_quality_item_sample_id", table_name="quality_item")
    op.drop_table("quality_item")
    op.drop_table("quality_stratum")
    op.drop_index("ix_quality_sample_region", table_name="quality_sample")
    op.drop_table("quality_sample")
