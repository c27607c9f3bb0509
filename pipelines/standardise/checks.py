"""The blocking data-quality suite on each source's standardised records."""

import dagster as dg

from connectors.schema import Source, conform
from connectors.warehouse import staging
from pipelines.partitions import run_region
from pipelines.resources import AuditSettings, WarehouseResource
from pipelines.suite_results import suite_result


def _records_check(source: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"{source.value}_records",
        name="quality",
        blocking=True,
        description=f"Great Expectations suite on the standardised {source.value} records: "
        "NIK structure, region codes, plausible dates, code lists.",
    )
    def check(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        audit: AuditSettings,
    ) -> dg.AssetCheckResult:
        from expectations.suites import records_suite

        records = conform(
            warehouse.open().read_table(staging.records_table(source, run_region(context)))
        )
        suite = records_suite(records, source, audit.quality())
        return suite_result(suite, audit, context, warehouse)

    return check


RECORDS_CHECKS = [_records_check(source) for source in Source]
