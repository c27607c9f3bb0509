"""The cross-region pass over every published region (matching/cross_region.py).

Not partitioned: it reads the current state all regions published, after their runs, and
replaces ``cross_region_link`` in one transaction. The orphans (residents without a
civil-registry record in their region) are read at once; the civil registry is read one
region at a time.
"""

import time

import dagster as dg
import pandas as pd

from connectors.schema import COLUMNS, conform
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import RESTRICTED, cross_region_link
from matching.cross_region import CrossRegionResult, link_across_regions
from pipelines.resources import WarehouseResource
from pipelines.retries import TRANSIENT, transient_only

_RECORDS = ", ".join(f"r.{c}" for c in COLUMNS)
_JOIN = (
    f"FROM {RESTRICTED}.source_record r JOIN resident_link l "
    "ON l.source_file = r.source_file AND l.source_row = r.source_row"
)


def _frame(rows: pd.DataFrame) -> pd.DataFrame:
    extra = rows[["resident_id", "region"]].astype("string")
    return pd.concat([conform(rows[list(COLUMNS)]), extra], axis=1)


def orphans(store: Warehouse) -> pd.DataFrame:
    """Current records of residents with no civil-registry record in their region."""
    return _frame(
        store.query(
            f"SELECT {_RECORDS}, l.resident_id, l.region {_JOIN} "
            "JOIN resident p ON p.resident_id = l.resident_id WHERE NOT p.in_dukcapil"
        )
    )


def registry_by_region(store: Warehouse):  # type: ignore[no-untyped-def]
    """The current civil-registry records, one region at a time."""
    regions = store.query("SELECT DISTINCT region FROM resident_link ORDER BY region")
    for region in regions["region"]:
        yield _frame(
            store.query(
                f"SELECT {_RECORDS}, l.resident_id, l.region {_JOIN} "
                "WHERE r.source = 'dukcapil' AND l.region = :region",
                {"region": region},
            )
        )


def cross_region_pass(store: Warehouse, run_id: str) -> CrossRegionResult:
    """Link across regions and replace ``cross_region_link`` with the result."""
    result = link_across_regions(orphans(store), registry_by_region(store))
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
