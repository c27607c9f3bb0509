"""The cross-region pass (matching/cross_region.py) on a generated province."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors.agencies import standardise_folder
from matching.cross_region import _deletion_keys, _near, _nik_numbers, link_across_regions
from matching.linkage import default_linker
from synthetic.province import MOVED, generate_province

REGIONS = ["6309", "6310", "6301"]


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Three regions linked one by one, as the pipeline's partitions do."""
    out = tmp_path_factory.mktemp("province")
    summary = generate_province(regions=REGIONS, people=2500, out=out, seed=3)
    truth = pd.read_csv(summary.truth_path, dtype={"file": str, "person_id": str})
    linked = []
    for region in REGIONS:
        records = standardise_folder(summary.landing, region).assign(region=region)
        clusters = default_linker().link(records).clusters["cluster"]
        linked.append(records.assign(resident_id=region + "-" + clusters.astype(str)))
    records = pd.concat(linked, ignore_index=True).merge(
        truth.rename(columns={"file": "source_file", "row": "source_row"}),
        on=["source_file", "source_row"],
        how="left",
        validate="one_to_one",
    )
    planted = pd.read_csv(summary.planted_path, dtype=str, keep_default_na=False)
    return records, planted


def _orphans_and_registry(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    has_registry = records.groupby("resident_id")["source"].transform(
        lambda s: (s == "dukcapil").any()
    )
    return records[~has_registry], records[records["source"] == "dukcapil"]


def test_every_row_of_the_province_has_its_person(province):
    records, planted = province
    assert records["person_id"].notna().all()
    moved = planted[planted["kind"] == MOVED]
    assert len(moved) > 0
    # A moved row is in another region's file than its person's registry row.
    home = records[records["source"] == "dukcapil"].set_index("person_id")["region"]
    where = records.set_index(["source_file", "source_row"])["region"]
    rows = list(zip(moved["file"], moved["row"].astype(int), strict=True))
    assert all(where[row] != home[person] for row, person in zip(rows, moved["person_id"],
                                                                 strict=True))  # fmt: skip


def test_moved_people_are_found_in_their_registry_region(province):
    records, planted = province
    orphans, registry = _orphans_and_registry(records)
    chunks = [registry.iloc[i : i + 1000] for i in range(0, len(registry), 1000)]
    result = link_across_regions(orphans, chunks)
    assert result.registry_rows == len(registry)
    assert result.candidates < len(registry) / 10  # a hash join, not a comparison of all
    persons = records.groupby("resident_id")["person_id"].agg(set)
    right = [
        bool(persons[a] & persons[b])
        for a, b in zip(
            result.links["resident_id"], result.links["registry_resident_id"], strict=True
        )  # fmt: skip
    ]
    assert len(right) > 0
    assert np.mean(right) >= 0.99
    moved = set(planted.loc[planted["kind"] == MOVED, "person_id"])
    orphaned = moved & set(orphans["person_id"])
    found = set().union(*(persons[r] for r in result.links["resident_id"]))
    assert len(orphaned & found) / len(orphaned) >= 0.95
    assert {"nik", "nik_near"} <= set(result.links["method"])
    assert (result.links["region"] != result.links["registry_region"]).all()


def test_same_inputs_give_the_same_links(province):
    records, _ = province
    orphans, registry = _orphans_and_registry(records)
    first = link_across_regions(orphans, [registry]).links
    again = link_across_regions(orphans.sample(frac=1, random_state=1), [registry]).links
    pd.testing.assert_frame_equal(first, again)


def test_deletion_keys_meet_for_one_digit_or_one_transposition():
    base = "6309014507850003"
    typo = "6309014507850008"  # last digit
    swapped = "6309014507580003"  # 85 -> 58
    far = "6309014507850088"
    numbers = _nik_numbers(pd.Series([base, typo, swapped, far, "12345", None]))
    assert numbers[4] == numbers[5] == -1
    rows, keys = _deletion_keys(numbers)
    by_row = {r: set(keys[rows == r].tolist()) for r in range(4)}
    assert by_row[0] & by_row[1]
    assert by_row[0] & by_row[2]
    assert not by_row[0] & by_row[3]
    near = _near(np.repeat(numbers[0], 3), numbers[1:4])
    assert near.tolist() == [True, True, False]


def test_a_shared_nik_with_nothing_in_common_is_not_a_move(tmp_path: Path):
    def record(region: str, resident: str, name: str, source: str) -> dict:
        return {
            "source": source, "source_file": f"{source}_{region}.csv", "source_row": 1,
            "snapshot_date": pd.Timestamp("2026-11-01"), "name_norm": name, "sex": "F",
            "birth_date": pd.Timestamp("1990-05-05"), "nik": "6309014505900001",
            "region": region, "resident_id": resident,
        }  # fmt: skip

    from connectors.schema import conform

    def frame(rows: list[dict]) -> pd.DataFrame:
        table = pd.DataFrame(rows)
        extra = table[["region", "resident_id"]]
        return pd.concat([conform(table.drop(columns=extra.columns)), extra], axis=1)

    orphan = frame([record("6310", "b-1", "SITI AMINAH", "kpu")])
    same = frame([record("6309", "a-1", "SITI AMINA", "dukcapil")])
    other = frame([record("6309", "a-2", "YOHANES KORNELIS", "dukcapil")])
    assert link_across_regions(orphan, [same]).links["method"].tolist() == ["nik"]
    assert link_across_regions(orphan, [other]).links.empty


@pytest.fixture(scope="module")
def published_province(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A province of three regions run through padu into one DuckDB warehouse."""
    from pipelines.cli import run_pipeline

    out = tmp_path_factory.mktemp("published")
    summary = generate_province(regions=REGIONS, people=600, out=out, seed=5)
    url = f"duckdb:///{out / 'warehouse.duckdb'}"
    lines: list[str] = []
    assert run_pipeline(summary.landing, url, None, echo=lines.append)
    return summary, url, lines


def _persons_of(store, summary) -> pd.Series:  # type: ignore[no-untyped-def]
    truth = pd.read_csv(summary.truth_path, dtype={"file": str, "person_id": str})
    links = store.query("SELECT source_file, source_row, resident_id FROM resident_link")
    links = links.merge(
        truth.rename(columns={"file": "source_file", "row": "source_row"}),
        on=["source_file", "source_row"],
    )
    return links.groupby("resident_id")["person_id"].agg(set)


def test_padu_run_links_moved_people_across_regions(published_province):
    from connectors.warehouse.engine import Warehouse

    summary, url, lines = published_province
    assert any(line.startswith("cross-region pass over 3 regions") for line in lines)
    store = Warehouse(url)
    links = store.query("SELECT * FROM cross_region_link")
    persons = _persons_of(store, summary)
    assert len(links) > 0
    right = [bool(persons[a] & persons[b]) for a, b in
             zip(links["resident_id"], links["registry_resident_id"], strict=True)]  # fmt: skip
    assert np.mean(right) >= 0.99
    planted = pd.read_csv(summary.planted_path, dtype=str, keep_default_na=False)
    moved = set(planted.loc[planted["kind"] == MOVED, "person_id"])
    found = set().union(*(persons[r] for r in links["resident_id"]))
    # Some moved voters are joined in their new region with a BPS row of the same person
    # that has no NIK: they are still orphans there, and must be found too.
    orphaned = set()
    residents = store.query("SELECT resident_id, in_dukcapil FROM resident")
    for rid in residents.loc[~residents["in_dukcapil"].astype(bool), "resident_id"]:
        orphaned |= persons.get(rid, set()) & moved
    assert len(orphaned) > 0
    assert len(found & orphaned) / len(orphaned) >= 0.95
    # Resident IDs are unique across the regions, and every link points at real residents.
    ids = set(residents["resident_id"])
    assert set(links["resident_id"]) <= ids and set(links["registry_resident_id"]) <= ids
    store.dispose()


def test_the_cross_region_pass_is_idempotent(published_province):
    from connectors.warehouse.engine import Warehouse
    from pipelines.cross_region import cross_region_pass

    _, url, _ = published_province
    store = Warehouse(url)
    columns = "resident_id, region, registry_resident_id, registry_region, method"
    before = store.query(f"SELECT {columns} FROM cross_region_link ORDER BY resident_id")
    cross_region_pass(store, "again")
    after = store.query(f"SELECT {columns} FROM cross_region_link ORDER BY resident_id")
    pd.testing.assert_frame_equal(before, after)
    assert set(store.query("SELECT DISTINCT run_id FROM cross_region_link")["run_id"]) == {"again"}
    store.dispose()


def test_the_auditors_report_says_where_a_voter_is_registered(published_province, tmp_path):
    from connectors.report.page import build_report
    from connectors.warehouse.engine import Warehouse

    _, url, _ = published_province
    store = Warehouse(url)
    build_report(store, tmp_path)
    links = store.query("SELECT resident_id, registry_region FROM cross_region_link")
    store.dispose()
    findings = pd.read_csv(tmp_path / "discrepancy.csv", dtype=str)
    ghosts = findings[findings["kind"] == "voter_not_in_registry"]
    moved = ghosts[ghosts["resident_id"].isin(links["resident_id"])]
    assert len(moved) > 0  # moved voters are not in their new region's registry...
    where = links.set_index("resident_id")["registry_region"]
    # ... and the report says which region's registry holds them.
    assert (moved["registered_in_region"] == moved["resident_id"].map(where)).all()
    others = findings[~findings["resident_id"].isin(links["resident_id"])]
    assert others["registered_in_region"].isna().all()
