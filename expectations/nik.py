"""Column-level NIK rules as boolean columns, for the suites to expect on.

Each function returns nullable booleans on a fresh 0..n-1 index (NA where the rule does not
apply, e.g. no usable NIK), never the NIK itself: the suites hand only these columns to
Great Expectations, so no identifier can reach a validation result or Data Docs.

NIKs are decoded by ``matching.nik.decode``; the rules are those of docs/domain.md.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from matching.nik import (
    Decoded,
    decode,
    encoded_differences,
    known_codes,
    nullable,
    structure_valid,
)

__all__ = ["Decoded", "date_matches", "decode", "encoded_differences", "reference_codes",
           "region_known", "structure_ok"]  # fmt: skip


@lru_cache(maxsize=1)
def reference_codes() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Kemendagri province codes (``63``), kecamatan codes without dots (``630901``) and
    dotted desa codes (``63.09.01.2001``) of the region reference table."""
    from connectors.reference.regions import known_kemendagri_codes

    codes = pd.Series(sorted(known_kemendagri_codes()), dtype="string")
    provinces = frozenset(codes[codes.str.fullmatch(r"\d{2}")])
    kecamatan = frozenset(codes[codes.str.fullmatch(r"\d{2}\.\d{2}\.\d{2}")].str.replace(".", ""))
    desa = frozenset(codes[codes.str.fullmatch(r"\d{2}\.\d{2}\.\d{2}\.\d{4}")])
    return provinces, kecamatan, desa


def structure_ok(nik: pd.Series | Decoded, province_codes: frozenset[str]) -> pd.Series:
    """Whether each NIK follows the structure rules (docs/domain.md): those of
    ``matching.nik.structure_valid`` and a known province. NA where the NIK is null. ``nik``
    may be given already decoded."""
    d = decode(nik)
    return nullable(
        structure_valid(d) & np.isin(d.province, known_codes(province_codes)), d.present
    )


def region_known(nik: pd.Series | Decoded, kecamatan_codes: frozenset[str]) -> pd.Series:
    """Whether the kecamatan a NIK was issued in (its first 6 digits) is in today's reference
    table. NA where the NIK is null."""
    d = decode(nik)
    return nullable(d.digits16 & np.isin(d.region, known_codes(kecamatan_codes)), d.present)


def date_matches(
    nik: pd.Series | Decoded, birth_date: pd.Series, sex: pd.Series, usable: pd.Series | None = None
) -> pd.Series:
    """Whether the birth date and sex encoded in each NIK agree with the record's.

    NA where there is nothing to compare (no NIK, or neither birth date nor sex), and where
    ``usable`` (e.g. the structure check) is not true: a malformed NIK encodes no date.
    """
    diff = encoded_differences(nik, birth_date, sex)
    date_differs = (diff["day"] | diff["month"] | diff["year"]).fillna(False)
    differs = date_differs.to_numpy(dtype=bool) | diff["sex"].fillna(False).to_numpy(dtype=bool)
    comparable = diff["day"].notna().to_numpy() | diff["sex"].notna().to_numpy()
    if usable is not None:
        comparable &= pd.Series(usable.to_numpy(), dtype="boolean").fillna(False).to_numpy(bool)
    return nullable(~differs, comparable)
