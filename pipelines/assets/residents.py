"""Linkage of the three sources into residents, and publication of the warehouse tables."""

from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from connectors.reference.regions import Kabupaten
from connectors.schema import Source
from connectors.warehouse import staging
from connectors.warehouse.engine import Rows, Staged, Warehouse
from connectors.warehouse.review import decisions_for, load_decisions
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
from matching.discrepancies import find_discrepancies
from matching.features import SOURCES
from matching.identity import TRACKED, carry_ids, changed_attributes
from matching.linkage import LinkResult, default_linker
from matching.resident import build_residents, record_identity, record_keys
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
    if pseudonym_key.is_new() and _holds_pseudonyms(store):
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
    last = _last_success(store, kab.kemendagri_code)
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
    identity = record_identity(records)
    keys = record_keys(records, pseudonym_key.bytes(), identity)
    decisions = decisions_for(keys, all_decisions)
    if len(decisions):
        context.log.info(f"applying {len(decisions):,} review decisions")
    result = default_linker().link(records, decisions)
    residents, proposed = build_residents(
        records, result.clusters, pseudonym_key.bytes(), kab.kemendagri_code, identity
    )
    previous = _previous_links(store, kab.kemendagri_code)
    record_ids, history = carry_ids(
        pd.DataFrame({"record_key": keys, "resident_id": proposed}), previous
    )
    residents["resident_id"] = residents["resident_id"].map(
        dict(zip(proposed, record_ids, strict=True))
    )
    links = pd.DataFrame(
        {
            "source": records["source"],
            "source_file": records["source_file"],
            "source_row": records["source_row"],
            "resident_id": record_ids.astype("string"),
            "link_method": result.clusters["link_method"].astype("string"),
            "link_score": result.clusters["link_score"],
            "record_key": keys,
        }
    )
    store.replace_table(staging.links_table(kab), links)
    store.replace_table(staging.residents_table(kab), residents)
    review = _review_rows(records, keys, result)
    store.replace_table(staging.review_table(kab), review)
    previous_residents = _previous_residents(store, kab.kemendagri_code)
    changed = changed_attributes(previous_residents, residents)
    history = pd.concat([history.astype("string"), changed], ignore_index=True)
    store.replace_table(staging.history_table(kab), history.astype("string"))
    changes = _stage_snapshots(store, kab, files, records, keys, context)
    findings = find_discrepancies(records, links, residents, reference_date=reference)
    findings = findings.astype("string").assign(reference_date=pd.Timestamp(reference))
    store.replace_table(staging.discrepancy_table(kab), findings)
    methods = links["link_method"].value_counts().to_dict()
    context.log.info(f"{len(residents):,} residents from {len(records):,} records")
    return dg.MaterializeResult(
        metadata={
            "residents": len(residents),
            "records": len(records),
            "pairs_compared": result.pairs_compared,
            "link_methods": {str(k): int(v) for k, v in methods.items()},
            "review_pairs": len(review),
            "discrepancies": {str(k): int(v) for k, v in findings["kind"].value_counts().items()},
            "resident_events": {str(k): int(v) for k, v in history["event"].value_counts().items()},
            "source_changes": changes,
            "input_fingerprint": fingerprint,
            **_engine_metadata(result),
        }
    )


def _holds_pseudonyms(store: Warehouse) -> bool:
    """True if any region's records are linked in the warehouse (their keys need the key)."""
    store.create_tables()
    return bool(
        store.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {resident_link.name} LIMIT 1) t")
    )


def _last_success(store: Warehouse, region: str) -> str | None:
    """The input fingerprint of the region's last successful run."""
    store.create_tables()
    last = store.query(
        "SELECT input_fingerprint FROM run_audit WHERE region = :r AND status = 'success' "
        "AND run_id NOT LIKE 'purge-%' ORDER BY finished_at DESC LIMIT 1",
        {"r": region},
    )
    return None if last.empty else last["input_fingerprint"].iloc[0]


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
    region = {"r": kab.kemendagri_code}
    for table, name in ((resident, staging.residents_table(kab)),
                        (resident_link, staging.links_table(kab)),
                        (review_queue, staging.review_table(kab)),
                        (discrepancy, staging.discrepancy_table(kab))):  # fmt: skip
        columns = [c.name for c in table.columns if c.name not in ("region", "run_id")]
        frame = store.query(f"SELECT {', '.join(columns)} FROM {table.name} WHERE region = :r",
                            region)  # fmt: skip
        store.replace_table(name, _typed(frame, table))
    history = pd.DataFrame(columns=["resident_id", "event", "related_id", "details"])
    store.replace_table(staging.history_table(kab), history.astype("string"))
    changes = [c.name for c in source_change.columns if c.name not in ("region", "run_id")]
    store.replace_table(staging.changes_table(kab), pd.DataFrame(columns=changes).astype("string"))


def _previous_links(store: Warehouse, region: str) -> pd.DataFrame:
    """record_key -> resident_id as last published for the region (empty on a first run)."""
    store.create_tables()
    return store.query(
        "SELECT record_key, resident_id FROM resident_link "
        "WHERE region = :r AND record_key IS NOT NULL",
        {"r": region},
    )


def _previous_residents(store: Warehouse, region: str) -> pd.DataFrame:
    columns = ", ".join(["resident_id", *TRACKED])
    return store.query(f"SELECT {columns} FROM resident WHERE region = :r", {"r": region})


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
    current = store.query(
        "SELECT source, source_file FROM load_audit WHERE region = :r AND current",
        {"r": kab.kemendagri_code},
    ).set_index("source")["source_file"]
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
        previous = store.query(
            f"SELECT source_file, source_row, record_key, row_hash, {', '.join(CONTENT)} "
            f"FROM {source_record.fullname} WHERE source_file = :f AND region = :r",
            {"f": before, "r": kab.kemendagri_code},
        )
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


def _review_rows(records: pd.DataFrame, keys: pd.Series, result: LinkResult) -> pd.DataFrame:
    review_of = getattr(result, "review", None)
    columns = ["left", "right", "match_probability", "match_weight", "explanation"]
    pairs = review_of() if review_of else pd.DataFrame(columns=columns)
    left = records.iloc[pairs["left"].to_numpy()]
    right = records.iloc[pairs["right"].to_numpy()]
    return pd.DataFrame(
        {
            "left_source": left["source"].to_numpy(),
            "left_file": left["source_file"].to_numpy(),
            "left_row": left["source_row"].to_numpy(dtype="int64"),
            "right_source": right["source"].to_numpy(),
            "right_file": right["source_file"].to_numpy(),
            "right_row": right["source_row"].to_numpy(dtype="int64"),
            "left_key": keys.iloc[pairs["left"].to_numpy()].to_numpy(),
            "right_key": keys.iloc[pairs["right"].to_numpy()].to_numpy(),
            "match_probability": pairs["match_probability"].to_numpy(dtype=float),
            "match_weight": pairs["match_weight"].to_numpy(dtype=float),
            "explanation": pairs["explanation"].astype("string").to_numpy(),
        }
    ).astype({"left_source": "string", "left_file": "string", "right_source": "string",
              "right_file": "string", "explanation": "string", "left_key": "string",
              "right_key": "string"})  # fmt: skip


def _by_source_pair(share: Any) -> dict[str, float]:
    """A source-by-source matrix as ``{"dukcapil->kpu": 0.97, ...}`` (empty when none)."""
    if share is None:
        return {}
    return {
        f"{a}->{b}": round(float(share[i, j]), 4)
        for i, a in enumerate(SOURCES)
        for j, b in enumerate(SOURCES)
        if i != j
    }


def _engine_metadata(result: LinkResult) -> dict[str, Any]:
    """Model parameters, blocking report and stage timings of the probabilistic engine."""
    model = getattr(result, "model", None)
    if model is None:
        return {}
    blocking = {
        r.rule: {
            "pairs": r.pairs,
            "capped_blocks": r.capped_blocks,
            "capped_records": r.capped_records,
        }  # fmt: skip
        for r in getattr(result, "blocking", [])
    }
    return {
        "model": model.describe(),
        "prior_match_probability": model.prior,
        "counterpart_share": _by_source_pair(getattr(result, "counterpart_share", None)),
        "open_counterpart_share": _by_source_pair(getattr(result, "open_counterpart_share", None)),
        "blocking": blocking,
        "stage_seconds": getattr(result, "timings", {}),
    }


def _files(store: Warehouse, kab: Kabupaten) -> pd.DataFrame:
    """The run's input file of each source (as staged by the raw assets)."""
    return pd.concat(
        [store.read_table(staging.file_table(s, kab)) for s in Source], ignore_index=True
    )


def _rows_loaded(store: Warehouse, kab: Kabupaten) -> pd.Series:
    """Rows linked per source file (every row loaded gets a link), counted in the warehouse."""
    counts = store.query(
        f"SELECT source_file, count(*) AS n FROM {staging.links_table(kab)} GROUP BY source_file"
    )
    return counts.set_index("source_file")["n"]


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
    loaded = _rows_loaded(store, kab)
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
