"""Names of a run's working tables, in the restricted schema: they hold raw identifiers.

Every name is ``restricted.stg_<what>_<region's compact code>``: ``padu purge`` finds a
region's working tables by that pattern (``retention.staging_tables``). They are
dropped once the run has published them (``published_tables``).
"""

from __future__ import annotations

import pandas as pd

from connectors.reference.regions import Kabupaten
from connectors.schema import Source, conform
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import RESTRICTED


def raw_table(source: Source, kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_{source.value}_raw_{kab.compact_code}"


def file_table(source: Source, kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_{source.value}_file_{kab.compact_code}"


def records_table(source: Source, kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_{source.value}_records_{kab.compact_code}"


def links_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_links_{kab.compact_code}"


def residents_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_residents_{kab.compact_code}"


def review_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_review_{kab.compact_code}"


def history_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_history_{kab.compact_code}"


def discrepancy_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_discrepancy_{kab.compact_code}"


def changes_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_source_change_{kab.compact_code}"


def source_records_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_source_record_{kab.compact_code}"


def blocking_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_blocking_{kab.compact_code}"


def run_table(kab: Kabupaten) -> str:
    return f"{RESTRICTED}.stg_run_{kab.compact_code}"


def tables(kab: Kabupaten) -> list[str]:
    """Every working table of the region's runs."""
    per_source = [f(s, kab) for s in Source for f in (raw_table, file_table, records_table)]
    return [
        *per_source,
        *(f(kab) for f in (links_table, residents_table, review_table, history_table,
                           discrepancy_table, changes_table, source_records_table, run_table,
                           blocking_table)),
    ]  # fmt: skip


def read_records(store: Warehouse, kab: Kabupaten) -> pd.DataFrame:
    """The standardised records of every source of the run, concatenated."""
    frames = [conform(store.read_table(records_table(s, kab))) for s in Source]
    return pd.concat(frames, ignore_index=True)


def read_files(store: Warehouse, kab: Kabupaten) -> pd.DataFrame:
    """The run's input file of each source (as staged by the raw assets)."""
    return pd.concat([store.read_table(file_table(s, kab)) for s in Source], ignore_index=True)
