"""Where pulled extracts came from; what each run's results depend on.

load_audit records, per file, whether it was delivered into the landing folder or pulled from
a database or a URL, from where (without password), the fingerprint of the query or file,
the rows the source returned and the source's snapshot time. Files loaded before are marked
as delivered. run_audit records a fingerprint of each run's inputs, so a run whose inputs
have not changed since the last successful one can skip the linkage.

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


_FINGERPRINT = "sha256 of everything the results depend on (files, decisions, settings, code)"


def upgrade() -> None:
    for name, type_, comment in _COLUMNS:
        op.add_column("load_audit", sa.Column(name, type_, nullable=True, comment=comment))
    op.execute("UPDATE load_audit SET origin = 'folder'")
    # run_audit has an index: on DuckDB a column is added to it around the index.
    op.drop_index("ix_run_audit_run_id", table_name="run_audit")
    op.add_column(
        "run_audit",
        sa.Column("input_fingerprint", sa.String(), nullable=True, comment=_FINGERPRINT),
    )
    op.create_index("ix_run_audit_run_id", "run_audit", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_run_audit_run_id", table_name="run_audit")
    op.drop_column("run_audit", "input_fingerprint")
    op.create_index("ix_run_audit_run_id", "run_audit", ["run_id"], unique=False)
    for name, _, _ in reversed(_COLUMNS):
        op.drop_column("load_audit", name)
