"""Per-source records assets: each source's rows in the canonical person schema.

A file loaded before is not standardised again: its records are taken from
``restricted.source_record``.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from connectors.agencies import FORMATS
from connectors.agencies.extract import TEXT, RawExtract
from connectors.schema import Source, conform
from connectors.warehouse import staging, state
from pipelines.partitions import regions, run_region
from pipelines.resources import WarehouseResource
from pipelines.retries import TRANSIENT, transient_only

GROUP = "sources"


def _records_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{source.value}_records",
        group_name=GROUP,
        deps=[f"{source.value}_raw"],
        partitions_def=regions,
        retry_policy=TRANSIENT,
        description=(
            f"{source.value} rows in the canonical person schema: Kemendagri region codes, "
            "parsed dates, normalised names, unusable identifiers nulled with a reason."
        ),
        kinds={"python", "pandas"},
    )
    @transient_only
    def records_asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        kab = run_region(context)
        store = warehouse.open()
        info = store.read_table(staging.file_table(source, kab)).iloc[0]
        if info["new_load"]:
            rows = store.read_table(staging.raw_table(source, kab))
            for column in rows.columns:
                if column != "source_row":
                    rows[column] = rows[column].astype(TEXT)
            raw = RawExtract(Path(info["path"]), info["checksum"], info["encoding"], rows)
            snapshot = pd.Timestamp(info["snapshot_date"]).date()
            records = conform(FORMATS[source].standardise(raw, snapshot, kab))
        else:
            records = conform(state.stored_records(store, kab.kemendagri_code, info["source_file"]))
        store.replace_table(staging.records_table(source, kab), records)
        nik_issues = records["nik_issue"].value_counts().to_dict()
        unresolved = int(records["desa_code"].isna().sum())
        context.log.info(f"{info['source_file']}: {len(records):,} records standardised")
        return dg.MaterializeResult(
            metadata={
                "records": len(records),
                "reused": not bool(info["new_load"]),
                "nik_unusable": int(records["nik"].isna().sum()),
                "nik_unusable_by_reason": {str(k): int(v) for k, v in nik_issues.items()},
                "desa_unresolved": unresolved,
                "birth_date_missing": int(records["birth_date"].isna().sum()),
            }
        )

    return records_asset


RECORDS_ASSETS = [_records_asset(source) for source in Source]
