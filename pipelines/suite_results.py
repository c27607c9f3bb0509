"""Data-quality suites (expectations/) surfaced as Dagster asset checks.

Each check runs one Great Expectations suite through padu's runner and reports the key
figures as check metadata; Data Docs are updated in the audit settings' ``docs_dir``, and each
suite's verdict in ``quality_result`` names the page of its validation there.
Checks on the standardised records and on the linked residents are blocking: bad data
stops there, before anything is published. Coverage between sources is a warning.
"""

import dagster as dg
import pandas as pd

from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import quality_result
from pipelines.partitions import run_region
from pipelines.resources import AuditSettings


def suite_result(spec, audit: AuditSettings, context, warehouse) -> dg.AssetCheckResult:  # type: ignore[no-untyped-def]
    from expectations.runner import run_suite

    result = run_suite(spec, docs_dir=audit.docs_dir, run_name=context.run.run_id)
    _record(warehouse.open(), context.run.run_id, run_region(context).kemendagri_code, result)
    return dg.AssetCheckResult(
        passed=result.status == "passed",
        severity=dg.AssetCheckSeverity.ERROR
        if result.status == "failed"
        else dg.AssetCheckSeverity.WARN,
        metadata=result.metadata(),
    )


def _record(store: Warehouse, run_id: str, region: str, result) -> None:  # type: ignore[no-untyped-def]
    """Keep the suite's verdict in the warehouse, for the auditor's report."""
    row = pd.DataFrame(
        {
            "run_id": [run_id],
            "region": [region],
            "suite": [result.name],
            "status": [result.status],
            "rows": [int(result.rows)],
            "failed_blocking": [", ".join(result.failed_blocking) or None],
            "warnings": [", ".join(result.warnings) or None],
            # This suite's validation page (the site's index lists every run).
            "data_docs": [str(result.data_docs_page) if result.data_docs_page else None],
            "checked_at": [pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")],
        }
    )
    store.append(quality_result.name, row)
