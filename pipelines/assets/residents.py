"""Linkage of the three sources into residents, and publication of the warehouse tables."""

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from connectors.reference.regions import Kabupaten
from connectors.schema import Source
from connectors.warehouse import staging, state
from connectors.warehouse.engine import Rows, Staged, Warehouse
from connectors.warehouse.review import load_decisions
from connectors.warehouse.tables import (
    discrepancy,
    load_audit,
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
from matching.identity import TRACKED
from matching.region import PreviousState, link_region
from matching.snapshots import CONTENT, diff_snapshots, row_hashes
from pipelines.fingerprint import run_fingerprint
from pipelines.partitions import regions, run_region
from pipelines.resources import AuditSettings, PseudonymKey, WarehouseResource
from pipelines.retries import TRANSIENT, fail, transient_only
from pipelines.run_audit import run_row

GROUP = "residents"


@dg.asset(
    group_name=GROUP,
    deps=[f"{source.value}_records" for source in Source],
    description="Links the records of all sources into clusters, one per person, and builds "
    "each person's golden record (staged until published).",
    kinds={"python", "rapidfuzz"},
    partitions_def=regions,
    retry_policy=TRANSIENT,
)
@transient_only
def linked_residents(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pseudonym_key: PseudonymKey,
    audit: AuditSettings,
) -> dg.MaterializeResult:
    kab = run_region(context)
    store = warehouse.open()
    for notice in pseudonym_key.notices():
        context.log.warning(notice)
    if pseudonym_key.is_new() and state.holds_links(store):
        # A new key would make every record look new: new resident IDs, decisions lost.
        raise dg.Failure(
            f"no pseudonym key is configured and padu's own key file "
            f"{pseudonym_key.own_key_file} does not exist, but the warehouse holds pseudonyms "
            "made with a key: configure that key (PADU_PSEUDONYM_KEY_FILE or "
            "PADU_PSEUDONYM_KEY), or put its file back",
            allow_retries=False,
        )
    files = _files(store, kab)
    reference = audit.reference(pd.Timestamp(files["snapshot_date"].max()).date())
    all_decisions = load_decisions(store)
    fingerprint = run_fingerprint(files, all_decisions, reference, pseudonym_key.bytes())
    last = state.last_success_fingerprint(store, kab.kemendagri_code)
    if last is not None and last == fingerprint and not files["new_load"].astype(bool).any():
        _restage_published(store, kab)
        _stage_run(store, kab, fingerprint, unchanged=True)
        context.log.info(
            "nothing changed since the last successful run (same files, review decisions, "
            "settings and code): its published tables stand"
        )
        return dg.MaterializeResult(metadata={"unchanged": True, "input_fingerprint": fingerprint})
    _stage_run(store, kab, fingerprint, unchanged=False)
    records = staging.read_records(store, kab)
    context.log.info(f"linking {len(records):,} records")
    previous = PreviousState(
        links=state.published_links(store, kab.kemendagri_code),
        residents=state.published_rows(
            store, resident.name, kab.kemendagri_code, ["resident_id", *TRACKED]
        ),
        decisions=all_decisions,
    )
    region = link_region(records, pseudonym_key.bytes(), kab.kemendagri_code, reference, previous)
    if region.decisions_applied:
        context.log.info(f"applied {region.decisions_applied:,} review decisions")
    links, residents, result = region.links, region.residents, region.linkage
    for name, frame in ((staging.links_table(kab), links),
                        (staging.residents_table(kab), residents),
                        (staging.review_table(kab), region.review),
                        (staging.history_table(kab), region.history),
                        (staging.discrepancy_table(kab), region.discrepancies)):  # fmt: skip
        store.replace_table(name, frame)
    changes = _stage_snapshots(store, kab, files, records, region.keys, context)
    methods = links["link_method"].value_counts().to_dict()
    context.log.info(f"{len(residents):,} residents from {len(records):,} records")
    return dg.MaterializeResult(
        metadata={
            "residents": len(residents),
            "records": len(records),
            "pairs_compared": result.pairs_compared,
            "link_methods": {str(k): int(v) for k, v in methods.items()},
            "review_pairs": len(region.review),
            "discrepancies": {
                str(k): int(v) for k, v in region.discrepancies["kind"].value_counts().items()
            },
            "resident_events": {
                str(k): int(v) for k, v in region.history["event"].value_counts().items()
            },
            "source_changes": changes,
            "input_fingerprint": fingerprint,
            **result.describe(),
        }
    )


def _stage_run(store: Warehouse, kab: Kabupaten, fingerprint: str, unchanged: bool) -> None:
    store.replace_table(
        staging.run_table(kab),
        pd.DataFrame({"input_fingerprint": [fingerprint], "unchanged": [unchanged]}),
    )


def _typed(frame: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """``frame`` (read back from the warehouse) with the dtypes of ``table``'s columns."""
    kinds = {sa.Boolean: "boolean", sa.Integer: "Int64", sa.Float: "float64"}
    out = frame.copy()
    for column in table.columns:
        if column.name not in out:
            continue
        if isinstance(column.type, sa.Date | sa.DateTime):
            out[column.name] = pd.to_datetime(out[column.name])
            continue
        kind = next((k for t, k in kinds.items() if isinstance(column.type, t)), "string")
        out[column.name] = out[column.name].astype(kind)
    return out


def _restage_published(store: Warehouse, kab: Kabupaten) -> None:
    """Stage the region's published tables as this run's results (nothing changed)."""
    for table, name in ((resident, staging.residents_table(kab)),
                        (resident_link, staging.links_table(kab)),
                        (review_queue, staging.review_table(kab)),
                        (discrepancy, staging.discrepancy_table(kab))):  # fmt: skip
        columns = [c.name for c in table.columns if c.name not in ("region", "run_id")]
        frame = state.published_rows(store, table.name, kab.kemendagri_code, columns)
        store.replace_table(name, _typed(frame, table))
    history = pd.DataFrame(columns=["resident_id", "event", "related_id", "details"])
    store.replace_table(staging.history_table(kab), history.astype("string"))
    changes = [c.name for c in source_change.columns if c.name not in ("region", "run_id")]
    store.replace_table(staging.changes_table(kab), pd.DataFrame(columns=changes).astype("string"))


def _stage_snapshots(
    store: Warehouse,
    kab: Kabupaten,
    files: pd.DataFrame,
    records: pd.DataFrame,
    keys: pd.Series,
    context: dg.AssetExecutionContext,
) -> dict[str, dict[str, int]]:
    """Stage the records of newly loaded files for ``source_record``, and what changed in each
    source since its current snapshot for ``source_change``. Returns counts per source."""
    keyed = records.assign(record_key=keys, row_hash=row_hashes(records))
    current = state.current_files(store, kab.kemendagri_code)
    new_rows, changes, counts = [], [], {}
    for source in Source:
        info = files[files["source"] == source.value].iloc[0]
        mine = keyed[keyed["source"] == source.value]
        if info["new_load"]:
            new_rows.append(mine)
        before = current.get(source.value)
        if before is None or (before == info["source_file"] and not info["new_load"]):
            continue  # a first load, or the current snapshot again (a corrected re-delivery
            # under the same name is new content and is compared like a new snapshot)
        previous = state.stored_records(
            store, kab.kemendagri_code, before,
            ["source_file", "source_row", "record_key", "row_hash", *CONTENT],
        )  # fmt: skip
        diff = diff_snapshots(previous, mine).assign(source=source.value)
        counts[source.value] = {str(k): int(v) for k, v in diff["change"].value_counts().items()}
        context.log.info(
            f"{source.value}: {before} -> {info['source_file']}: {counts[source.value]}"
        )
        changes.append(diff)
    columns = [c.name for c in source_change.columns if c.name not in ("region", "run_id")]
    staged = pd.concat(changes, ignore_index=True) if changes else pd.DataFrame(columns=columns)
    store.replace_table(staging.changes_table(kab), staged[columns].astype("string"))
    fresh = pd.concat(new_rows, ignore_index=True) if new_rows else keyed.iloc[:0]
    store.replace_table(staging.source_records_table(kab), fresh)
    return counts


def _files(store: Warehouse, kab: Kabupaten) -> pd.DataFrame:
    """The run's input file of each source (as staged by the raw assets)."""
    return pd.concat(
        [store.read_table(staging.file_table(s, kab)) for s in Source], ignore_index=True
    )


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
    load_audit, source_record, quarantine_line, source_change, run_audit, refused_file,
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
    files = _files(store, kab)
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
