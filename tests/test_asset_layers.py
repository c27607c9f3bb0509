"""The pipeline's stages tested on their own, below a whole run.

Three layers: each asset function invoked directly with ``build_asset_context`` on a small
warehouse (what one stage reads and stages); a small graph materialised (one source's
ingest and standardise stage with its checks, nothing linked or published); and, in
test_definitions.py, the definitions loading as Dagster loads them.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from connectors.reference.regions import kabupaten
from connectors.schema import COLUMNS, Source
from connectors.warehouse import staging
from connectors.warehouse.engine import Warehouse
from matching.identity import TRACKED
from matching.region import PreviousState, link_region
from pipelines.definitions import ALL_CHECKS, build_resources
from pipelines.ingest.files import FILE_ASSETS
from pipelines.link.residents import linked_residents
from pipelines.standardise.records import RECORDS_ASSETS

KAB = kabupaten("6309")
KEY = "asset-layer-test-key-" + "0" * 43


def _asset(assets: list[dg.AssetsDefinition], name: str) -> dg.AssetsDefinition:
    (found,) = [a for a in assets if a.key.to_user_string() == name]
    return found


@pytest.fixture
def resources(tmp_path, generated, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PADU_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("PADU_PSEUDONYM_KEY_FILE", raising=False)
    landing = tmp_path / "landing"
    generated(landing, region="6309", people=250, seed=3)
    return build_resources(landing=str(landing), warehouse_url=f"duckdb:///{tmp_path / 'w.db'}")


def _context(resources) -> dg.AssetExecutionContext:  # type: ignore[no-untyped-def]
    return dg.build_asset_context(partition_key=KAB.compact_code, resources=resources)


def _stage_records(resources) -> None:  # type: ignore[no-untyped-def]
    for source in Source:
        _asset(FILE_ASSETS, f"{source.value}_raw")(_context(resources))
        _asset(RECORDS_ASSETS, f"{source.value}_records")(_context(resources))


def test_the_raw_asset_stages_every_row_of_the_newest_file(resources):
    result = _asset(FILE_ASSETS, "dukcapil_raw")(_context(resources))
    store = Warehouse(resources["warehouse"].target())
    (info,) = store.read_table(staging.file_table(Source.DUKCAPIL, KAB)).itertuples()
    raw = store.read_table(staging.raw_table(Source.DUKCAPIL, KAB))
    lines = Path(info.path).read_text(encoding="utf-8").splitlines()
    assert info.source_file == "dukcapil_6309_20261101.csv" and bool(info.new_load)
    assert len(raw) == info.rows_read == len(lines) - 1  # every data line, the header apart
    assert result.metadata["rows_read"] == info.rows_read


def test_the_records_asset_standardises_what_the_raw_asset_staged(resources):
    _asset(FILE_ASSETS, "kpu_raw")(_context(resources))
    _asset(RECORDS_ASSETS, "kpu_records")(_context(resources))
    store = Warehouse(resources["warehouse"].target())
    raw = store.read_table(staging.raw_table(Source.KPU, KAB))
    records = store.read_table(staging.records_table(Source.KPU, KAB))
    kept = raw[raw["quarantine_reason"].isna()] if "quarantine_reason" in raw else raw
    assert list(records.columns) == list(COLUMNS)
    assert sorted(records["source_row"]) == sorted(kept["source_row"])
    assert set(records["source"]) == {"kpu"}


def test_linked_residents_stages_the_region_result_and_publishes_nothing(resources):
    _stage_records(resources)
    result = linked_residents(_context(resources))
    store = Warehouse(resources["warehouse"].target())
    records = staging.read_records(store, KAB)
    links = store.read_table(staging.links_table(KAB))
    residents = store.read_table(staging.residents_table(KAB))
    # The asset reads the staged records, calls the pure core and stages what it returns.
    expected = link_region(
        records,
        KEY.encode(),
        KAB.kemendagri_code,
        pd.Timestamp(records["snapshot_date"].max()).date(),
        PreviousState(
            links=pd.DataFrame({"record_key": [], "resident_id": []}),
            residents=pd.DataFrame(columns=["resident_id", *TRACKED]),
            decisions=pd.DataFrame({"left_key": [], "right_key": [], "decision": []}),
        ),
    )
    assert len(links) == len(records) and links["resident_id"].notna().all()
    assert sorted(residents["resident_id"]) == sorted(expected.residents["resident_id"])
    assert result.metadata["residents"] == len(residents)
    assert not store.has_table("resident") or store.scalar("SELECT count(*) FROM resident") == 0

    # The blocking counts staged for linkage_blocking: one row per rule, as the engine found.
    blocking = store.read_table(staging.blocking_table(KAB)).set_index("rule")
    reported = result.metadata["blocking"]
    assert list(blocking.index) == list(reported)  # every rule, second pass last, in order
    for rule, report in reported.items():
        assert blocking.loc[rule, "candidate_pairs"] == report["pairs"]
        assert blocking.loc[rule, "capped_blocks"] == report["capped_blocks"]
    # Each compared pair is new to exactly one rule: the first that found it.
    assert blocking["new_pairs"].sum() == result.metadata["pairs_compared"]
    assert (blocking["new_pairs"] <= blocking["candidate_pairs"]).all()
    first = blocking.iloc[0]
    assert first["new_pairs"] == first["candidate_pairs"] > 0
    pairs = expected.linkage.pairs
    matched = pairs.probability >= 0.95
    in_band = (pairs.probability >= 0.5) & ~matched
    assert 0 < matched.sum() <= blocking["match_pairs"].sum()
    for row in blocking.itertuples():  # rule i marks its pairs with bit i (second pass last)
        found = (pairs.rules.astype(int) & (1 << row.rule_order)) != 0
        assert found.sum() == row.candidate_pairs
        assert row.match_pairs == (found & matched).sum()
        assert row.review_pairs == (found & in_band).sum()
    pd.testing.assert_frame_equal(
        blocking.reset_index(), expected.blocking, check_dtype=False, check_like=True
    )


def test_one_source_ingested_and_standardised_as_a_small_graph(resources):
    names = {"bps_raw", "bps_records"}
    assets = [a for a in FILE_ASSETS + RECORDS_ASSETS if a.key.to_user_string() in names]
    checks = [
        c for c in ALL_CHECKS if {k.asset_key.to_user_string() for k in c.check_keys} <= names
    ]
    result = dg.materialize(
        [*assets, *checks], resources=resources, partition_key=KAB.compact_code,
        instance=dg.DagsterInstance.ephemeral(),
    )  # fmt: skip
    assert result.success
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert evaluations == {
        ("bps_raw", "line_accounting"): True,
        ("bps_raw", "current_snapshot"): True,
        ("bps_records", "quality"): True,
    }
    store = Warehouse(resources["warehouse"].target())
    assert len(store.read_table(staging.records_table(Source.BPS, KAB))) > 0
    assert not store.has_table("resident") or store.scalar("SELECT count(*) FROM resident") == 0
