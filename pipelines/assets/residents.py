"""Linkage of the three sources into residents, and publication of the warehouse tables."""

from typing import Any

import dagster as dg
import pandas as pd

from connectors.review import decisions_for, load_decisions
from connectors.schema import Source
from connectors.tables import (
    discrepancy,
    load_audit,
    quarantine,
    resident,
    resident_history,
    resident_link,
    review_queue,
)
from connectors.warehouse import Warehouse
from expectations.row_accounting import unreconciled
from matching.discrepancies import find_discrepancies
from matching.identity import carry_ids
from matching.linkage import LinkResult, default_linker
from matching.resident import build_residents, record_keys
from pipelines.assets import staging
from pipelines.resources import AuditSettings, LandingFolder, PseudonymKey, WarehouseResource

GROUP = "residents"


@dg.asset(
    group_name=GROUP,
    deps=[f"{source.value}_records" for source in Source],
    description="Links the records of all sources into clusters, one per person, and builds "
    "each person's golden record (staged until published).",
    kinds={"python", "rapidfuzz"},
)
def linked_residents(
    context: dg.AssetExecutionContext,
    landing: LandingFolder,
    warehouse: WarehouseResource,
    pseudonym_key: PseudonymKey,
    audit: AuditSettings,
) -> dg.MaterializeResult:
    kab = landing.kab()
    store = warehouse.open()
    records = staging.read_records(store, kab)
    context.log.info(f"linking {len(records):,} records")
    if pseudonym_key.is_demo:
        context.log.warning("using the demo pseudonym key: pseudonyms and IDs are not protected")
    keys = record_keys(records, pseudonym_key.bytes())
    decisions = decisions_for(keys, load_decisions(store))
    if len(decisions):
        context.log.info(f"applying {len(decisions):,} review decisions")
    result = default_linker().link(records, decisions)
    residents, proposed = build_residents(records, result.clusters, pseudonym_key.bytes())
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
    store.replace_table(staging.history_table(kab), history.astype("string"))
    reference = audit.reference(pd.Timestamp(records["snapshot_date"].max()).date())
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
            **_engine_metadata(result),
        }
    )


def _previous_links(store: Warehouse, region: str) -> pd.DataFrame:
    """record_key -> resident_id as last published for the region (empty on a first run)."""
    store.create_tables()
    return store.query(
        "SELECT record_key, resident_id FROM resident_link "
        f"WHERE region = '{region}' AND record_key IS NOT NULL"
    )


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
        "blocking": blocking,
        "stage_seconds": getattr(result, "timings", {}),
    }


def _load_audit(store: Warehouse, kab, links: pd.DataFrame, run_id: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    files = pd.concat(
        [store.read_table(staging.file_table(s, kab)) for s in Source], ignore_index=True
    )
    loaded = links.groupby("source_file").size()
    audit = pd.DataFrame(
        {
            "source": files["source"].astype("string"),
            "source_file": files["source_file"].astype("string"),
            "region": files["region"].astype("string"),
            "snapshot_date": pd.to_datetime(files["snapshot_date"]),
            "checksum": files["checksum"].astype("string"),
            "encoding": files["encoding"].astype("string"),
            "rows_read": files["rows_read"].astype("int64"),
            "rows_loaded": files["source_file"].map(loaded).fillna(0).astype("int64"),
            "rows_quarantined": files["rows_quarantined"].astype("int64"),
            "file_issues": files["file_issues"].astype("string"),
            "loaded_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"),
            "run_id": run_id,
        }
    )
    return audit


@dg.multi_asset(
    group_name=GROUP,
    specs=[
        dg.AssetSpec(
            "resident",
            deps=[linked_residents],
            description="One row per resident.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            "resident_link",
            deps=[linked_residents],
            description="One row per loaded source row: which resident it belongs to and how "
            "it was linked.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            "quarantine",
            deps=[linked_residents],
            description="Rows that could not be read as records, with the reason and raw line.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            "review_queue",
            deps=[linked_residents],
            description="Pairs between the review and match thresholds, for a clerk to decide, "
            "with each field's weight.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            "resident_history",
            deps=[linked_residents],
            description="Append-only: residents new, merged, split or retired in each run.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            "discrepancy",
            deps=[linked_residents],
            description="The auditor's list: ghost and missing voters, NIK conflicts, ... one "
            "row per finding, with the source rows involved.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            "load_audit",
            deps=[linked_residents],
            description="Per file: checksum and row accounting.",
            kinds={"duckdb"},
        ),
    ],
)
def published_tables(
    context: dg.AssetExecutionContext, landing: LandingFolder, warehouse: WarehouseResource
):  # type: ignore[no-untyped-def]
    """Publishes the region's tables in one transaction, after checking the row accounting."""
    kab = landing.kab()
    store = warehouse.open()
    run_id = context.run.run_id
    region = kab.kemendagri_code
    links = store.read_table(staging.links_table(kab))
    residents = store.read_table(staging.residents_table(kab))
    review = store.read_table(staging.review_table(kab))
    history = store.read_table(staging.history_table(kab))
    history["recorded_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    findings = store.read_table(staging.discrepancy_table(kab))
    audit = _load_audit(store, kab, links, run_id)
    bad = unreconciled(audit)
    if len(bad):
        raise dg.Failure(
            "row accounting does not reconcile for "
            + ", ".join(bad["source_file"])
            + "; nothing was published"
        )
    quarantined = []
    for source in Source:
        raw = store.read_table(staging.raw_table(source, kab))
        rows = raw[raw["quarantine_reason"].notna()]
        quarantined.append(
            pd.DataFrame(
                {
                    "source": source.value,
                    "source_file": audit.loc[audit["source"] == source.value, "source_file"].iloc[
                        0
                    ],
                    "source_row": rows["source_row"].astype("int64"),
                    "reason": rows["quarantine_reason"].astype("string"),
                    "raw_line": rows["raw_line"].astype("string"),
                }
            )
        )
    quarantine_rows = pd.concat(quarantined, ignore_index=True)
    tables = {
        resident.name: _with_run(residents, region, run_id, resident),
        resident_link.name: _with_run(links, region, run_id, resident_link),
        quarantine.name: _with_run(quarantine_rows, region, run_id, quarantine),
        load_audit.name: audit[[c.name for c in load_audit.columns]],
        review_queue.name: _with_run(review, region, run_id, review_queue),
        resident_history.name: _with_run(history, region, run_id, resident_history),
        discrepancy.name: _with_run(findings, region, run_id, discrepancy),
    }
    store.publish(region, tables)
    context.log.info(
        f"published {len(residents):,} residents, {len(links):,} links, "
        f"{len(quarantine_rows):,} quarantined rows for {region}"
    )
    yield dg.MaterializeResult(asset_key="resident", metadata={"rows": len(residents)})
    yield dg.MaterializeResult(asset_key="resident_link", metadata={"rows": len(links)})
    yield dg.MaterializeResult(asset_key="quarantine", metadata={"rows": len(quarantine_rows)})
    yield dg.MaterializeResult(asset_key="review_queue", metadata={"rows": len(review)})
    yield dg.MaterializeResult(asset_key="resident_history", metadata={"events": len(history)})
    yield dg.MaterializeResult(asset_key="discrepancy", metadata={"findings": len(findings)})
    yield dg.MaterializeResult(
        asset_key="load_audit",
        metadata={"files": len(audit), "rows_read": int(audit["rows_read"].sum())},
    )


def _with_run(frame: pd.DataFrame, region: str, run_id: str, table) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    out = frame.copy()
    out["region"] = region
    out["run_id"] = run_id
    return out[[c.name for c in table.columns]]
