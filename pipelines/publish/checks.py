"""Asset checks on the published tables."""

import dagster as dg

from connectors.warehouse.summaries import file_accounting
from expectations.row_accounting import unreconciled
from pipelines.partitions import run_region
from pipelines.resources import WarehouseResource


@dg.asset_check(
    asset="resident_link",
    blocking=True,
    description="For every current file of the region: rows read = rows in resident_link + rows in "
    "quarantine. No row is lost.",
)
def row_accounting(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    region = run_region(context).kemendagri_code
    store = warehouse.open()
    counts = file_accounting(store, region)
    bad = unreconciled(counts)
    per_file = {
        row.source_file: {
            "read": int(row.rows_read),
            "linked": int(row.rows_loaded),
            "quarantined": int(row.rows_quarantined),
        }
        for row in counts.itertuples()
    }
    return dg.AssetCheckResult(
        passed=bool(len(counts) > 0 and bad.empty),
        metadata={
            "files": len(counts),
            "unreconciled_files": ", ".join(bad["source_file"]) or "none",
            "per_file": per_file,
        },
    )
