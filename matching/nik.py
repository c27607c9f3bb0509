"""NIK and family-card (KK) numbers: structure, cleaning and keyed pseudonyms.

A NIK is ``PP KK CC DDMMYY SSSS``: the kecamatan of first registration (Kemendagri), the birth
date with 40 added to the day for women, and a serial from 0001. The century is not encoded.
A KK number is a 6-digit region, an issue date ``DDMMYY`` (no +40) and a serial.

This is padu's one NIK decoder (``decode``); the data-quality rules (``expectations.nik``)
and the discrepancy rules build on it. Everything here is vectorised over pandas Series.
Functions that return reasons never return the identifier itself, so their output is safe to
log or report.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: BPS placeholder NIKs (docs/input-formats.md): refused, none and under 17, none and 17+,
#: foreign citizen.
PLACEHOLDER_NIKS = frozenset(
    {"9999999999999994", "9999999999999995", "9999999999999996", "9999999999999999"}
)

# Reasons an identifier is unusable. They name the problem, never the value.
REASON_MISSING = "missing"
REASON_PLACEHOLDER = "placeholder"
REASON_SCIENTIFIC = "excel_scientific_notation"
REASON_DECIMAL = "excel_decimal_number"
REASON_LENGTH = "wrong_length"
REASON_NOT_DIGITS = "not_digits"
REASON_STRUCTURE = "invalid_structure"


def clean_identifier(raw: pd.Series, *, placeholders: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Split raw NIK/KK text into a usable 16-digit value or a null with a reason.

    Returns a frame with columns ``value`` (16 digits or null) and ``issue`` (null when usable).
    A number Excel wrote in scientific notation or with a decimal part is never repaired: the
    15 significant digits Excel keeps cannot restore a 16-digit identifier.
    """
    text = raw.astype("string[pyarrow]").str.strip()
    text = text.mask(text == "")
    issue = pd.Series(pd.NA, index=raw.index, dtype="string")
    issue = issue.mask(text.isna(), REASON_MISSING)
    scientific = text.str.contains(r"^[0-9.,]+[eE][+-]?\d+$", regex=True, na=False)
    issue = issue.mask(issue.isna() & scientific, REASON_SCIENTIFIC)
    decimal = text.str.contains(r"^\d+[.,]\d+$", regex=True, na=False)
    issue = issue.mask(issue.isna() & decimal, REASON_DECIMAL)
    digits = text.str.fullmatch(r"\d+", na=False)
    issue = issue.mask(issue.isna() & ~digits, REASON_NOT_DIGITS)
    issue = issue.mask(issue.isna() & (text.str.len() != 16), REASON_LENGTH)
    if placeholders:
        issue = issue.mask(issue.isna() & text.isin(placeholders), REASON_PLACEHOLDER)
    value = text.where(issue.isna())
    return pd.DataFrame({"value": value.astype("string"), "issue": issue})


# Days per month; 29 February is allowed when the two-digit year is divisible by 4 (the
# century is not encoded, and 00 is a leap year in 2000).
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


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


def decode(nik: pd.Series | Decoded) -> Decoded:
    """Decode NIK text into its parts, digit by digit with numpy (a million NIKs in well
    under a second). Already decoded NIKs are returned as they are."""
    if isinstance(nik, Decoded):
        return nik
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


def structure_valid(nik: pd.Series | Decoded) -> np.ndarray:
    """Whether each NIK follows the structure rules that need no reference table (docs/domain.md):
    16 digits, kab and kec parts not ``00``, a calendar day (+40 for women) of a month 01-12,
    serial not ``0000``. False where the NIK is null."""
    d = decode(nik)
    month_ok = (d.month >= 1) & (d.month <= 12)
    last_day = _MONTH_DAYS[np.where(month_ok, d.month, 0)]
    last_day = np.where((d.month == 2) & (d.yy % 4 != 0), 28, last_day)
    return (
        d.digits16
        & (d.kab != 0)
        & (d.kec != 0)
        & month_ok
        & (d.day >= 1)
        & (d.day <= last_day)
        & (d.serial != 0)
    )


def known_codes(values: frozenset[str]) -> np.ndarray:
    """Region codes (digits only) as sorted integers, to compare with decoded parts."""
    return np.array(sorted(int(v) for v in values), dtype=np.int64)


def nik_structure_issue(nik: pd.Series, known_kecamatan: frozenset[str] | None = None) -> pd.Series:
    """Reason a NIK breaks the structural rules (``structure_valid``), or null when it follows
    them. If ``known_kecamatan`` (6-digit codes) is given, the region must be known too. An
    unknown region is not an error in itself (old NIKs keep pre-split codes); callers decide."""
    d = decode(nik)
    ok = structure_valid(d)
    if known_kecamatan is not None:
        ok &= np.isin(d.region, known_codes(known_kecamatan))
    issue = pd.Series(pd.NA, index=nik.index, dtype="string")
    return issue.mask(d.present & ~ok, REASON_STRUCTURE)


def nik_parts(nik: pd.Series) -> pd.DataFrame:
    """Decoded NIKs as a frame: ``region`` (6 digits), ``kab``, ``kec``, ``day`` (1-31),
    ``month``, ``yy`` (two-digit year), ``sex`` (``M``/``F``), ``serial``; null where the NIK
    is not 16 digits."""
    d = decode(nik)

    def text(values: np.ndarray, width: int) -> pd.Series:
        out = pd.Series([f"{v:0{width}d}" for v in values], index=nik.index, dtype="string")
        return out.where(d.digits16)

    def number(values: np.ndarray) -> pd.Series:
        return pd.Series(values, index=nik.index, dtype="Int64").where(d.digits16)

    sex = pd.Series(np.where(d.female, "F", "M"), index=nik.index, dtype="string")
    return pd.DataFrame(
        {
            "region": text(d.region, 6),
            "kab": text(d.kab, 2),
            "kec": text(d.kec, 2),
            "day": number(d.day),
            "month": number(d.month),
            "yy": number(d.yy),
            "sex": sex.where(d.digits16),
            "serial": text(d.serial, 4),
        },
        index=nik.index,
    )


def nullable(values: np.ndarray, applies: np.ndarray) -> pd.Series:
    """Booleans on a fresh 0..n-1 index, NA where the rule does not apply."""
    out = pd.Series(np.asarray(values, dtype=bool), dtype="boolean")
    out[~np.asarray(applies, dtype=bool)] = pd.NA
    return out


def encoded_differences(
    nik: pd.Series | Decoded, birth_date: pd.Series, sex: pd.Series
) -> pd.DataFrame:
    """Which parts of the birth date and sex encoded in each NIK differ from the record's.

    Columns ``day``, ``month``, ``year`` (two digits: the century is not encoded), ``sex``:
    nullable booleans on a fresh 0..n-1 index, NA where either side is missing or the NIK is
    not 16 digits.
    """
    d = decode(nik)
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
            "day": nullable(d.day != day, has_birth),
            "month": nullable(d.month != month, has_birth),
            "year": nullable(d.yy != yy, has_birth),
            "sex": nullable(d.female != female, has_sex),
        }
    )


def pseudonymise(values: pd.Series, key: bytes, *, purpose: str) -> pd.Series:
    """Keyed pseudonym (HMAC-SHA256, first 24 hex digits) of each non-null value.

    ``purpose`` separates pseudonym spaces ("nik", "kk", ...) so one identifier does not get the
    same pseudonym in two roles. Without the key a pseudonym cannot be reversed by enumerating
    the (small) NIK space.
    """
    prefix = purpose.encode() + b"\x00"

    def one(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return pd.NA
        digest = hmac.new(key, prefix + str(value).encode(), hashlib.sha256).hexdigest()
        return digest[:24]

    return values.map(one).astype("string")
