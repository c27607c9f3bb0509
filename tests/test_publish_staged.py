"""Publishing a region's staged results inside the warehouse (``Staged``) writes exactly what
reading them into pandas and inserting the frames wrote, on both backends.

Every publish of real runs (a first snapshot, then a changed civil registry) is repeated into a
reference warehouse the way ``published_tables`` did it before: each staging table read with
``read_table``, shaped in pandas (the code below is that code), inserted as frames. The two
warehouses must then hold the same rows, value for value and dtype for dtype.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from ops_helpers import next_registry_snapshot

from connectors.reference.regions import Kabupaten, kabupaten
from connectors.schema import COLUMNS, Source, conform
from connectors.warehouse import staging
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.staging import read_files as _files
from connectors.warehouse.tables import (
    PUBLISHED,
    discrepancy,
    linkage_blocking,
    quarantine,
    quarantine_line,
    resident,
    resident_history,
    resident_link,
    review_queue,
    source_change,
    source_record,
)
from pipelines.cli import run_pipeline


def _with_run(frame: pd.DataFrame, region: str, run_id: str, table) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    out = frame.copy()
    out["region"] = region
    out["run_id"] = run_id
    return out[[c.name for c in table.columns]]


def _quarantined(store: Warehouse, kab: Kabupaten, files: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for row in files[files["new_load"].astype(bool)].itertuples():
        raw = store.read_table(staging.raw_table(Source(row.source), kab))
        rows = raw[raw["quarantine_reason"].notna()]
        frames.append(
            pd.DataFrame(
                {
                    "source": row.source,
                    "source_file": row.source_file,
                    "source_row": rows["source_row"].astype("int64"),
                    "reason": rows["quarantine_reason"].astype("string"),
                    "raw_line": rows["raw_line"].astype("string"),
                }
            )
        )
    columns = ["source", "source_file", "source_row", "reason", "raw_line"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _as_frames(store: Warehouse, region: str, tables: Mapping[str, Any]) -> dict[str, Any]:
    """The frames ``published_tables`` published before, from the same staging tables."""
    kab = kabupaten(region)
    run_id = tables[resident.name].constants["run_id"]
    now = pd.Timestamp(tables[resident_history.name].constants["recorded_at"])
    links = store.read_table(staging.links_table(kab))
    files = _files(store, kab)
    residents = store.read_table(staging.residents_table(kab))
    review = store.read_table(staging.review_table(kab))
    history = store.read_table(staging.history_table(kab)).assign(recorded_at=now)
    findings = store.read_table(staging.discrepancy_table(kab))
    changes = store.read_table(staging.changes_table(kab))
    blocking = store.read_table(staging.blocking_table(kab))
    staged = store.read_table(staging.source_records_table(kab))
    records = conform(staged[list(COLUMNS)]).assign(
        record_key=staged["record_key"].astype("string"),
        row_hash=staged["row_hash"].astype("int64"),
        region=region,
    )
    quarantine_rows = _quarantined(store, kab, files)
    # load_audit and run_audit are frames on both paths; rows_loaded was counted from links.
    audit = tables["load_audit"]
    loaded = links.groupby("source_file").size()
    return {
        resident.name: _with_run(residents, region, run_id, resident),
        resident_link.name: _with_run(links, region, run_id, resident_link),
        quarantine.name: _with_run(quarantine_rows, region, run_id, quarantine),
        quarantine_line.fullname: quarantine_rows.assign(region=region)[
            [c.name for c in quarantine_line.columns]
        ],
        "load_audit": audit.assign(
            rows_loaded=audit["source_file"].map(loaded).fillna(0).astype("int64")
        ),
        review_queue.name: _with_run(review, region, run_id, review_queue),
        resident_history.name: _with_run(history, region, run_id, resident_history),
        discrepancy.name: _with_run(findings, region, run_id, discrepancy),
        source_record.fullname: records[[c.name for c in source_record.columns]],
        source_change.name: _with_run(changes, region, run_id, source_change),
        linkage_blocking.name: _with_run(blocking, region, run_id, linkage_blocking),
        "run_audit": tables["run_audit"],
        "refused_file": tables["refused_file"],  # a frame on both paths
        "place": tables["place"],  # a frame on both paths
    }


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    key = frame.astype("string").fillna("<null>")
    return frame.loc[key.sort_values(list(key.columns)).index].reset_index(drop=True)


def _add_broken_line(path: Path, line: str) -> None:
    """A row of the wrong width: quarantined, with its raw line."""
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def test_staged_publish_writes_what_the_frames_wrote(
    tmp_path, two_warehouses, monkeypatch, generated
):
    url, reference = two_warehouses
    first = tmp_path / "first"
    generated(first, region="6309", people=300, seed=23)
    _add_broken_line(next(first.glob("kpu_dpt_*.csv")), "BROKEN,LINE")
    _add_broken_line(next(first.glob("bps_*.csv")), "1,2,3")

    original = Warehouse.publish
    publishes: list[tuple[dict[str, int], dict[str, int], set[str]]] = []

    def publish_both_ways(self, region, tables, new_files=(), current_files=None, dropped=()):  # type: ignore[no-untyped-def]
        frames = _as_frames(self, region, tables)
        target = Warehouse(reference)
        try:
            original(target, region, frames, new_files, current_files)
        finally:
            target.dispose()
        written = json.loads(tables["run_audit"]["outputs"].iloc[0])
        before = {n.split(".")[-1]: len(f) for n, f in frames.items() if n != "run_audit"}
        staged = {n for n, rows in tables.items() if not isinstance(rows, pd.DataFrame)}
        publishes.append((written, before, staged))
        original(self, region, tables, new_files, current_files, dropped)

    monkeypatch.setattr(Warehouse, "publish", publish_both_ways)
    assert run_pipeline(first, url, None, echo=lambda _: None)
    second = tmp_path / "second"
    shutil.copytree(first, second)
    next_registry_snapshot(first, second, url)
    _add_broken_line(next(second.glob("dukcapil_*20261102.csv")), "BROKEN|LINE|" + "9" * 16)
    assert run_pipeline(second, url, None, echo=lambda _: None)

    assert len(publishes) == 2
    for written, before, staged in publishes:
        assert written == before  # run_audit.outputs: the same row counts
        assert staged == {t.fullname for t in PUBLISHED} - {
            "load_audit",
            "run_audit",
            "refused_file",
            "place",
        }
    runs, frames = Warehouse(url), Warehouse(reference)
    try:
        for table in PUBLISHED:
            got = _sorted(runs.read_table(table.fullname))
            expected = _sorted(frames.read_table(table.fullname))
            pd.testing.assert_frame_equal(got, expected, obj=table.fullname)
        # The comparison covered rows of every kind.
        for table in (quarantine, quarantine_line, review_queue, discrepancy, source_change):
            assert runs.scalar(f"SELECT count(*) FROM {table.fullname}") > 0, table.fullname
        changes = runs.query(f"SELECT DISTINCT change FROM {source_change.name}")
        assert set(changes["change"]) == {"added", "removed", "changed"}
    finally:
        runs.dispose()
        frames.dispose()
