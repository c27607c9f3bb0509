"""Jinja filters: how numbers, dates and missing values read on the pages."""

from __future__ import annotations

import math
from datetime import date, datetime

import jinja2
import pandas as pd


def shown(value: object, digits: int = 3) -> str:
    """A value as text: blank for missing, thousands separated, floats rounded, whole numbers
    as integers (a count the database summed into a float)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return f"{int(value):,}"
        return f"{value:,.{digits}f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, pd.Timestamp | datetime):
        if pd.isna(value):
            return ""
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """A frame's rows as dicts of plain Python values, for the templates."""
    return [
        {
            k: (v.item() if hasattr(v, "item") and not isinstance(v, str) else v)
            for k, v in r.items()
        }
        for r in frame.to_dict("records")
    ]


def install(env: jinja2.Environment) -> None:
    env.filters["shown"] = shown
    env.filters["records"] = records
