"""Snapshots of a source: fingerprints of records, and what changed from one snapshot to the next.

A record is followed across snapshots by its ``record_key`` (matching.resident.record_keys:
the NIK where there is one, else name, birth date and desa), not by its row number, which
shifts whenever a row is added above it. A record whose key changes (a respelt name without a
NIK) shows as one removed and one added.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from connectors.schema import COLUMNS

#: Where a record sits, not what it says: left out of its fingerprint.
_PLACEMENT = ("source", "source_file", "source_row", "snapshot_date")
CONTENT = tuple(c for c in COLUMNS if c not in _PLACEMENT)


def row_hashes(records: pd.DataFrame) -> pd.Series:
    """A 64-bit fingerprint of each record's content (signed, to fit a BIGINT column)."""
    hashed = pd.util.hash_pandas_object(records[list(CONTENT)], index=False)
    return pd.Series(hashed.to_numpy().view(np.int64), index=records.index, dtype="int64")


def diff_snapshots(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Records added, removed and changed between two snapshots of one source.

    Both frames hold canonical records with ``record_key`` and ``row_hash``. The result has
    ``change``, ``record_key``, ``changed_fields`` (names only, never values),
    ``source_file``/``source_row`` (new) and ``previous_file``/``previous_row``.
    """
    old = previous.set_index("record_key", drop=False)
    new = current.set_index("record_key", drop=False)
    added = new.index.difference(old.index)
    removed = old.index.difference(new.index)
    both = new.index.intersection(old.index)
    differs = both[old.loc[both, "row_hash"].to_numpy() != new.loc[both, "row_hash"].to_numpy()]
    frames = [
        _rows("added", new.loc[added], None),
        _rows("removed", None, old.loc[removed]),
        _rows("changed", new.loc[differs], old.loc[differs], _changed_fields(old, new, differs)),
    ]
    return pd.concat(frames, ignore_index=True).astype(
        {"change": "string", "record_key": "string", "changed_fields": "string",
         "source_file": "string", "previous_file": "string",
         "source_row": "Int64", "previous_row": "Int64"}
    )  # fmt: skip


def _changed_fields(old: pd.DataFrame, new: pd.DataFrame, keys: pd.Index) -> pd.Series:
    if len(keys) == 0:
        return pd.Series([], dtype="string")
    flags = {}
    for column in CONTENT:
        a = old.loc[keys, column].reset_index(drop=True)
        b = new.loc[keys, column].reset_index(drop=True)
        same = (a == b).fillna(False).astype(bool) | (a.isna() & b.isna())
        flags[column] = ~same.to_numpy()
    matrix = pd.DataFrame(flags)
    names = np.array(CONTENT, dtype=object)
    return pd.Series([",".join(names[row]) for row in matrix.to_numpy()], dtype="string")


def _rows(
    change: str,
    new: pd.DataFrame | None,
    old: pd.DataFrame | None,
    fields: pd.Series | None = None,
) -> pd.DataFrame:
    anchor = new if new is not None else old
    assert anchor is not None
    n = len(anchor)
    missing = pd.Series([pd.NA] * n, dtype="object")
    return pd.DataFrame(
        {
            "change": [change] * n,
            "record_key": anchor["record_key"].to_numpy(),
            "changed_fields": fields.to_numpy() if fields is not None else missing,
            "source_file": new["source_file"].to_numpy() if new is not None else missing,
            "source_row": new["source_row"].to_numpy() if new is not None else missing,
            "previous_file": old["source_file"].to_numpy() if old is not None else missing,
            "previous_row": old["source_row"].to_numpy() if old is not None else missing,
        }
    )
