"""How values read on the workbench's pages."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from workbench.filters import shown


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1939.0, "1,939"),  # a count the database summed into a float
        (0.6789, "0.679"),
        (float("nan"), ""),
        (None, ""),
        (pd.NA, ""),
        (True, "yes"),
        (12345, "12,345"),
        (date(2026, 11, 1), "2026-11-01"),
        (pd.Timestamp("2026-12-04 19:21:13"), "2026-12-04 19:21"),
        ("<b>", "<b>"),  # escaping is the templates' (autoescape), not this filter's
    ],
)
def test_values_read_as_a_person_expects(value, text):
    assert shown(value) == text
