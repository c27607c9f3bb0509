"""Vectorised text formatting of dates, numbers and identifiers for the extract files.

Dates are formatted once per distinct value, numbers through lookup tables, so half a million
rows cost a few tenths of a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_TWO = np.array([f"{i:02d}" for i in range(100)], dtype=object)
_THREE = np.array([f"{i:03d}" for i in range(1000)], dtype=object)


def ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of datetime64[D] values."""
    year = dates.astype("datetime64[Y]").astype(int) + 1970
    month = dates.astype("datetime64[M]").astype(int) % 12 + 1
    day = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    return year, month, day


def format_dates(dates: np.ndarray, order: str, sep: str) -> np.ndarray:
    """Dates as text, e.g. ``order="dmy", sep="-"`` -> ``31-12-1985``."""
    codes, uniques = pd.factorize(dates)
    uniq = np.asarray(uniques, dtype="datetime64[D]")
    year, month, day = ymd(uniq)
    parts = {"d": _TWO[day], "m": _TWO[month], "y": year.astype(str).astype(object)}
    text = parts[order[0]] + sep + parts[order[1]] + sep + parts[order[2]]
    return np.asarray(text, dtype=object)[codes]


def pad3(values: np.ndarray) -> np.ndarray:
    return _THREE[np.asarray(values, dtype=int)]


def pad4(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=int)
    return _TWO[values // 100] + _TWO[values % 100]


_SMALL = np.arange(10_000).astype(str).astype(object)


def as_text(values: np.ndarray) -> np.ndarray:
    """Integers as unpadded text (a table lookup for the small codes that fill extracts)."""
    values = np.asarray(values).astype(np.int64)
    if len(values) and values.min() >= 0 and values.max() < len(_SMALL):
        return _SMALL[values]
    return values.astype(str).astype(object)


def excel_scientific(digits: str) -> str:
    """How Excel shows a 16-digit number in a General cell: ``3.50101E+15``."""
    mantissa = f"{int(digits):.5E}"
    number, exponent = mantissa.split("E")
    number = number.rstrip("0").rstrip(".")
    return f"{number}E+{int(exponent):02d}"


def excel_decimal(digits: str) -> str:
    """A 16-digit identifier after a round trip through a float column: ``...0001.0``."""
    return repr(float(int(digits)))
