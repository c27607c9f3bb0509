"""Ground truth: which person each extract row is, and where problems were planted.

Extract builders work on a frame with one row per output row, a ``pid`` column and one boolean
``plant_<kind>`` column per planted problem; ``finish`` turns that into an ``Extract`` after the
rows are in their final order, so row numbers in the truth always match the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synthetic.writers import write_csv

PLANT_PREFIX = "plant_"

#: Every kind of planted problem, in the order planted.csv lists them.
KINDS = (
    "dukcapil_double_registration",
    "nik_birthdate_mismatch",
    "nik_conflict",
    "voter_deceased",
    "voter_underage",
    "voter_duplicate",
    "voter_not_in_registry",
    "voter_ineligible_occupation",
    "eligible_missing_from_voter_list",
    "nik_mistyped",
    "nik_excel_mangled",
    "kelurahan_misspelled",
    "kecamatan_misspelled",
    "domicile_differs",
    "bps_nik_placeholder",
    "bps_birthdate_missing",
    "bps_birthdate_differs",
)


@dataclass(frozen=True)
class Extract:
    """One agency file: its text table, the person of each row, and its planted problems."""

    file_name: str
    table: pd.DataFrame  # output columns, every value text
    pids: np.ndarray  # person index of each row
    planted: dict[str, np.ndarray]  # kind -> 0-based row positions
    unrowed: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> pids without a row


def finish(
    file_name: str,
    work: pd.DataFrame,
    columns: list[str],
    unrowed: dict[str, np.ndarray] | None = None,
) -> Extract:
    """Cut a working frame (already in file order) into an ``Extract``."""
    planted = {
        col[len(PLANT_PREFIX) :]: np.flatnonzero(work[col].to_numpy(dtype=bool))
        for col in work.columns
        if col.startswith(PLANT_PREFIX)
    }
    unknown = (set(planted) | set(unrowed or {})) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown planted kinds: {sorted(unknown)}")
    table = work[columns].reset_index(drop=True)
    return Extract(file_name, table, work["pid"].to_numpy(), planted, dict(unrowed or {}))


def person_labels(n: int) -> np.ndarray:
    """Stable person ids for persons ``0..n-1``: ``P0000001`` (1-based, at least 7 digits)."""
    width = max(7, len(str(n)))
    numbers = np.arange(1, n + 1).astype(str)
    return np.char.add("P", np.char.zfill(numbers, width)).astype(object)


def truth_table(extracts: list[Extract], labels: np.ndarray) -> pd.DataFrame:
    """``file,row,person_id`` for every data row of every extract."""
    frames = [
        pd.DataFrame(
            {
                "file": ex.file_name,
                "row": np.arange(1, len(ex.pids) + 1),
                "person_id": labels[ex.pids],
            }
        )
        for ex in extracts
    ]
    return pd.concat(frames, ignore_index=True)


def planted_table(extracts: list[Extract], labels: np.ndarray) -> pd.DataFrame:
    """``kind,file,row,person_id`` for every planted problem (file and row empty when the
    finding has no row, e.g. an eligible person missing from the voter list)."""
    frames = []
    for ex in extracts:
        for kind, rows in ex.planted.items():
            frames.append(
                pd.DataFrame(
                    {
                        "kind": kind,
                        "file": ex.file_name,
                        "row": (rows + 1).astype(str),
                        "person_id": labels[ex.pids[rows]],
                    }
                )
            )
        for kind, pids in ex.unrowed.items():
            frames.append(
                pd.DataFrame({"kind": kind, "file": "", "row": "", "person_id": labels[pids]})
            )
    columns = ["kind", "file", "row", "person_id"]
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)
    rank = table["kind"].map({k: i for i, k in enumerate(KINDS)})
    row_num = pd.to_numeric(table["row"], errors="coerce").fillna(0)
    order = np.lexsort((table["person_id"], row_num, table["file"], rank))
    return table.iloc[order][columns].reset_index(drop=True)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Plain UTF-8 CSV with ``\\n`` line ends."""
    write_csv(table, path)
