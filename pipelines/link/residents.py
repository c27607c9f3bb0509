"""The linkage of a region's records of all sources into residents (staged until published)."""

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from connectors.reference.regions import Kabupaten
from connectors.schema import Source
from connectors.warehouse import staging, state
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.review import load_decisions
from connectors.warehouse.tables import (
    discrepancy,
    linkage_blocking,
    resident,
    resident_link,
    review_queue,
    source_change,
)
from matching.identity import TRACKED
from matching.region import PreviousState, applied, link_region
from matching.snapshots import CONTENT, diff_snapshots, row_hashes
from pipelines.fingerprint import run_fingerprint
from pipelines.partitions import regions, run_region
from pipelines.resources import AuditSettings, PseudonymKey, WarehouseResource
from pipelines.retries import TRANSIENT, transient_only

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
    files = staging.read_files(store, kab)
    reference = audit.reference(pd.Timestamp(files["snapshot_date"].max()).date())
    all_decisions = load_decisions(store)
    # An unsure decision changes nothing a run makes: it is not an input.
    fingerprint = run_fingerprint(files, applied(all_decisions), reference, pseudonym_key.bytes())
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
                        (staging.discrepancy_table(kab), region.discrepancies),
                        (staging.blocking_table(kab), region.blocking)):  # fmt: skip
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
                        (discrepancy, staging.discrepancy_table(kab)),
                        (linkage_blocking, staging.blocking_table(kab))):  # fmt: skip
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
