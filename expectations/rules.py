"""The building blocks of the data-quality suites (``expectations.suites``): a rule, a suite
spec, the few rule shapes the suites use, and the derived columns they test.

A derived column is computed in pandas, once, for the whole frame: a boolean that is null where
its rule does not apply (such a row passes), so that Great Expectations only checks set
membership on a narrow frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from expectations.settings import QualitySettings


class Severity(StrEnum):
    BLOCKING = "blocking"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    """One expectation: a Great Expectations class name and its arguments."""

    name: str  # short, stable id: "nik_structure"
    expectation: str  # GX class in great_expectations.expectations: "ExpectColumnValuesToBeInSet"
    kwargs: Mapping[str, Any]
    severity: Severity
    description: str

    @property
    def column(self) -> str | None:
        column = self.kwargs.get("column")
        return str(column) if column is not None else None


@dataclass(frozen=True)
class SuiteSpec:
    """A named suite: the frame to validate (no identifiers) and its rules."""

    name: str
    data: pd.DataFrame
    rules: tuple[Rule, ...]
    notes: dict[str, Any] = field(default_factory=dict)  # counts reported with the results

    def __post_init__(self) -> None:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"suite {self.name}: rule names repeat: {sorted(names)}")
        missing = {r.column for r in self.rules if r.column} - set(self.data.columns)
        if missing:
            raise ValueError(f"suite {self.name}: no column {sorted(missing)} to validate")


def in_set(name: str, column: str, values: Iterable[Any], severity: Severity, text: str,
           mostly: float = 1.0) -> Rule:  # fmt: skip
    kwargs: dict[str, Any] = {"column": column, "value_set": list(values)}
    if mostly < 1.0:
        kwargs["mostly"] = mostly
    return Rule(name, "ExpectColumnValuesToBeInSet", kwargs, severity, text)


def is_true(name: str, column: str, severity: Severity, text: str, mostly: float = 1.0) -> Rule:
    """The derived boolean ``column`` is true (nulls, where the rule does not apply, pass)."""
    return in_set(name, column, [True], severity, text, mostly)


def between(name: str, column: str, low: float | None, high: float | None,
            severity: Severity, text: str, mostly: float = 1.0) -> Rule:  # fmt: skip
    kwargs: dict[str, Any] = {"column": column, "min_value": low, "max_value": high}
    if mostly < 1.0:
        kwargs["mostly"] = mostly
    return Rule(name, "ExpectColumnValuesToBeBetween", kwargs, severity, text)


def percent(share: float) -> str:
    return f"{share * 100:g}%"


def completed_years(birth_date: pd.Series, on: pd.Series | pd.Timestamp) -> pd.Series:
    """Age in completed years of each birth date on ``on`` (a date or one date per row);
    NA where the birth date is missing. Plain numpy on datetime64 (fast on a million rows)."""
    birth = pd.to_datetime(birth_date).to_numpy(dtype="datetime64[D]")
    if isinstance(on, pd.Series):
        day = pd.to_datetime(on).to_numpy(dtype="datetime64[D]")
    else:
        day = np.full(len(birth), np.datetime64(pd.Timestamp(on).date(), "D"))

    def parts(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        months = d.astype("datetime64[M]")
        return (
            d.astype("datetime64[Y]").astype(np.int64),
            months.astype(np.int64) % 12,
            (d - months).astype(np.int64),
        )

    with np.errstate(invalid="ignore"):
        by, bm, bd = parts(birth)
        oy, om, od = parts(day)
        before = (om < bm) | ((om == bm) & (od < bd))
        years = oy - by - before.astype(np.int64)
    missing = np.isnat(birth) | np.isnat(day)
    ages = pd.Series(np.where(missing, 0, years), index=birth_date.index, dtype="Int64")
    return ages.mask(missing)


def boolean(values: pd.Series | np.ndarray, applies: pd.Series | np.ndarray) -> pd.Series:
    out = pd.Series(np.asarray(values, dtype=bool), dtype="boolean")
    out[~np.asarray(applies, dtype=bool)] = pd.NA
    return out


def codes_known(codes: pd.Series, known: frozenset[str]) -> pd.Series:
    codes = codes.astype("string").reset_index(drop=True)
    return boolean(codes.isin(known).fillna(False).to_numpy(dtype=bool), codes.notna())


def birth_date_plausible(
    birth_date: pd.Series, snapshot: pd.Series, settings: QualitySettings
) -> pd.Series:
    birth = pd.to_datetime(birth_date).reset_index(drop=True)
    snap = pd.to_datetime(snapshot).reset_index(drop=True)
    ok = (birth >= pd.Timestamp(settings.earliest_birth_date)) & (birth <= snap.fillna(birth))
    return boolean(ok.fillna(False).to_numpy(dtype=bool), birth.notna())
