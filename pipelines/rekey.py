"""Rotating the pseudonym key without losing resident IDs or review decisions.

Everything keyed is derived from the key: record keys (how a record is recognised from one
snapshot to the next, what review decisions are attached to), the NIK pseudonyms, and the IDs
of residents created later. Run with a new key without rekeying and every record looks new:
every resident would get a new ID and every review decision would be lost.

``rekey`` recomputes, with the old and the new key, the keys of every record still held in
``restricted.source_record`` (a record's key depends only on its own file's rows), checks
that the old ones are what the warehouse holds (so the configured key is the one in use), and
replaces old by new everywhere in one transaction: resident_link, review_queue,
review_decision, source_change, source_record, and the NIK pseudonyms of ``resident``.
Resident IDs are kept as they are. Decisions on records of purged snapshots keep their old
keys: no record will carry them again.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from connectors.schema import COLUMNS, conform
from connectors.warehouse import rekeying
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import review_decision
from matching.nik import pseudonymise
from matching.resident import record_keys


class RekeyError(RuntimeError):
    """The warehouse cannot be rekeyed (e.g. the old key is not the one in use)."""


@dataclass(frozen=True)
class Rekeyed:
    files: int
    record_keys: int
    nik_pseudonyms: int
    decisions: int
    decisions_kept: int


def _file_keys(store: Warehouse, name: str, region: str, old: bytes, new: bytes) -> pd.DataFrame:
    rows = rekeying.keyed_records(store, name, region)
    records = conform(rows[list(COLUMNS)])
    before = record_keys(records, old)
    if not before.reset_index(drop=True).equals(rows["record_key"].astype("string")):
        raise RekeyError(
            f"{name}: the record keys in the warehouse were not made with the configured key; "
            "configure the key in use as the current one"
        )
    return pd.DataFrame({"old_key": before.to_numpy(), "new_key": record_keys(records, new)})


def rekey(store: Warehouse, old: bytes, new: bytes) -> Rekeyed:
    """Replace every pseudonym made with ``old`` by the one ``new`` makes."""
    if old == new:
        raise RekeyError("the new key is the key in use")
    files = rekeying.stored_files(store)
    keys = pd.concat(
        [_file_keys(store, f.source_file, f.region, old, new) for f in files.itertuples()]
        or [pd.DataFrame({"old_key": [], "new_key": []})],
        ignore_index=True,
    ).drop_duplicates()
    niks = rekeying.stored_niks(store)
    nik_map = pd.DataFrame(
        {"old_value": pseudonymise(niks, old, purpose="nik"),
         "new_value": pseudonymise(niks, new, purpose="nik")}
    ).astype("string")  # fmt: skip
    decisions = store.read_table(review_decision.name)
    mapping = dict(zip(keys["old_key"], keys["new_key"], strict=True))
    known = decisions["left_key"].isin(mapping) & decisions["right_key"].isin(mapping)
    left = decisions["left_key"].map(mapping).where(known, decisions["left_key"])
    right = decisions["right_key"].map(mapping).where(known, decisions["right_key"])
    decisions["left_key"], decisions["right_key"] = (
        pd.concat([left, right], axis=1).min(axis=1), pd.concat([left, right], axis=1).max(axis=1)
    )  # fmt: skip
    rekeying.replace_keys(store, keys, nik_map, decisions)
    return Rekeyed(len(files), len(keys), len(nik_map), int(known.sum()), int((~known).sum()))
