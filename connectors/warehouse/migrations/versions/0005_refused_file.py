"""Files a run refused while it published with the source's current snapshot.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refused_file",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("source_file", sa.String(), nullable=False, comment="the file refused"),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("snapshot_date", sa.Date(), comment="the refused file's snapshot date"),
        sa.Column("checksum", sa.String(), nullable=False, comment="sha256 of the refused file"),
        sa.Column("reason", sa.String(), nullable=False, comment="why it was not loaded"),
        sa.Column("current_file", sa.String(), nullable=False,
                  comment="the snapshot used instead"),
        sa.Column("stale_since", sa.Date(), nullable=False, comment="that snapshot's date"),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("refused_at", sa.DateTime(), nullable=False),
        comment="Append-only: each newest file a run refused (unreadable, or far fewer rows "
        "than the current snapshot), while the run published with the source's current "
        "snapshot.",
    )  # fmt: skip
    op.create_index("ix_refused_file_run_id", "refused_file", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refused_file_run_id", table_name="refused_file")
    op.drop_table("refused_file")
