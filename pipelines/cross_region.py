"""The cross-region pass over every published region (matching/cross_region.py).

Not partitioned: it reads the current state all regions published, after their runs, and
replaces ``cross_region_link`` in one transaction. The orphans (residents without a
civil-registry record in their region) are read at once; the civil registry is read one
region at a time.
"""

import time

import dagster as dg

from connectors.warehouse import state
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import cross_region_link
from matching.cross_region import CrossRegionResult, link_across_regions
from pipelines.resources import WarehouseResource
from pipelines.retries import TRANSIENT, transient_only


def cross_region_pass(store: Warehouse, run_id: str) -> CrossRegionResult:
    """Link across regions and replace ``cross_region_link`` with the result."""
    result = link_across_regions(state.orphan_records(store), state.registry_by_region(store))
    links = result.links.assign(run_id=run_id)
    store.replace_rows(cross_region_link.name, links)
    return result


@dg.asset(
    name=cross_region_link.name,
    deps=["resident", "resident_link"],
    description=cross_region_link.comment,
    kinds={"python", "sql"},
    group_name="residents",
    retry_policy=TRANSIENT,
)
@transient_only
def cross_region_links(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    store = warehouse.open()
    result = cross_region_pass(store, context.run.run_id)
    methods = result.links["method"].value_counts()
    return dg.MaterializeResult(
        metadata={
            "links": len(result.links),
            **{f"links_{m}": int(n) for m, n in methods.items()},
            "orphan_residents": result.orphans,
            "registry_rows_read": result.registry_rows,
            "registry_rows_sharing_a_key": result.candidates,
            "ambiguous": result.ambiguous,
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
