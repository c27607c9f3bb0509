"""Findings about the BPS enumeration: people enumerated in another desa than they are
registered in, and people BPS enumerated who have no civil-registry row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.discrepancies.facts import Facts, join_by
from matching.discrepancies.findings import no_findings, per_resident


def domicile_differs(f: Facts) -> pd.DataFrame:
    """BPS rows enumerated in another desa than any of the person's registered desa."""
    work = f.work
    desa = work["desa_code"].astype("string").to_numpy(dtype=object, na_value=None)
    registered = pd.DataFrame({"code": f.code[f.registry], "desa": desa[f.registry]})
    registered = registered.dropna().drop_duplicates()
    bps = f.bps & pd.notna(desa) & f.in_registry[f.code]
    found = pd.DataFrame({"code": f.code[bps], "desa": desa[bps]})
    same = found.merge(registered.assign(same=True), on=["code", "desa"], how="left")["same"]
    idx = np.flatnonzero(bps)[same.isna().to_numpy()]
    if len(idx) == 0:
        return no_findings()
    codes = f.code[idx]
    home_rows = registered[registered["code"].isin(codes)].sort_values(["code", "desa"])
    home = join_by(home_rows["code"].to_numpy(), home_rows["desa"].to_numpy(dtype=object), ", ")
    registry_refs = f.refs(f.registry & np.isin(f.code, codes))
    reg = registry_refs.reindex(codes).fillna("").to_numpy()
    bps_refs = f.row_refs(idx)
    homes = home.reindex(codes).fillna("?").to_numpy()
    return pd.DataFrame(
        {
            "kind": "domicile_differs",
            "resident_id": f.ids[codes],
            "source_rows": [f"{r};{b}" if r else b for r, b in zip(reg, bps_refs, strict=True)],
            "details": [
                f"registered in {h}, enumerated by BPS in {e}"
                for h, e in zip(homes, desa[idx], strict=True)
            ],
        }
    )


def bps_not_in_registry(f: Facts) -> pd.DataFrame:
    flagged = (f.count(f.bps) > 0) & ~f.in_registry
    return per_resident(
        "bps_not_in_registry", f, flagged, f.bps, "enumerated by BPS; no civil-registry row"
    )
