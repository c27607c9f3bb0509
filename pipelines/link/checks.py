"""Data-quality suites on the linked residents before they are published: residents and links
are blocking, coverage between sources a warning."""

import dagster as dg

from connectors.warehouse import staging, state
from pipelines.partitions import run_region
from pipelines.resources import AuditSettings, WarehouseResource
from pipelines.suite_results import suite_result


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
    return suite_result(spec, audit, context, warehouse)


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
    return suite_result(spec, audit, context, warehouse)


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
    result = suite_result(coverage_suite(records, audit.quality()), audit, context, warehouse)
    return dg.AssetCheckResult(
        passed=result.passed, severity=dg.AssetCheckSeverity.WARN, metadata=result.metadata
    )


LINK_CHECKS = [resident_quality, link_quality, source_coverage]
