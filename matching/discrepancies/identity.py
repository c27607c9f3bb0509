"""Findings about identity in the civil registry: one NIK used by clearly different people,
one person registered under several NIKs, and NIKs that encode another birth date or sex
than their row records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.discrepancies.facts import Facts, join_by
from matching.discrepancies.findings import no_findings, per_resident, per_row
from matching.discrepancies.same_person import SAME_PERSON_SCORE, name_scores


def nik_conflicts(f: Facts) -> pd.DataFrame:
    """One NIK in the civil registry used by clearly different people: registry rows of the
    NIK fall into several residents, or into one resident under clearly different names."""
    work = f.work
    has_nik = f.registry & work["nik"].notna().to_numpy()
    rows = pd.DataFrame(
        {
            "nik": work["nik"].to_numpy()[has_nik],
            "code": f.code[has_nik],
            "row": np.flatnonzero(has_nik),
        }
    )
    shared = rows[rows.duplicated("nik", keep=False)].reset_index(drop=True)
    if shared.empty:
        return no_findings()
    residents_per_nik = shared.groupby("nik")["code"].transform("nunique")
    # Within one resident: compare each row's name with the first row of its NIK.
    names = work["name_norm"].iloc[shared["row"].to_numpy()].reset_index(drop=True)
    first = shared.groupby("nik")["row"].transform("first")
    first_names = work["name_norm"].iloc[first.to_numpy()].reset_index(drop=True)
    differs = pd.Series(name_scores(names, first_names) < SAME_PERSON_SCORE)
    conflict = (residents_per_nik > 1) | differs.groupby(shared["nik"]).transform("any")
    conflicted = shared[conflict.to_numpy()]
    if conflicted.empty:
        return no_findings()
    # Every row carrying a conflicting NIK, in any source, is listed with each resident.
    nik = work["nik"].astype("string")
    involved = np.flatnonzero(nik.isin(conflicted["nik"].unique()).fillna(False).to_numpy(bool))
    inv_nik = nik.to_numpy()[involved]
    refs = join_by(pd.factorize(inv_nik)[0], f.row_refs(involved))
    refs.index = pd.factorize(inv_nik)[1][refs.index]
    registry_rows = conflicted.groupby("nik").size()
    residents_of = conflicted.groupby("nik")["code"].agg(lambda c: sorted({f.ids[i] for i in c}))
    pairs = conflicted[["nik", "code"]].drop_duplicates()
    details = []
    for key in pairs["nik"]:
        ids = residents_of[key]
        where = (
            f"split over {len(ids)} residents ({', '.join(ids)})"
            if len(ids) > 1
            else ("linked as one resident")
        )
        details.append(
            f"one NIK on {registry_rows[key]} civil-registry rows of clearly different "
            f"people, {where}"
        )
    return pd.DataFrame(
        {
            "kind": "nik_conflict",
            "resident_id": f.ids[pairs["code"].to_numpy()],
            "source_rows": refs.reindex(pairs["nik"].to_numpy()).to_numpy(),
            "details": details,
        }
    )


def multiple_niks(f: Facts) -> pd.DataFrame:
    """One resident, several distinct usable NIKs in the civil registry for the same birth
    date and sex (a double registration). NIKs that differ only on the voter list or in BPS
    are typing errors of those sources, and registry rows of one resident with different
    birth dates are two people that linkage merged: neither is reported here."""
    work = f.work
    has_nik = f.registry & work["nik"].notna().to_numpy()
    rows = pd.DataFrame(
        {
            "code": f.code[has_nik],
            "birth": work["birth_date"].to_numpy()[has_nik],
            "sex": work["sex"].astype("string").to_numpy()[has_nik],
            "nik": work["nik"].to_numpy()[has_nik],
        }
    )
    per_person = rows.drop_duplicates().groupby(["code", "birth", "sex"], dropna=False).size()
    distinct = per_person.groupby(level="code").max()
    distinct = distinct.reindex(range(f.n), fill_value=0).to_numpy()
    flagged = distinct >= 2

    def details(codes: np.ndarray) -> list[str]:
        return [
            f"{k} distinct NIKs in the civil registry for one birth date and sex"
            for k in distinct[codes]
        ]

    return per_resident("multiple_niks", f, flagged, f.registry, details)


def nik_birthdate_mismatch(f: Facts) -> pd.DataFrame:
    """Civil-registry rows whose NIK encodes another birth date or sex than the row records."""
    from matching.nik import encoded_differences

    work = f.work
    idx = np.flatnonzero(f.registry & work["nik"].notna().to_numpy())
    rows = work.iloc[idx]
    frame = encoded_differences(rows["nik"], rows["birth_date"], rows["sex"]).fillna(False)
    values = frame.to_numpy(dtype=bool)
    flagged = values.any(axis=1)
    labels = np.array(frame.columns)
    which = [", ".join(labels[r]) for r in values[flagged]]
    mask = np.zeros(len(work), dtype=bool)
    mask[idx[flagged]] = True
    details = pd.Series(pd.NA, index=range(len(work)), dtype="string")
    details.iloc[idx[flagged]] = [
        f"NIK-encoded {w} differs from the registry record" for w in which
    ]
    return per_row("nik_birthdate_mismatch", f, mask, details)
