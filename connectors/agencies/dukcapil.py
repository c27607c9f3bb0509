"""Disdukcapil DKB extract: ``|``-delimited text with SIAK column names (docs/input-formats.md)."""

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
    add_texts,
    base_frame,
    finish,
)
from connectors.agencies.values import IssueLog, map_codes, parse_int, upper_text
from connectors.reference.regions import known_kemendagri_codes
from connectors.schema import RELATIONS, Source
from matching.names import normalise_names

SEX = {"1": "M", "2": "F"}
MARITAL = {"1": "belum_kawin", "2": "kawin", "3": "cerai_hidup", "4": "cerai_mati"}
RELATION = dict(
    zip(
        [str(i) for i in range(1, 12)],
        ["head", "spouse", "spouse", "child", "child_in_law", "grandchild", "parent",
         "parent_in_law", "other_family", "helper", "other"],
        strict=True,
    )
)  # fmt: skip
ALIVE = {"1": "true", "2": "false"}
assert set(RELATION.values()) <= set(RELATIONS)


def read(path: Path, mapping: Path | None = None) -> RawExtract:
    return read_delimited(
        path, delimiter="|", quoted=False, mapping=load_mapping("dukcapil", mapping)
    )


def standardise(raw: RawExtract, snapshot: date) -> pd.DataFrame:
    rows = raw.readable
    out = base_frame(raw, Source.DUKCAPIL, snapshot)
    issues = IssueLog(rows.index)
    add_identifiers(out, rows["NIK"], rows.get("NO_KK"))
    add_name(out, upper_text(rows["NAMA_LGKP"]))

    add_codes(out, rows, issues, {"JENIS_KLMIN": ("sex", SEX),
                                  "STAT_KWN": ("marital_status", MARITAL),
                                  "STAT_HBKEL": ("relation", RELATION)})  # fmt: skip
    if "STAT_HIDUP" in rows:
        alive, bad = map_codes(rows["STAT_HIDUP"], ALIVE)
        out["alive"] = alive.map({"true": True, "false": False}).astype("boolean")
        issues.add(bad, "alive_unknown_code")
    add_birth_date(out, rows["TGL_LHR"], snapshot, issues)
    add_integers(out, rows, issues, {"AGAMA": "religion", "JENIS_PKRJN": "occupation",
                                     "NO_RT": "rt", "NO_RW": "rw"})  # fmt: skip
    add_texts(out, rows, {"TMPT_LHR": "birth_place", "ALAMAT": "address"})
    if "NAMA_LGKP_IBU" in rows:
        out["mother_name"] = normalise_names(upper_text(rows["NAMA_LGKP_IBU"]))["name_norm"]
    out["household"] = out.get("kk", pd.NA)

    parts = {}
    bad_region = pd.Series(False, index=rows.index)
    for column, width in (("NO_PROP", 2), ("NO_KAB", 2), ("NO_KEC", 2), ("NO_KEL", 4)):
        number, bad = parse_int(rows[column])
        bad_region |= bad.fillna(False) | number.isna()
        parts[column] = number.astype("string").str.zfill(width)
    kab = parts["NO_PROP"] + "." + parts["NO_KAB"]
    kec = kab + "." + parts["NO_KEC"]
    desa = kec + "." + parts["NO_KEL"]
    unknown = ~desa.isin(known_kemendagri_codes()).fillna(False) & ~bad_region
    issues.add(bad_region, "region_code_unreadable")
    issues.add(unknown, "region_code_unknown")
    out["kab_code"] = kab.mask(bad_region)
    out["kec_code"] = kec.mask(bad_region)
    out["desa_code"] = desa.mask(bad_region)
    return finish(out, issues)
