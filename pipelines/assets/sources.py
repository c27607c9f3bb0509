"""Per-source assets: the raw extract (every row kept or quarantined), then standardised records."""

from pathlib import Path

import dagster as dg
import pandas as pd

from connectors.agencies import FORMATS
from connectors.extract import TEXT, ExtractError, RawExtract
from connectors.schema import Source, conform
from pipelines.assets import staging
from pipelines.resources import LandingFolder, WarehouseResource

GROUP = "sources"


def _raw_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{source.value}_raw",
        group_name=GROUP,
        description=(
            f"Newest {source.value} extract for the region, as text rows; rows that cannot be "
            "read as a record are marked for quarantine with the reason."
        ),
        kinds={"python", "csv"},
    )
    def raw_asset(
        context: dg.AssetExecutionContext, landing: LandingFolder, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        extract = landing.extract(source)
        kab = extract.kab
        context.log.info(f"reading {extract.path.name} ({source.value}, {kab.kemendagri_code})")
        try:
            raw = FORMATS[source].read(extract.path, landing.mapping_override(source))
        except (ExtractError, OSError) as err:
            raise dg.Failure(str(err)) from None
        for issue in raw.file_issues:
            context.log.warning(f"{extract.path.name}: {issue}")
        if raw.rows_read == 0:
            # A full snapshot with no rows would wipe the source from every resident.
            raise dg.Failure(
                f"{extract.path.name}: {'; '.join(raw.file_issues)}; a snapshot without rows "
                f"does not replace the current {source.value} data"
            )
        quarantined = len(raw.quarantined)
        context.log.info(
            f"{extract.path.name}: {raw.rows_read:,} rows read, {quarantined:,} quarantined"
        )
        store = warehouse.open()
        store.replace_table(staging.raw_table(source, kab), raw.rows)
        info = pd.DataFrame(
            {
                "source": [source.value],
                "source_file": [extract.path.name],
                "path": [str(extract.path.resolve())],
                "region": [kab.kemendagri_code],
                "snapshot_date": [pd.Timestamp(extract.snapshot)],
                "checksum": [raw.checksum],
                "encoding": [raw.encoding],
                "rows_read": pd.array([raw.rows_read], dtype="Int64"),
                "rows_quarantined": pd.array([quarantined], dtype="Int64"),
                "file_issues": pd.array(["; ".join(raw.file_issues) or pd.NA], dtype="string"),
            }
        )
        store.replace_table(staging.file_table(source, kab), info)
        return dg.MaterializeResult(
            metadata={
                "file": extract.path.name,
                "snapshot_date": extract.snapshot.isoformat(),
                "region": kab.kemendagri_code,
                "sha256": raw.checksum,
                "encoding": raw.encoding,
                "rows_read": raw.rows_read,
                "rows_quarantined": quarantined,
                "file_issues": "; ".join(raw.file_issues) or "none",
            }
        )

    return raw_asset


def _records_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{source.value}_records",
        group_name=GROUP,
        deps=[f"{source.value}_raw"],
        description=(
            f"{source.value} rows in the canonical person schema: Kemendagri region codes, "
            "parsed dates, normalised names, unusable identifiers nulled with a reason."
        ),
        kinds={"python", "pandas"},
    )
    def records_asset(
        context: dg.AssetExecutionContext, landing: LandingFolder, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        kab = landing.kab()
        store = warehouse.open()
        info = store.read_table(staging.file_table(source, kab)).iloc[0]
        rows = store.read_table(staging.raw_table(source, kab))
        for column in rows.columns:
            if column != "source_row":
                rows[column] = rows[column].astype(TEXT)
        raw = RawExtract(Path(info["path"]), info["checksum"], info["encoding"], rows)
        snapshot = pd.Timestamp(info["snapshot_date"]).date()
        records = conform(FORMATS[source].standardise(raw, snapshot, kab))
        store.replace_table(staging.records_table(source, kab), records)
        nik_issues = records["nik_issue"].value_counts().to_dict()
        unresolved = int(records["desa_code"].isna().sum())
        context.log.info(f"{info['source_file']}: {len(records):,} records standardised")
        return dg.MaterializeResult(
            metadata={
                "records": len(records),
                "nik_unusable": int(records["nik"].isna().sum()),
                "nik_unusable_by_reason": {str(k): int(v) for k, v in nik_issues.items()},
                "desa_unresolved": unresolved,
                "birth_date_missing": int(records["birth_date"].isna().sum()),
            }
        )

    return records_asset


SOURCE_ASSETS = [factory(source) for source in Source for factory in (_raw_asset, _records_asset)]
