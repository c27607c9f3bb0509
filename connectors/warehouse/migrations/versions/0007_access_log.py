"""Who was shown which record's personal fields, and when.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("accessed_at", sa.DateTime(), nullable=False),
        sa.Column("accessed_by", sa.String(), nullable=False,
                  comment="the database role or signed-in user shown the fields"),
        sa.Column("record_key", sa.String(), nullable=False,
                  comment="keyed pseudonym of the record shown, never its NIK"),
        sa.Column("region", sa.String(), comment="kab/kota of the record"),
        sa.Column("purpose", sa.String(), nullable=False,
                  comment="where the fields were shown: review, resident, quality"),
        comment="Append-only: every display of a record's personal fields (who, which record, "
        "when), as the personal-data law expects of high-risk processing.",
    )  # fmt: skip
    op.create_index("ix_access_log_record_key", "access_log", ["record_key"])


def downgrade() -> None:
    op.drop_index("ix_access_log_record_key", table_name="access_log")
    op.drop_table("access_log")
