"""A reviewer's note on a decision (and unsure decisions), and each run's blocking figures.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


DECISION = "match or no_match (applied by every run), or unsure (not applied)"


def upgrade() -> None:
    op.alter_column(
        "review_decision", "decision", comment=DECISION, existing_comment="match or no_match",
        existing_type=sa.String(), existing_nullable=False,
    )  # fmt: skip
    op.add_column(
        "review_decision",
        sa.Column("note", sa.String(), comment="the reviewer's note, free text"),
    )
    op.create_table(
        "linkage_blocking",
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False,
                  comment="the blocking rule (matching.blocking), or second_pass"),
        sa.Column("rule_order", sa.Integer(), nullable=False,
                  comment="the order the rules ran in"),
        sa.Column("blocks", sa.Integer(), nullable=False,
                  comment="blocks of two or more records"),
        sa.Column("candidate_pairs", sa.Integer(), nullable=False,
                  comment="distinct pairs it found"),
        sa.Column("new_pairs", sa.Integer(), nullable=False,
                  comment="of those, pairs no earlier rule found: the rows add up to the pairs "
                  "scored"),
        sa.Column("capped_blocks", sa.Integer(), nullable=False,
                  comment="blocks too large to pair, skipped"),
        sa.Column("capped_records", sa.Integer(), nullable=False,
                  comment="records in those blocks"),
        sa.Column("match_pairs", sa.Integer(), nullable=False,
                  comment="of its pairs, those at or above the match probability"),
        sa.Column("review_pairs", sa.Integer(), nullable=False,
                  comment="of its pairs, those in the review band (below the match "
                  "probability)"),
        sa.Column("match_probability", sa.Float(), nullable=False,
                  comment="the engine's link level"),
        sa.Column("review_probability", sa.Float(), nullable=False,
                  comment="the lower edge of the review band"),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("region", "rule"),
        comment="Replaced per region: the candidate pairs each blocking rule produced in the "
        "region's latest run, and how many of them the model scored as matches or for review. "
        "Counts only, no personal data.",
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("linkage_blocking")
    op.drop_column("review_decision", "note")
    op.alter_column(
        "review_decision", "decision", comment="match or no_match", existing_comment=DECISION,
        existing_type=sa.String(), existing_nullable=False,
    )  # fmt: skip
