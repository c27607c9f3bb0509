"""The summary ``padu run`` prints of a region's run: files, residents, stale sources, checks."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from connectors.redaction import url_for_display
from connectors.reference.regions import Kabupaten
from connectors.warehouse import summaries
from connectors.warehouse.engine import Warehouse


def print_summary(url: str, kab: Kabupaten, result: Any, elapsed: float, echo: Any) -> bool:
    """Print the summary of a successful run; True if no blocking check failed."""
    store = Warehouse(url)
    audit = summaries.current_file_counts(store, kab.kemendagri_code)
    residents = summaries.resident_count(store, kab.kemendagri_code)
    checks = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    echo(f"\npadu run {result.run_id} for {kab.kemendagri_code} {kab.name}: {elapsed:.1f} s")
    for row in audit.itertuples():
        again = "" if row.run_id == result.run_id else " (already loaded; not read again)"
        echo(
            f"  {row.source_file}: read {row.rows_read:,}, loaded {row.rows_loaded:,}, "
            f"quarantined {row.rows_quarantined:,}{again}"
        )
    echo(
        f"  total: read {int(audit.rows_read.sum()):,}, loaded {int(audit.rows_loaded.sum()):,},"
        f" quarantined {int(audit.rows_quarantined.sum()):,}; residents {residents:,}"
    )
    refused = summaries.refused_in_run(store, result.run_id)
    for row in refused.itertuples():
        echo(
            f"  STALE {row.source}: stays on {row.current_file} of "
            f"{pd.Timestamp(row.stale_since).date().isoformat()}; {row.source_file} refused: "
            f"{row.reason}"
        )
    for check in checks:
        verdict = (
            "passed"
            if check.passed
            else ("WARNING" if check.severity == dg.AssetCheckSeverity.WARN else "FAILED")
        )
        echo(f"  check {check.asset_key.to_user_string()}.{check.check_name}: {verdict}")
    echo(f"  warehouse: {url_for_display(url)}")
    return all(c.passed or c.severity == dg.AssetCheckSeverity.WARN for c in checks)
