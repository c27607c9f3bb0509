"""Where pulled extracts came from.

load_audit records, per file, whether it was delivered into the landing folder or pulled from
a database or a URL, from where (without password), the fingerprint of the query or file,
the rows the source returned and the source's snapshot time. Files loaded before are marked
as delivered.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("origin", sa.String(), "folder (delivered), database or http (pulled)"),
    ("origin_source", sa.String(), "pulled from: the URL, without password"),
    ("origin_fingerprint", sa.String(), "sha256 of the query run, or of the file"),
    ("origin_rows", sa.Integer(), "rows the source returned"),
    ("origin_snapshot_at", sa.DateTime(), "the source's time of the snapshot"),
)


def upgrade() -> None:
    for name, type_, comment in _COLUMNS:
        op.add_column("load_audit", sa.Column(name, type_, nullable=True, comment=comment))
    op.execute("UPDATE load_audit SET origin = 'folder'")


def downgrade() -> None:
    for name, _, _ in reversed(_COLUMNS):
        op.drop_column("load_audit", name)
