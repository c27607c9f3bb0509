"""What a run reads of the warehouse's stored state: a region's current snapshots, its last
published results, and the records behind them.

Every statement binds its values (region, source, file, checksum) as parameters; only table
and column names, which padu declares itself, are part of the SQL text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pandas as pd

from connectors.schema import COLUMNS, Source, conform
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import RESTRICTED, resident_link, source_record


def _columns(names: Iterable[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name in names)


def loaded_earlier(store: Warehouse, region: str, source: Source, checksum: str) -> pd.DataFrame:
    """The load_audit row of a file of this source and region with the same content (whose
    records were not purged since); empty when there is none."""
    store.create_tables()
    return store.query(
        "SELECT * FROM load_audit WHERE region = :r AND source = :s AND checksum = :c "
        "AND purged_at IS NULL ORDER BY loaded_at DESC LIMIT 1",
        {"r": region, "s": source.value, "c": checksum},
    )


def current_load(store: Warehouse, region: str, source: Source) -> pd.Series | None:
    """The load_audit row of the source's current snapshot for the region (records kept)."""
    store.create_tables()
    found = store.query(
        "SELECT * FROM load_audit WHERE region = :r AND source = :s AND current "
        "AND purged_at IS NULL ORDER BY loaded_at DESC LIMIT 1",
        {"r": region, "s": source.value},
    )
    return found.iloc[0] if len(found) else None


def current_files(store: Warehouse, region: str) -> pd.Series:
    """source -> the file of its current snapshot for the region."""
    return store.query(
        "SELECT source, source_file FROM load_audit WHERE region = :r AND current",
        {"r": region},
    ).set_index("source")["source_file"]


def stored_records(
    store: Warehouse, region: str, source_file: str, columns: Sequence[str] = COLUMNS
) -> pd.DataFrame:
    """The records of one loaded file as ``source_record`` keeps them, in row order."""
    return store.query(
        f"SELECT {_columns(columns)} FROM {source_record.fullname} "
        "WHERE source_file = :f AND region = :r ORDER BY source_row",
        {"f": source_file, "r": region},
    )


def last_success_fingerprint(store: Warehouse, region: str) -> str | None:
    """The input fingerprint of the region's last successful run."""
    store.create_tables()
    last = store.query(
        "SELECT input_fingerprint FROM run_audit WHERE region = :r AND status = 'success' "
        "AND run_id NOT LIKE 'purge-%' ORDER BY finished_at DESC LIMIT 1",
        {"r": region},
    )
    return None if last.empty else last["input_fingerprint"].iloc[0]


def holds_links(store: Warehouse) -> bool:
    """True if any region's records are linked in the warehouse."""
    store.create_tables()
    return bool(
        store.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {resident_link.name} LIMIT 1) t")
    )


def published_links(store: Warehouse, region: str) -> pd.DataFrame:
    """record_key -> resident_id as last published for the region (empty on a first run)."""
    store.create_tables()
    return store.query(
        "SELECT record_key, resident_id FROM resident_link "
        "WHERE region = :r AND record_key IS NOT NULL",
        {"r": region},
    )


def published_rows(
    store: Warehouse, table: str, region: str, columns: Sequence[str]
) -> pd.DataFrame:
    """``columns`` of the region's rows of the published ``table``."""
    return store.query(f"SELECT {_columns(columns)} FROM {table} WHERE region = :r", {"r": region})


def column_of(store: Warehouse, table: str, column: str) -> pd.Series:
    """One column of a (working) table."""
    return store.query(f"SELECT {column} FROM {table}")[column]


def rows_per_file(store: Warehouse, table: str) -> pd.Series:
    """source_file -> rows of a (working) table."""
    counts = store.query(f"SELECT source_file, count(*) AS n FROM {table} GROUP BY source_file")
    return counts.set_index("source_file")["n"]


# The current records of linked residents, with the resident and region they belong to: what
# the cross-region pass reads.
_LINKED_RECORDS = (
    f"SELECT {_columns(COLUMNS, 'r.')}, l.resident_id, l.region "
    f"FROM {RESTRICTED}.source_record r JOIN resident_link l "
    "ON l.source_file = r.source_file AND l.source_row = r.source_row"
)


def _linked(rows: pd.DataFrame) -> pd.DataFrame:
    extra = rows[["resident_id", "region"]].astype("string")
    return pd.concat([conform(rows[list(COLUMNS)]), extra], axis=1)


def orphan_records(store: Warehouse) -> pd.DataFrame:
    """Current records of residents with no civil-registry record in their region."""
    return _linked(
        store.query(
            f"{_LINKED_RECORDS} JOIN resident p ON p.resident_id = l.resident_id "
            "WHERE NOT p.in_dukcapil"
        )
    )


def linked_regions(store: Warehouse) -> list[str]:
    """The regions with published links, in order."""
    regions = store.query("SELECT DISTINCT region FROM resident_link ORDER BY region")
    return list(regions["region"])


def registry_by_region(store: Warehouse) -> Iterator[pd.DataFrame]:
    """The current civil-registry records, one region at a time."""
    for region in linked_regions(store):
        yield _linked(
            store.query(
                f"{_LINKED_RECORDS} WHERE r.source = :source AND l.region = :region",
                {"source": Source.DUKCAPIL.value, "region": region},
            )
        )
