"""Publishing a region's tables in one transaction, after checking the row accounting."""

import dagster as dg
import pandas as pd

from connectors.reference.regions import Kabupaten, places_of
from connectors.schema import Source
from connectors.warehouse import staging, state
from connectors.warehouse.bulk import Rows, Staged
from connectors.warehouse.tables import (
    discrepancy,
    linkage_blocking,
    load_audit,
    place,
    quarantine,
    quarantine_line,
    refused_file,
    resident,
    resident_history,
    resident_link,
    review_queue,
    run_audit,
    source_change,
    source_record,
)
from expectations.row_accounting import unreconciled
from pipelines.automation.failure_audit import run_row
from pipelines.link.residents import linked_residents
from pipelines.partitions import regions, run_region
from pipelines.resources import WarehouseResource
from pipelines.retries import TRANSIENT, fail, transient_only

GROUP = "residents"


def _load_audit(files: pd.DataFrame, loaded: pd.Series, run_id: str) -> pd.DataFrame:
    """load_audit rows for the files this run loaded (``loaded``: rows per source file)."""
    new = files[files["new_load"].astype(bool)]
    return pd.DataFrame(
        {
            "source": new["source"].astype("string"),
            "source_file": new["source_file"].astype("string"),
            "region": new["region"].astype("string"),
            "snapshot_date": pd.to_datetime(new["snapshot_date"]),
            "checksum": new["checksum"].astype("string"),
            "encoding": new["encoding"].astype("string"),
            "rows_read": new["rows_read"].astype("int64"),
            "rows_loaded": new["source_file"].map(loaded).fillna(0).astype("int64"),
            "rows_quarantined": new["rows_quarantined"].astype("int64"),
            "file_issues": new["file_issues"].astype("string"),
            "loaded_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"),
            "run_id": run_id,
            "current": True,
            "purged_at": pd.Series(pd.NaT, index=new.index, dtype="datetime64[ns]"),
            "origin": new["origin"].astype("string"),
            "origin_source": new["origin_source"].astype("string"),
            "origin_fingerprint": new["origin_fingerprint"].astype("string"),
            "origin_rows": new["origin_rows"].astype("Int64"),
            "origin_snapshot_at": pd.to_datetime(new["origin_snapshot_at"]),
        }
    )


def _refused(files: pd.DataFrame, run_id: str, now: pd.Timestamp) -> pd.DataFrame:
    """refused_file rows: each source whose newest file the run refused."""
    refused = files[files["refused_file"].notna()]
    return pd.DataFrame(
        {
            "source": refused["source"].astype("string"),
            "source_file": refused["refused_file"].astype("string"),
            "region": refused["region"].astype("string"),
            "snapshot_date": pd.to_datetime(refused["refused_snapshot"]),
            "checksum": refused["refused_checksum"].astype("string"),
            "reason": refused["refused_reason"].astype("string"),
            "current_file": refused["source_file"].astype("string"),
            "stale_since": pd.to_datetime(refused["snapshot_date"]),
            "run_id": pd.Series(run_id, index=refused.index, dtype="string"),
            "refused_at": pd.Series(now, index=refused.index, dtype="datetime64[ns]"),
        }
    )


def _stale(files: pd.DataFrame) -> str | None:
    """The run audit's note of the sources that stayed on an older snapshot, or None."""
    notes = [
        f"{row.source} stale since {pd.Timestamp(row.snapshot_date).date().isoformat()} "
        f"(on {row.source_file}; newest file {row.refused_file} refused: {row.refused_reason})"
        for row in files[files["refused_file"].notna()].itertuples()
    ]
    return "; ".join(notes) or None


def _quarantined(
    kab: Kabupaten, files: pd.DataFrame, run_id: str
) -> tuple[list[Staged], list[Staged]]:
    """quarantine and quarantine_line rows of the files this run loaded: the rows of their
    raw tables marked with a reason."""
    rows, lines = [], []
    for row in files[files["new_load"].astype(bool)].itertuples():
        raw = staging.raw_table(Source(row.source), kab)
        file = {"source_file": str(row.source_file), "region": kab.kemendagri_code}
        rows.append(
            Staged(raw, {**file, "source": str(row.source), "run_id": run_id},
                   renamed={"reason": "quarantine_reason"}, not_null="quarantine_reason")
        )  # fmt: skip
        lines.append(Staged(raw, file, not_null="quarantine_reason"))
    return rows, lines


#: The tables ``published_tables`` writes, each an asset described by its table comment.
_PUBLISHED_ASSETS = (
    resident, resident_link, quarantine, review_queue, resident_history, discrepancy,
    load_audit, source_record, quarantine_line, source_change, run_audit, refused_file, place,
    linkage_blocking,
)  # fmt: skip


@dg.multi_asset(
    group_name=GROUP,
    partitions_def=regions,
    retry_policy=TRANSIENT,
    specs=[
        dg.AssetSpec(table.name, deps=[linked_residents], description=table.comment, kinds={"sql"})
        for table in _PUBLISHED_ASSETS
    ],  # fmt: skip
)
@transient_only
def published_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):  # type: ignore[no-untyped-def]
    """Publishes the region's tables in one transaction, after checking the row accounting."""
    kab = run_region(context)
    store = warehouse.open()
    run_id = context.run.run_id
    region = kab.kemendagri_code
    run = store.read_table(staging.run_table(kab)).iloc[0]
    files = staging.read_files(store, kab)
    stale = _stale(files)
    if bool(run["unchanged"]):
        now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
        row = run_row(context, region, "success", files, {}, now, run["input_fingerprint"], stale)
        store.publish(
            region,
            {refused_file.name: _refused(files, run_id, now), run_audit.name: row},
            dropped=staging.tables(kab),  # the working tables go with the run's rows
        )
        context.log.info(f"nothing to publish for {region}: the published tables are current")
        for table in _PUBLISHED_ASSETS:
            yield dg.MaterializeResult(asset_key=table.name, metadata={"unchanged": True})
        return
    new_files = files.loc[files["new_load"].astype(bool), "source_file"].tolist()
    loaded = state.rows_per_file(store, staging.links_table(kab))
    accounting = files.assign(rows_loaded=files["source_file"].map(loaded).fillna(0))
    bad = unreconciled(accounting)
    if len(bad):
        raise fail(
            "row accounting does not reconcile for "
            + ", ".join(bad["source_file"])
            + "; nothing was published"
        )
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    # The staged results are copied inside the warehouse, cast to the published types.
    of_run = {"region": region, "run_id": run_id}
    quarantine_rows, quarantine_lines = _quarantined(kab, files, run_id)
    tables: dict[str, Rows] = {
        resident.name: Staged(staging.residents_table(kab), of_run),
        resident_link.name: Staged(staging.links_table(kab), of_run),
        quarantine.name: quarantine_rows,
        quarantine_line.fullname: quarantine_lines,
        load_audit.name: _load_audit(files, loaded, run_id)[[c.name for c in load_audit.columns]],
        review_queue.name: Staged(staging.review_table(kab), of_run),
        resident_history.name: Staged(
            staging.history_table(kab), {**of_run, "recorded_at": now.to_pydatetime()}
        ),
        discrepancy.name: Staged(staging.discrepancy_table(kab), of_run),
        source_record.fullname: Staged(staging.source_records_table(kab), {"region": region}),
        source_change.name: Staged(staging.changes_table(kab), of_run),
        refused_file.name: _refused(files, run_id, now),
        place.name: places_of(kab).assign(region=region),
        linkage_blocking.name: Staged(staging.blocking_table(kab), of_run),
    }
    counts = {name.split(".")[-1]: n for name, n in store.row_counts(tables).items()}
    tables[run_audit.name] = run_row(
        context, region, "success", files, counts, now, run["input_fingerprint"], stale
    )
    # The working tables (raw identifiers included) go in the publishing transaction.
    store.publish(
        region,
        tables,
        new_files=new_files,
        current_files=files["source_file"].tolist(),
        dropped=staging.tables(kab),
    )
    context.log.info(
        f"published {counts['resident']:,} residents, {counts['resident_link']:,} links for "
        f"{region}; {len(new_files)} new file(s), {counts['source_change']:,} source changes"
    )
    for table in _PUBLISHED_ASSETS:
        yield dg.MaterializeResult(
            asset_key=table.name, metadata={"rows_written": counts.get(table.name, 1)}
        )
