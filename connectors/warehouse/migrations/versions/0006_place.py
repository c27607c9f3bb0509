"""The names of each region's kecamatan and desa, for the statisticians' views.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "place",
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False,
                  comment="Kemendagri code of the kecamatan (63.09.01) or desa (63.09.01.2001)"),
        sa.Column("level", sa.String(), nullable=False, comment="kecamatan or desa"),
        sa.Column("name", sa.String(), nullable=False,
                  comment="the name in the region reference"),
        sa.Column("kec_code", sa.String(), nullable=False,
                  comment="the kecamatan it is in (itself)"),
        sa.PrimaryKeyConstraint("region", "code"),
        comment="Replaced per region: the names of the region's kecamatan and desa, from "
        "padu's region reference, for the statisticians' views.",
    )  # fmt: skip


#: Views that read the table; PostgreSQL will not drop a table a view depends on. padu
#: re-creates the views (without the names) after migrating.
_VIEWS = ("v_population_by_desa", "v_coverage_by_kecamatan", "v_voter_list_quality_by_kecamatan")


def downgrade() -> None:
    for view in _VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_table("place")
