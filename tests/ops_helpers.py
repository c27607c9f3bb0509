"""Shared by the operations tests: content hashes of the warehouse, and snapshot editing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import PUBLISHED

#: Run bookkeeping: differs between two runs by design, so left out of content hashes.
RUN_COLUMNS = {"run_id", "loaded_at", "recorded_at"}
#: Logs of runs (one row per run): compared separately.
RUN_LOGS = {"run_audit"}


def content_hashes(url: str) -> dict[str, str]:
    """sha256 per published table of its rows (sorted), without run bookkeeping columns."""
    store = Warehouse(url)
    try:
        hashes = {}
        for table in PUBLISHED:
            if table.name in RUN_LOGS:
                continue
            frame = store.read_table(table.fullname)
            frame = frame[[c for c in frame.columns if c not in RUN_COLUMNS]]
            text = frame.astype("string").fillna("<null>")
            text = text.sort_values(list(text.columns)).to_csv(index=False)
            hashes[table.fullname] = hashlib.sha256(text.encode()).hexdigest()
        return hashes
    finally:
        store.dispose()


def next_registry_snapshot(landing: Path, target: Path, url: str) -> dict[str, str]:
    """Write the next day's civil-registry extract into ``target`` with three known changes:
    one person renamed, one removed, one added. Returns the NIKs involved by change."""
    store = Warehouse(url)
    try:
        rows = store.query(
            "SELECT source_row, nik FROM restricted.source_record WHERE source = 'dukcapil' "
            "AND nik IS NOT NULL AND birth_date IS NOT NULL ORDER BY source_row LIMIT 3"
        )
    finally:
        store.dispose()
    old = next(landing.glob("dukcapil_*.csv"))
    frame = pd.read_csv(old, sep="|", dtype=str, keep_default_na=False)
    renamed, removed, template = (int(r) - 1 for r in rows["source_row"])
    frame.loc[renamed, "NAMA_LGKP"] = frame.loc[renamed, "NAMA_LGKP"] + " WIJAYAKUSUMA"
    added = frame.loc[[template]].copy()
    added_nik = added["NIK"].iloc[0][:12] + "9999"
    added["NIK"] = added_nik
    added["NAMA_LGKP"] = "ZULKARNAIN TAMBUNAN"
    out = pd.concat([frame.drop(index=removed), added], ignore_index=True)
    target.mkdir(parents=True, exist_ok=True)
    out.to_csv(target / old.name.replace("20261101", "20261102"), sep="|", index=False)
    return {
        "changed": rows["nik"].iloc[0],
        "removed": rows["nik"].iloc[1],
        "added": added_nik,
    }
