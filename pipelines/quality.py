"""Data-quality suites (expectations/) surfaced as Dagster asset checks.

Each check runs one Great Expectations suite through padu's runner and reports the key
figures as check metadata; Data Docs are updated in the audit settings' ``docs_dir``, and each
suite's verdict in ``quality_result`` names the page of its validation there.
Checks on the standardised records and on the linked residents are blocking: bad data
stops there, before anything is published. Coverage between sources is a warning.
"""

import dagster as dg
import pandas as pd

from connectors.schema import Source, conform
from connectors.warehouse import staging, state
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import quality_result
from pipelines.partitions import run_region
from pipelines.resources import AuditSettings, WarehouseResource


def _result(spec, audit: AuditSettings, context, warehouse) -> dg.AssetCheckResult:  # type: ignore[no-untyped-def]
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
        return _result(records_suite(records, source, audit.quality()), audit, context, warehouse)

    return check


def _staged(context, warehouse: WarehouseResource, whole: str):  # type: ignore[no-untyped-def]
    """The run's staged ``whole`` table ("residents" or "links") and the resident IDs of the
    other one (all a suite needs of it: reading only that column halves the reading)."""
    store = warehouse.open()
    kab = run_region(context)
    tables = {"residents": staging.residents_table(kab), "links": staging.links_table(kab)}
    (other,) = set(tables) - {whole}
    ids = state.column_of(store, tables[other], "resident_id")
    return store.read_table(tables[whole]), ids


@dg.asset_check(
    asset="linked_residents",
    name="resident_quality",
    blocking=True,
    description="Suite on the residents before they are published: resident_id unique and "
    "linked, known region codes, plausible birth dates.",
)
def resident_quality(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    audit: AuditSettings,
) -> dg.AssetCheckResult:
    from expectations.suites import resident_suite

    residents, linked_ids = _staged(context, warehouse, "residents")
    spec = resident_suite(residents, linked_ids, audit.quality())
    return _result(spec, audit, context, warehouse)


@dg.asset_check(
    asset="linked_residents",
    name="link_quality",
    blocking=True,
    description="Suite on the links before they are published: every link points at a "
    "resident, one link per source row, known link methods.",
)
def link_quality(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    audit: AuditSettings,
) -> dg.AssetCheckResult:
    from expectations.suites import resident_link_suite

    links, resident_ids = _staged(context, warehouse, "links")
    spec = resident_link_suite(links, resident_ids, audit.quality())
    return _result(spec, audit, context, warehouse)


@dg.asset_check(
    asset="linked_residents",
    name="source_coverage",
    description="Voters per living registry adult and BPS persons per registry person, per "
    "kecamatan, within configurable bounds (a warning).",
)
def source_coverage(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    audit: AuditSettings,
) -> dg.AssetCheckResult:
    from expectations.suites import coverage_suite

    records = staging.read_records(warehouse.open(), run_region(context))
    result = _result(coverage_suite(records, audit.quality()), audit, context, warehouse)
    return dg.AssetCheckResult(
        passed=result.passed, severity=dg.AssetCheckSeverity.WARN, metadata=result.metadata
    )


QUALITY_CHECKS = [
    *(_records_check(source) for source in Source),
    resident_quality,
    link_quality,
    source_coverage,
]
