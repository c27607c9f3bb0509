"""Region partitions: every asset is partitioned by kab/kota (514 of them).

A partition key is the 4-digit Kemendagri code agencies use in file names (``6309``), so a
run, its tables and its extracts all name the region the same way.
"""

import dagster as dg

from connectors.reference.regions import Kabupaten, all_kabupaten, kabupaten

regions = dg.StaticPartitionsDefinition(sorted(k.compact_code for k in all_kabupaten()))


def run_region(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> Kabupaten:
    """The kab/kota the run is for (its partition)."""
    if not context.has_partition_key:
        raise dg.Failure(
            "padu's assets run per region: choose a partition (a kab/kota code such as 6309)",
            allow_retries=False,
        )
    return kabupaten(context.partition_key)
