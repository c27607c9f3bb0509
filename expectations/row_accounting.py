"""The row-accounting rule: no input row is lost.

For every file, rows read = rows loaded (in ``resident_link``) + rows quarantined.
"""

from __future__ import annotations

import pandas as pd


def unreconciled(counts: pd.DataFrame) -> pd.DataFrame:
    """Files of ``counts`` (``source_file``, ``rows_read``, ``rows_loaded``,
    ``rows_quarantined``) whose rows do not add up, with the ``difference``."""
    out = counts.assign(
        difference=counts["rows_read"] - counts["rows_loaded"] - counts["rows_quarantined"]
    )
    return out[out["difference"] != 0]
