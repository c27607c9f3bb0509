"""The steps of publishing a run's results for a region, inside the one transaction
``Warehouse.publish`` opens.

Every region replaces only its own rows of the replaced tables
(``connectors.warehouse.tables.REPLACED``); the other published tables are only appended to,
so regions publish side by side without conflict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import sqlalchemy as sa

from connectors.warehouse.bulk import Rows, check_name, staged_parts
from connectors.warehouse.tables import PER_FILE, PUBLISHED, REPLACED


def check_publishable(tables: Mapping[str, Rows], dropped: Sequence[str]) -> None:
    """Refuse, before any transaction, tables that are not published ones and working tables
    to drop whose names are not table names."""
    known = {t.fullname for t in PUBLISHED}
    unknown = set(tables) - known
    if unknown:
        raise ValueError(f"not published tables: {sorted(unknown)}")
    for name in dropped:
        check_name(name)


def lock_region(conn: sa.Connection, region: str) -> None:
    """PostgreSQL: hold ``region`` to the end of the transaction, so that two publishers of
    one region wait for each other while other regions publish alongside."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
        {"key": f"padu:publish:{region}"},
    )


def remove_earlier_loads(conn: sa.Connection, region: str, new_files: Sequence[str]) -> None:
    """Remove the rows an earlier load of a file of the same name as one of ``new_files`` left
    in the per-file tables (a corrected re-delivery replaces it)."""
    for table in PER_FILE:
        for name in new_files:
            conn.execute(
                sa.text(f"DELETE FROM {table} WHERE source_file = :f AND region = :r"),
                {"f": name, "r": region},
            )


def clear_region(conn: sa.Connection, name: str, region: str) -> None:
    """Remove ``region``'s rows of ``name`` if it is a replaced table; other tables keep
    their history."""
    if name in REPLACED:
        conn.execute(sa.text(f"DELETE FROM {name} WHERE region = :region"), {"region": region})


def mark_current_files(conn: sa.Connection, region: str, current_files: Sequence[str]) -> None:
    """Make ``current_files`` the region's current snapshots in ``load_audit``."""
    conn.execute(
        sa.text(
            "UPDATE load_audit SET current = source_file IN :files WHERE region = :r"
        ).bindparams(sa.bindparam("files", expanding=True)),
        {"files": list(current_files) or [""], "r": region},
    )


def drop_tables(conn: sa.Connection, names: Sequence[str]) -> None:
    for name in names:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))


def count_rows(conn: sa.Connection, tables: Mapping[str, Rows]) -> dict[str, int]:
    """How many rows each of ``tables`` holds: a frame's length, staged rows counted where
    they are rather than read out."""
    counts = {}
    for name, rows in tables.items():
        if isinstance(rows, pd.DataFrame):
            counts[name] = len(rows)
            continue
        counts[name] = 0
        for staged in staged_parts(rows):
            sql = f"SELECT count(*) FROM {staged.from_clause()}"
            counts[name] += int(conn.execute(sa.text(sql)).scalar_one())
    return counts
