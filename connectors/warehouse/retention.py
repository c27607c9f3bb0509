"""Retention: ``padu purge`` removes superseded snapshots and the rows derived from them.

Only snapshots that are no longer current, of one source, older than a date, are purged:
their standardised records and raw quarantined lines (restricted schema), their quarantine
reasons, and the source changes that made them (the changes from them to a later snapshot
stay: they name rows and fields, never values). Their ``load_audit`` rows stay, marked
with ``purged_at``, so the history of what was loaded remains; the purge itself is recorded
in ``run_audit``. The current state (residents, links, current snapshots) is not touched.

The working tables of each region whose snapshots are purged go too
(``restricted.stg_*_<region>``, see ``staging_tables``): a run drops them once it has
published, but a run that failed leaves its copy of the raw rows there.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
import sqlalchemy as sa

from connectors.schema import Source
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import (
    RESTRICTED,
    load_audit,
    quarantine,
    quarantine_line,
    run_audit,
    source_change,
)
from connectors.warehouse.tables import source_record as source_record_table

#: Table -> the column naming the purged file in it.
_DERIVED = {
    source_record_table.fullname: "source_file",
    quarantine_line.fullname: "source_file",
    quarantine.fullname: "source_file",
    source_change.fullname: "source_file",
}


@dataclass(frozen=True)
class Purged:
    files: list[str]
    rows: dict[str, int]
    staging: list[str] = field(default_factory=list)  # working tables dropped


def staging_tables(connection: sa.Connection, region: str) -> list[str]:
    """The region's working tables that exist now: ``restricted.stg_<what>_<code>``, the
    code without dots (connectors/warehouse/staging.py names them so)."""
    pattern = re.compile(rf"^stg_[a-z0-9_]+_{re.escape(region.replace('.', ''))}$")
    names = connection.execute(
        sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
        {"s": RESTRICTED},
    ).scalars()
    return sorted(f"{RESTRICTED}.{name}" for name in names if pattern.match(name))


def purge(store: Warehouse, source: Source, before: date, region: str | None, by: str) -> Purged:
    """Purge ``source``'s superseded snapshots dated before ``before`` (of ``region``, or of
    every region), in one transaction."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    with store.transaction() as conn:
        store.create_tables(conn)
        selected = sa.text(
            f"SELECT source_file, region FROM {load_audit.name} WHERE source = :s "
            "AND NOT current AND purged_at IS NULL AND snapshot_date < :d"
            + (" AND region = :r" if region else "")
            + " ORDER BY snapshot_date, source_file"
        )
        params = {"s": source.value, "d": before, "r": region}
        files = [(row.source_file, row.region) for row in conn.execute(selected, params)]
        counts = dict.fromkeys(_DERIVED, 0)
        for name, file_region in files:
            for table, column in _DERIVED.items():
                deleted = conn.execute(
                    sa.text(f"DELETE FROM {table} WHERE {column} = :f AND region = :r"),
                    {"f": name, "r": file_region},
                )
                counts[table] += deleted.rowcount or 0
            conn.execute(
                sa.text(
                    f"UPDATE {load_audit.name} SET purged_at = :t "
                    "WHERE source_file = :f AND region = :r"
                ),
                {"t": now.to_pydatetime(), "f": name, "r": file_region},
            )
        staging = [t for r in sorted({r for _, r in files}) for t in staging_tables(conn, r)]
        for table in staging:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(
            sa.insert(run_audit).values(
                run_id=f"purge-{uuid.uuid4()}",
                region=region,
                started_by=f"padu purge ({by})",
                started_at=now.to_pydatetime(),
                finished_at=now.to_pydatetime(),
                duration_seconds=0.0,
                status="success",
                inputs=f"purge {source.value} snapshots before {before.isoformat()}: "
                + ("; ".join(name for name, _ in files) or "none"),
                outputs=json.dumps(
                    {"files": len(files), **counts, "staging_tables": len(staging)},
                    sort_keys=True,
                ),
            )
        )
    return Purged([name for name, _ in files], counts, staging)
