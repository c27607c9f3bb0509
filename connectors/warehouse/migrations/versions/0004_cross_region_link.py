"""Residents seen in one kab/kota and registered in another (the cross-region pass).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cross_region_link",
        sa.Column("resident_id", sa.String(), nullable=False,
                  comment="a resident seen in `region` without a civil-registry record there"),
        sa.Column("region", sa.String(), nullable=False,
                  comment="kab/kota where the resident was seen"),
        sa.Column("registry_resident_id", sa.String(), nullable=False,
                  comment="the resident holding the civil-registry record"),
        sa.Column("registry_region", sa.String(), nullable=False,
                  comment="kab/kota of the civil-registry record"),
        sa.Column("method", sa.String(), nullable=False,
                  comment="nik, nik_near or name_birth_date"),
        sa.Column("run_id", sa.String(), nullable=False,
                  comment="the cross-region pass that found it"),
        sa.PrimaryKeyConstraint("resident_id"),
        comment="Residents seen in one kab/kota (voter list, BPS) and registered in another; "
        "replaced by every cross-region pass.",
    )  # fmt: skip
    op.create_index(
        "ix_cross_region_link_registry_resident_id",
        "cross_region_link",
        ["registry_resident_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_cross_region_link_registry_resident_id", table_name="cross_region_link")
    op.drop_table("cross_region_link")
