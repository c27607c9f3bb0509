"""Column-level NIK rules as boolean columns, for the suites to expect on.

Each function returns nullable booleans on a fresh 0..n-1 index (NA where the rule does not
apply, e.g. no usable NIK), never the NIK itself: the suites hand only these columns to
Great Expectations, so no identifier can reach a validation result or Data Docs.

NIKs are decoded digit by digit with numpy (a million NIKs in well under a second); the
rules are those of ``matching.nik`` and domain.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

# Days per month; 29 February is allowed when the two-digit year is divisible by 4 (the
# century is not encoded, and 00 is a leap year in 2000).
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


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


@dataclass(frozen=True)
class Decoded:
    """The parts of each NIK as integers (0 where the NIK is not 16 digits)."""

    present: np.ndarray  # a value is there
    digits16: np.ndarray  # exactly 16 digits
    province: np.ndarray
    region: np.ndarray  # first 6 digits: province, kab, kec
    kab: np.ndarray
    kec: np.ndarray
    day: np.ndarray  # 40 taken off for women
    female: np.ndarray
    month: np.ndarray
    yy: np.ndarray
    serial: np.ndarray


def decode(nik: pd.Series) -> Decoded:
    """Decode NIK text into its parts, vectorised."""
    text = nik.astype("string")
    present = text.notna().to_numpy()
    chars = np.asarray(text.fillna("").to_numpy(dtype=object), dtype="U")
    n = len(chars)
    width = chars.dtype.itemsize // 4
    codes = chars.view(np.uint32).reshape(n, width) if width and n else np.zeros((n, 0), np.uint32)
    if codes.shape[1] < 16:
        codes = np.hstack([codes, np.zeros((n, 16 - codes.shape[1]), np.uint32)])
    digits = codes[:, :16].astype(np.int64) - 48
    lengths = np.char.str_len(chars) if n else np.zeros(0, dtype=int)
    digits16 = present & (lengths == 16) & ((digits >= 0) & (digits <= 9)).all(axis=1)
    digits = np.where(digits16[:, None], digits, 0)

    def number(start: int, stop: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int64)
        for i in range(start, stop):
            out = out * 10 + digits[:, i]
        return out

    raw_day = number(6, 8)
    female = raw_day > 40
    return Decoded(
        present=present,
        digits16=digits16,
        province=number(0, 2),
        region=number(0, 6),
        kab=number(2, 4),
        kec=number(4, 6),
        day=np.where(female, raw_day - 40, raw_day),
        female=female,
        month=number(8, 10),
        yy=number(10, 12),
        serial=number(12, 16),
    )


def _boolean(values: np.ndarray, applies: np.ndarray) -> pd.Series:
    out = pd.Series(np.asarray(values, dtype=bool), dtype="boolean")
    out[~np.asarray(applies, dtype=bool)] = pd.NA
    return out


def _codes(values: frozenset[str]) -> np.ndarray:
    return np.array(sorted(int(v) for v in values), dtype=np.int64)


def _decoded(nik: pd.Series | Decoded) -> Decoded:
    return nik if isinstance(nik, Decoded) else decode(nik)


def structure_ok(nik: pd.Series | Decoded, province_codes: frozenset[str]) -> pd.Series:
    """Whether each NIK follows the structure rules (domain.md): 16 digits, a known province,
    kab and kec parts not ``00``, a calendar day (+40 for women) and month 01-12, serial not
    ``0000``. NA where the NIK is null. ``nik`` may be given already decoded."""
    d = _decoded(nik)
    month_ok = (d.month >= 1) & (d.month <= 12)
    last_day = _MONTH_DAYS[np.where(month_ok, d.month, 0)]
    last_day = np.where((d.month == 2) & (d.yy % 4 != 0), 28, last_day)
    ok = (
        d.digits16
        & np.isin(d.province, _codes(province_codes))
        & (d.kab != 0)
        & (d.kec != 0)
        & month_ok
        & (d.day >= 1)
        & (d.day <= last_day)
        & (d.serial != 0)
    )
    return _boolean(ok, d.present)


def region_known(nik: pd.Series | Decoded, kecamatan_codes: frozenset[str]) -> pd.Series:
    """Whether the kecamatan a NIK was issued in (its first 6 digits) is in today's reference
    table. NA where the NIK is null."""
    d = _decoded(nik)
    return _boolean(d.digits16 & np.isin(d.region, _codes(kecamatan_codes)), d.present)


def encoded_differences(
    nik: pd.Series | Decoded, birth_date: pd.Series, sex: pd.Series
) -> pd.DataFrame:
    """Which parts of the birth date and sex encoded in each NIK differ from the record's.

    Columns ``day``, ``month``, ``year`` (two digits: the century is not encoded), ``sex``:
    nullable booleans, NA where either side is missing or the NIK is not 16 digits.
    """
    d = _decoded(nik)
    birth = pd.to_datetime(birth_date.reset_index(drop=True))
    has_birth = birth.notna().to_numpy() & d.digits16
    recorded = sex.astype("string").reset_index(drop=True)
    has_sex = recorded.isin(["M", "F"]).to_numpy(dtype=bool) & d.digits16
    day = birth.dt.day.fillna(0).to_numpy(dtype=np.int64)
    month = birth.dt.month.fillna(0).to_numpy(dtype=np.int64)
    yy = (birth.dt.year.fillna(0) % 100).to_numpy(dtype=np.int64)
    female = (recorded == "F").fillna(False).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "day": _boolean(d.day != day, has_birth),
            "month": _boolean(d.month != month, has_birth),
            "year": _boolean(d.yy != yy, has_birth),
            "sex": _boolean(d.female != female, has_sex),
        }
    )


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
    return _boolean(~differs, comparable)
