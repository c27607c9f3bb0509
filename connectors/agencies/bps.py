"""BPS Regsosek-style roster: CSV, one row per family member where people actually live."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from connectors.agencies.extract import RawExtract, read_delimited
from connectors.agencies.mapping import load_mapping
from connectors.agencies.standardise import (
    add_birth_date,
    add_codes,
    add_identifiers,
    add_integers,
    add_name,
    base_frame,
    finish,
)
from connectors.agencies.values import IssueLog, parse_int, upper_text
from connectors.reference.regions import bps_to_kemendagri
from connectors.schema import Source

SEX = {"1": "M", "2": "F"}
MARITAL = {"1": "belum_kawin", "2": "kawin", "3": "cerai_hidup", "4": "cerai_mati"}
RELATION = dict(
    zip(
        [str(i) for i in range(1, 9)],
        ["head", "spouse", "child", "child_in_law", "grandchild", "parent", "helper", "other"],
        strict=True,
    )
)


def read(path: Path, mapping: Path | None = None) -> RawExtract:
    return read_delimited(path, delimiter=",", quoted=True, mapping=load_mapping("bps", mapping))


def _digits(values: pd.Series, width: int) -> tuple[pd.Series, pd.Series]:
    number, bad = parse_int(values)
    text = number.astype("string").str.zfill(width)
    return text.where(text.str.len() == width), bad.fillna(False) | number.isna()


def standardise(raw: RawExtract, snapshot: date) -> pd.DataFrame:
    rows = raw.readable
    out = base_frame(raw, Source.BPS, snapshot)
    issues = IssueLog(rows.index)
    add_identifiers(out, rows["R403"], None)
    add_name(out, upper_text(rows["R402"]))
    add_codes(out, rows, issues, {"R405": ("sex", SEX), "R408": ("marital_status", MARITAL),
                                  "R404": ("relation", RELATION)})  # fmt: skip
    if "R406" in rows:
        add_birth_date(out, rows["R406"], snapshot, issues)
    add_integers(out, rows, issues, {"R407": "age_reported"})

    prov, bad_prov = _digits(rows["R101"], 2)
    kab, bad_kab = _digits(rows["R102"], 2)
    kec, bad_kec = _digits(rows["R103"], 3)
    desa, bad_desa = _digits(rows["R104"], 3)
    crosswalk = bps_to_kemendagri()
    bps_kec = prov + kab + kec
    bps_desa = bps_kec + desa
    out["kab_code"] = (prov + kab).map(crosswalk).astype("string")
    out["kec_code"] = bps_kec.map(crosswalk).astype("string")
    out["desa_code"] = bps_desa.map(crosswalk).astype("string")
    # A desa whose Kemendagri code sits in another kecamatan than its BPS parent: trust the desa.
    known_desa = out["desa_code"].notna()
    out.loc[known_desa, "kec_code"] = out.loc[known_desa, "desa_code"].str.slice(0, 8)
    out.loc[known_desa, "kab_code"] = out.loc[known_desa, "desa_code"].str.slice(0, 5)
    unreadable = bad_prov | bad_kab | bad_kec | bad_desa
    issues.add(unreadable, "region_code_unreadable")
    issues.add(~unreadable & out["desa_code"].isna(), "region_code_unknown")

    building = rows.get("R109", pd.Series(pd.NA, index=rows.index, dtype="string"))
    family = rows.get("R110", pd.Series(pd.NA, index=rows.index, dtype="string"))
    out["household"] = (bps_desa.fillna("?") + "/" + rows.get("R105", "").fillna("") + "/"
                        + building.fillna("") + "/" + family.fillna(""))  # fmt: skip
    return finish(out, issues)
