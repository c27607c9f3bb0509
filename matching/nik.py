"""NIK and family-card (KK) numbers: structure, cleaning and keyed pseudonyms.

A NIK is ``PP KK CC DDMMYY SSSS``: the kecamatan of first registration (Kemendagri), the birth
date with 40 added to the day for women, and a serial from 0001. The century is not encoded.
A KK number is a 6-digit region, an issue date ``DDMMYY`` (no +40) and a serial.

Everything here is vectorised over pandas Series. Functions that return reasons never return
the identifier itself, so their output is safe to log or report.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

#: BPS placeholder NIKs (formats.md): refused, none and under 17, none and 17+, foreign citizen.
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


def nik_structure_issue(nik: pd.Series, known_kecamatan: frozenset[str] | None = None) -> pd.Series:
    """Reason a 16-digit NIK breaks the structural rules, or null when it follows them.

    Rules: kab and kec parts not ``00``; day 01-31 (men) or 41-71 (women); month 01-12;
    serial not ``0000``; if ``known_kecamatan`` (6-digit codes) is given, the region is known.
    An unknown region is not an error in itself (old NIKs keep pre-split codes); callers decide.
    """
    parts = nik_parts(nik)
    day = parts["day"]
    ok = (
        nik.str.fullmatch(r"\d{16}", na=False)
        & (parts["kab"] != "00")
        & (parts["kec"] != "00")
        & day.between(1, 31)
        & parts["month"].between(1, 12)
        & (parts["serial"] != "0000")
    )
    if known_kecamatan is not None:
        ok &= parts["region"].isin(known_kecamatan)
    issue = pd.Series(pd.NA, index=nik.index, dtype="string")
    return issue.mask(nik.notna() & ~ok.fillna(False), REASON_STRUCTURE)


def nik_parts(nik: pd.Series) -> pd.DataFrame:
    """Decode NIKs: ``region`` (6 digits), ``kab``, ``kec``, ``day`` (1-31), ``month``,
    ``yy`` (two-digit year), ``sex`` (``M``/``F``), ``serial``. Nulls stay null."""
    text = nik.astype("string")
    raw_day = pd.to_numeric(text.str.slice(6, 8), errors="coerce").astype("Int64")
    female = raw_day > 40
    return pd.DataFrame(
        {
            "region": text.str.slice(0, 6),
            "kab": text.str.slice(2, 4),
            "kec": text.str.slice(4, 6),
            "day": raw_day.where(~female, raw_day - 40),
            "month": pd.to_numeric(text.str.slice(8, 10), errors="coerce").astype("Int64"),
            "yy": pd.to_numeric(text.str.slice(10, 12), errors="coerce").astype("Int64"),
            "sex": pd.Series(np.where(female.fillna(False), "F", "M"), index=nik.index)
            .astype("string")
            .where(raw_day.notna()),
            "serial": text.str.slice(12, 16),
        },
        index=nik.index,
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
