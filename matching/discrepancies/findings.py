"""The kinds of discrepancy, the columns of a finding, and how finding rows are built: one
per flagged resident (``per_resident``) or one per flagged source row (``per_row``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from matching.discrepancies.facts import Facts

KINDS = (
    "voter_deceased",
    "voter_underage",
    "voter_duplicate",
    "voter_not_in_registry",
    "eligible_missing_from_voter_list",
    "voter_ineligible_occupation",
    "nik_conflict",
    "multiple_niks",
    "nik_birthdate_mismatch",
    "domicile_differs",
    "bps_not_in_registry",
)
COLUMNS = ("kind", "resident_id", "source_rows", "details")


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})


def no_findings() -> pd.DataFrame:
    """An empty result of one kind's rule (dropped before the findings are joined)."""
    return pd.DataFrame(columns=list(COLUMNS))


Details = str | Callable[[np.ndarray], list[str]]


def per_resident(
    kind: str, facts: Facts, residents: np.ndarray, rows: np.ndarray, details: Details
) -> pd.DataFrame:
    """One finding per resident flagged in ``residents`` (bool per code), listing its rows
    under ``rows`` (bool per work row). ``details``: a text, or a function of the flagged
    resident codes giving one text each."""
    chosen = np.flatnonzero(residents)
    if len(chosen) == 0:
        return no_findings()
    mask = rows & residents[facts.code]
    refs = facts.refs(mask).reindex(chosen).fillna("")
    return pd.DataFrame(
        {
            "kind": kind,
            "resident_id": facts.ids[chosen],
            "source_rows": refs.to_numpy(),
            "details": details if isinstance(details, str) else details(chosen),
        }
    )


def per_row(kind: str, facts: Facts, rows: np.ndarray, details: pd.Series) -> pd.DataFrame:
    """One finding per work row under ``rows``; ``details`` aligned to the work frame."""
    idx = np.flatnonzero(rows)
    if len(idx) == 0:
        return no_findings()
    picked = facts.work.iloc[idx]
    refs = picked["source_file"].astype(str) + ":" + picked["source_row"].astype(str)
    return pd.DataFrame(
        {
            "kind": kind,
            "resident_id": facts.ids[facts.code[idx]],
            "source_rows": refs.to_numpy(),
            "details": details.iloc[idx].to_numpy(),
        }
    )
