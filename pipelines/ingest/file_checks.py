"""Checks on each source's raw extract: no line lost in reading, and the snapshot in use is
the newest delivered.

``line_accounting`` is blocking: a file whose rows read differ from its lines after the
header (counted apart from the reading) stops the region before anything is standardised.
``current_snapshot`` fails (not blocking) when the newest file was refused and the source
stays on an older snapshot: the run publishes, and still fails so that an engineer notices.
"""

import dagster as dg
import pandas as pd

from connectors.schema import Source
from connectors.warehouse import staging
from pipelines.partitions import run_region
from pipelines.resources import WarehouseResource


def _staged_file(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, source: Source
) -> pd.Series:
    store = warehouse.open()
    return store.read_table(staging.file_table(source, run_region(context))).iloc[0]


def _line_accounting(source: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"{source.value}_raw",
        name="line_accounting",
        blocking=True,
        description=f"Every line of the {source.value} file after its header is a row read "
        "(loaded or quarantined): rows read = lines, counted apart from the reading.",
    )
    def check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        info = _staged_file(context, warehouse, source)
        read = int(info["rows_read"])
        if not bool(info["new_load"]) or pd.isna(info["lines"]):
            # Reused records were reconciled when the file was loaded; a spreadsheet has
            # rows, not lines.
            return dg.AssetCheckResult(
                passed=True, metadata={"file": str(info["source_file"]), "rows_read": read}
            )
        lines = int(info["lines"])
        verdict = (
            "reconciled"
            if read == lines
            else f"{info['source_file']}: {read:,} rows read from {lines:,} lines after the header"
        )
        return dg.AssetCheckResult(
            passed=read == lines,
            description=verdict,
            metadata={"file": str(info["source_file"]), "lines": lines, "rows_read": read},
        )

    return check


def _current_snapshot(source: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"{source.value}_raw",
        name="current_snapshot",
        description=f"The newest {source.value} file was loaded; fails when it was refused "
        "(unreadable, or far fewer rows than the current snapshot) and the source stays on "
        "its current snapshot.",
    )
    def check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        info = _staged_file(context, warehouse, source)
        if pd.isna(info["refused_file"]):
            return dg.AssetCheckResult(passed=True, metadata={"file": str(info["source_file"])})
        since = pd.Timestamp(info["snapshot_date"]).date().isoformat()
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{source.value} is stale since {since}: {info['refused_reason']}",
            metadata={
                "refused_file": str(info["refused_file"]),
                "reason": str(info["refused_reason"]),
                "current_snapshot": str(info["source_file"]),
                "stale_since": since,
            },
        )

    return check


FILE_CHECKS = [
    factory(source) for source in Source for factory in (_line_accounting, _current_snapshot)
]
