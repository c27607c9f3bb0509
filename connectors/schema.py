"""The canonical person record: the one shape every agency extract is standardised into.

Grain: one row per readable data row of an extract. ``(source_file, source_row)`` is the key;
``source_row`` is the 1-based data row (header excluded), so an auditor can open the file and
find the row.

Region codes are Kemendagri codes in dotted form (``63.09.01.2001``), whatever scheme the
source used. Code lists are made uniform across sources (sex ``M``/``F``; marital status and
relation as words). Identifiers are 16-digit text or null; when null, ``nik_issue``/``kk_issue``
says why (``missing``, ``placeholder``, ``excel_scientific_notation``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd


class Source(StrEnum):
    """The three agencies."""

    DUKCAPIL = "dukcapil"
    KPU = "kpu"
    BPS = "bps"


@dataclass(frozen=True)
class Field:
    name: str
    dtype: str  # pandas dtype
    doc: str


FIELDS: tuple[Field, ...] = (
    Field("source", "string", "dukcapil, kpu or bps"),
    Field("source_file", "string", "file name the row came from"),
    Field("source_row", "int64", "1-based data row in that file (header excluded)"),
    Field("snapshot_date", "datetime64[ns]", "snapshot date from the file name"),
    Field("nik", "string", "16-digit NIK, or null when unusable"),
    Field("nik_issue", "string", "why the NIK is null (no value shown), or null"),
    Field("kk", "string", "16-digit family card number, or null when unusable"),
    Field("kk_issue", "string", "why the KK number is null, or null"),
    Field("name_raw", "string", "name as written in the source"),
    Field("name_norm", "string", "upper case, titles removed, Muhammad variants unified"),
    Field("name_titles", "string", "titles removed from the name, kept for display"),
    Field("sex", "string", "M or F"),
    Field("birth_date", "datetime64[ns]", "date of birth, parsed"),
    Field("birth_place", "string", "place of birth, upper case"),
    Field("age_reported", "Int64", "age in completed years as reported (BPS)"),
    Field("marital_status", "string", "belum_kawin, kawin, cerai_hidup, cerai_mati, pernah_kawin"),
    Field("relation", "string", "relation to the family head (head, spouse, child, ...)"),
    Field("religion", "Int64", "Disdukcapil code 1-7"),
    Field("occupation", "Int64", "Disdukcapil occupation code (6 TNI, 7 POLRI, ...)"),
    Field("alive", "boolean", "false when the civil registry records a death"),
    Field("mother_name", "string", "mother's full name, normalised"),
    Field("kab_code", "string", "Kemendagri kab/kota code, 63.09"),
    Field("kec_code", "string", "Kemendagri kecamatan code, 63.09.01"),
    Field("desa_code", "string", "Kemendagri desa/kelurahan code, 63.09.01.2001"),
    Field("address", "string", "street address"),
    Field("rt", "Int64", "RT number"),
    Field("rw", "Int64", "RW number"),
    Field("household", "string", "household key within the source (KK or BPS building/family)"),
    Field("tps", "string", "KPU polling station"),
    Field("disability", "Int64", "KPU disability code 0-6"),
    Field("ktp_el", "boolean", "KPU: holds an electronic ID card"),
    Field("issues", "string", "semicolon list of field problems found while parsing"),
)

COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS)
DTYPES: dict[str, str] = {f.name: f.dtype for f in FIELDS}

MARITAL_STATUSES = ("belum_kawin", "kawin", "cerai_hidup", "cerai_mati", "pernah_kawin")
RELATIONS = (
    "head", "spouse", "child", "child_in_law", "grandchild", "parent", "parent_in_law",
    "other_family", "helper", "other",
)  # fmt: skip


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Order and cast a frame to the canonical schema; missing columns are added as null.

    Raises ``ValueError`` naming any column that is not part of the schema, so a connector
    cannot silently add fields.
    """
    extra = set(frame.columns) - set(COLUMNS)
    if extra:
        raise ValueError(f"columns outside the canonical schema: {sorted(extra)}")
    out = pd.DataFrame(index=frame.index)
    for f in FIELDS:
        column = frame[f.name] if f.name in frame else pd.Series(pd.NA, index=frame.index)
        if f.dtype.startswith("datetime"):
            out[f.name] = pd.to_datetime(column, errors="raise").astype(f.dtype)
        else:
            out[f.name] = column.astype(f.dtype)
    return out
