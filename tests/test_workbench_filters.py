"""How values read on the workbench's pages: numbers, dates, and identifiers masked."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from workbench.filters import shown
from workbench.masking import masked_pair


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


@pytest.mark.parametrize(
    ("left", "right", "shown"),
    [
        # A mistyped last digit, and two swapped digits: just those digits show.
        ("3201011505900001", "3201011505900002", ("•" * 15 + "1", "•" * 15 + "2")),
        ("3201011505900001", "3201011505090001", ("•" * 10 + "90••••", "•" * 10 + "09••••")),
        # Two people's numbers: nothing of either shows.
        ("3201011505900001", "3201012708850003", ("•" * 16, "•" * 16 + " (6 digits differ)")),
        # A digit lost (a shifted tail would show nearly everything): masked whole.
        ("320101150590001", "3201011505900001", ("•" * 15, "•" * 16 + " (lengths differ)")),
        (None, "3201011505900001", ("none", "•" * 16)),
    ],
)
def test_a_pair_of_numbers_shows_only_a_typing_error(left, right, shown):
    assert masked_pair(left, right) == shown
