"""Vectorised parsing of the value formats agencies use (dates, integers, codes).

Each parser returns the parsed values and a boolean mask of values that were present but
could not be parsed, so the caller can record an issue for the row without keeping the value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pandas as pd

_EXCEL_EPOCH = pd.Timestamp("1899-12-30")

_Parsed = TypeVar("_Parsed", pd.Series, tuple[pd.Series, pd.Series])


def _per_distinct(parse: Callable[..., _Parsed]) -> Callable[..., _Parsed]:
    """Run ``parse`` on each distinct value once and spread the results back to the rows.

    Extract columns repeat a great deal (thirty thousand birth dates, a handful of codes in
    a million rows), and the regular expressions are what costs.
    """

    @functools.wraps(parse)
    def distinct_only(values: pd.Series, *args: Any, **options: Any) -> _Parsed:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        # The null's result goes last, where code -1 picks it.
        distinct = pd.concat([pd.Series(uniques, dtype=object), pd.Series([None], dtype=object)])
        parsed = parse(distinct.reset_index(drop=True), *args, **options)

        def spread(result: pd.Series) -> pd.Series:
            return result.take(codes).set_axis(values.index)  # -1 takes the last: the null

        if isinstance(parsed, tuple):
            return tuple(spread(part) for part in parsed)  # type: ignore[return-value]
        return spread(parsed)

    return distinct_only


def _blank_to_na(values: pd.Series) -> pd.Series:
    text = values.astype("string[pyarrow]").str.strip()
    return text.mask(text == "")


@_per_distinct
def parse_dates(values: pd.Series, *, reference: date) -> tuple[pd.Series, pd.Series]:
    """Parse day-first dates in the forms agencies send.

    Accepted: ``DD-MM-YYYY``, ``DD/MM/YYYY``, ``DD|MM|YYYY``, ``DD.MM.YYYY`` (one- or two-digit
    day and month), the same with a two-digit year (a year that would fall after ``reference``
    is taken as 19xx), ISO ``YYYY-MM-DD`` (optionally with a time, as Excel writes it), and
    Excel serial day numbers (``31412``). Returns ``(dates, unparseable_mask)``.
    """
    text = _blank_to_na(values)
    year = pd.Series(np.nan, index=text.index)
    month = pd.Series(np.nan, index=text.index)
    day = pd.Series(np.nan, index=text.index)

    dmy = text.str.extract(r"^(\d{1,2})[-/|.](\d{1,2})[-/|.](\d{4}|\d{2})$").astype(object)
    has_dmy = dmy[0].notna()
    y = pd.to_numeric(dmy[2], errors="coerce").astype(float)
    two_digit = dmy[2].str.len() == 2
    century = np.where(2000 + y > reference.year, 1900, 2000)
    y = y.where(~two_digit.fillna(False), y + century)
    year = year.where(~has_dmy, y)
    month = month.where(~has_dmy, pd.to_numeric(dmy[1], errors="coerce"))
    day = day.where(~has_dmy, pd.to_numeric(dmy[0], errors="coerce"))

    iso = text.str.extract(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T][\d:.]+)?$").astype(object)
    has_iso = iso[0].notna()
    year = year.where(~has_iso, pd.to_numeric(iso[0], errors="coerce"))
    month = month.where(~has_iso, pd.to_numeric(iso[1], errors="coerce"))
    day = day.where(~has_iso, pd.to_numeric(iso[2], errors="coerce"))

    parsed = pd.to_datetime(
        pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce"
    )

    serial = text.str.fullmatch(r"\d{3,5}(?:\.0+)?", na=False) & ~has_dmy & ~has_iso
    if serial.any():
        days = pd.to_numeric(text[serial], errors="coerce")
        parsed = parsed.astype("datetime64[ns]")
        parsed[serial] = _EXCEL_EPOCH + pd.to_timedelta(days, unit="D")

    parsed = parsed.astype("datetime64[ns]")
    unparseable = text.notna() & parsed.isna()
    return parsed, unparseable


@_per_distinct
def parse_int(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integers written with or without zero padding (``003``, ``3``, ``3.0`` from Excel)."""
    text = _blank_to_na(values)
    cleaned = text.str.replace(r"\.0+$", "", regex=True)
    ok = cleaned.str.fullmatch(r"\d{1,9}", na=False)
    numbers = pd.to_numeric(cleaned.where(ok), errors="coerce").astype("Int64")
    return numbers, text.notna() & ~ok


@_per_distinct
def map_codes(values: pd.Series, codes: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Translate a code list (``{"1": "M", "2": "F"}``); unknown codes are flagged.

    Numeric codes match with or without zero padding or an Excel ``.0``.
    """
    text = _blank_to_na(values).str.upper()
    if all(k.isdigit() for k in codes):
        text = text.str.replace(r"\.0+$", "", regex=True).str.lstrip("0")
        text = text.mask((text == "").fillna(False), "0")
    mapped = text.map(codes).astype("string")
    return mapped, text.notna() & mapped.isna()


@_per_distinct
def upper_text(values: pd.Series) -> pd.Series:
    """Trimmed upper-case text with runs of spaces collapsed; blanks become null."""
    return _blank_to_na(values).str.upper().str.replace(r"\s+", " ", regex=True)


class IssueLog:
    """Collects per-row problems as short codes, joined into the ``issues`` column."""

    def __init__(self, index: pd.Index) -> None:
        self._joined = pd.Series("", index=index, dtype=object)

    def add(self, mask: pd.Series, code: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            self._joined = self._joined + np.where(mask, code + ";", "")

    def column(self) -> pd.Series:
        joined = self._joined.str.rstrip(";").astype("string")
        return joined.mask(joined == "")
