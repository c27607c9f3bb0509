"""The first linkage and the golden record, on small hand-made record sets."""

from __future__ import annotations

import pandas as pd
import pytest

from connectors.schema import conform
from matching.linkage import FirstLinker, name_scores
from matching.resident import build_residents

KEY = b"test-key"


def record(source: str, row: int, name: str, nik: str | None, birth: str | None, sex: str, **kw):
    from matching.names import normalise_names

    names = normalise_names(pd.Series([name])).iloc[0]
    base = {
        "source": source,
        "source_file": f"{source}.csv",
        "source_row": row,
        "snapshot_date": pd.Timestamp("2026-11-01"),
        "nik": nik,
        "name_raw": name,
        "name_norm": names["name_norm"],
        "name_titles": names["name_titles"],
        "birth_date": pd.Timestamp(birth) if birth else None,
        "sex": sex,
        "kab_code": "63.09",
        "kec_code": "63.09.01",
        "desa_code": "63.09.01.2001",
        "alive": True if source == "dukcapil" else None,
    }
    base.update(kw)
    return base


def link(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    records = conform(pd.DataFrame(rows))
    result = FirstLinker().link(records)
    residents, ids = build_residents(records, result.clusters, KEY)
    out = records[["source", "source_row"]].copy()
    out["resident_id"] = ids
    out["method"] = result.clusters["link_method"].to_numpy()
    return out, residents


def same(out: pd.DataFrame, a: int, b: int) -> bool:
    return out.loc[a, "resident_id"] == out.loc[b, "resident_id"]


NIK_A = "6309013112850001"
NIK_B = "6309014405900002"


def test_exact_nik_links_across_sources_and_golden_record_prefers_registry():
    out, residents = link(
        [
            record("dukcapil", 1, "H. BUDI SANTOSO", NIK_A, "1985-12-31", "M"),
            record("kpu", 1, "BUDI SANTOSO", NIK_A, "1985-12-31", "M", desa_code="63.09.01.2002"),
            record(
                "bps",
                1,
                "BOEDI SANTOSA",
                NIK_A,
                None,
                "M",
                desa_code="63.09.02.2001",
                age_reported=40,
            ),  # fmt: skip
        ]
    )
    assert out["resident_id"].nunique() == 1
    assert list(out["method"]) == ["anchor", "nik", "nik"]
    person = residents.iloc[0]
    assert person["display_name"] == "BUDI SANTOSO" and person["name_titles"] == "H."
    assert person["desa_code"] == "63.09.01.2001"  # registered: civil registry
    assert person["domicile_desa_code"] == "63.09.02.2001"  # domicile: BPS
    assert person["sources"] == "dukcapil,kpu,bps" and person["source_rows"] == 3
    assert person["nik_pseudonym"] != NIK_A and len(person["nik_pseudonym"]) == 24


def test_nik_shared_by_clearly_different_people_is_not_a_link():
    out, _ = link(
        [
            record("dukcapil", 1, "BUDI SANTOSO", NIK_A, "1985-12-31", "M"),
            record("kpu", 1, "RATNA SARI DEWI", NIK_A, "1962-03-08", "F"),
        ]
    )
    assert not same(out, 0, 1)


def test_mistyped_nik_falls_back_to_name_and_birth_date():
    out, _ = link(
        [
            record("dukcapil", 1, "MUHAMMAD RIZKY PRATAMA", NIK_A, "1985-12-31", "M"),
            record("kpu", 1, "M. RIZKI PRATAMA", "6309013112850007", "1985-12-31", "M"),
        ]
    )
    assert same(out, 0, 1)
    assert out.loc[1, "method"] == "name_birth_date"


def test_placeholder_nik_without_birth_date_links_by_name_and_age():
    out, _ = link(
        [
            record("dukcapil", 1, "SITI AMINAH", NIK_B, "1990-05-04", "F"),
            record("bps", 1, "SITI AMINAH", None, None, "F", age_reported=36),
        ]
    )
    assert same(out, 0, 1) and out.loc[1, "method"] == "name_age"


def test_name_and_age_is_not_enough_when_ambiguous():
    out, _ = link(
        [
            record("dukcapil", 1, "SITI AMINAH", NIK_B, "1990-05-04", "F"),
            record("dukcapil", 2, "SITI AMINAH", "6309015006900003", "1990-06-10", "F"),
            record("bps", 1, "SITI AMINAH", None, None, "F", age_reported=36),
        ]
    )
    assert not same(out, 2, 0) and not same(out, 2, 1)


def test_different_people_born_the_same_day_stay_apart():
    out, _ = link(
        [
            record("dukcapil", 1, "AGUS SETIAWAN", NIK_A, "1985-12-31", "M"),
            record("kpu", 1, "BAMBANG SUSILO", None, "1985-12-31", "M"),
        ]
    )
    assert not same(out, 0, 1)


def test_best_link_does_not_chain_people_together():
    out, _ = link(
        [
            record("dukcapil", 1, "AHMAD FAUZI", NIK_A, "1985-12-31", "M"),
            record("dukcapil", 2, "AHMAD FAUZAN", "6309013112850002", "1985-12-31", "M"),
            record("kpu", 1, "AHMAD FAUZI", None, "1985-12-31", "M"),
        ]
    )
    assert same(out, 2, 0) and not same(out, 0, 1)


def test_double_registration_in_civil_registry_is_one_person():
    out, residents = link(
        [
            record("dukcapil", 1, "DJOKO SOESILO", NIK_A, "1985-12-31", "M", mother_name="SARINAH"),
            record(
                "dukcapil",
                2,
                "JOKO SUSILO",
                "6309053112850004",
                "1985-12-31",
                "M",
                mother_name="SARINAH",
            ),  # fmt: skip
        ]
    )
    assert same(out, 0, 1) and out.loc[1, "method"] == "duplicate_registration"
    assert len(residents) == 1


def test_twins_are_two_people():
    out, _ = link(
        [
            record("dukcapil", 1, "HASAN BASRI", NIK_A, "1985-12-31", "M", mother_name="SARINAH"),
            record(
                "dukcapil",
                2,
                "HUSIN BASRI",
                "6309013112850002",
                "1985-12-31",
                "M",
                mother_name="SARINAH",
            ),  # fmt: skip
        ]
    )
    assert not same(out, 0, 1)


def test_resident_ids_are_deterministic_unique_and_keyed():
    rows = [
        record("dukcapil", 1, "BUDI SANTOSO", NIK_A, "1985-12-31", "M"),
        record("dukcapil", 2, "SITI AMINAH", NIK_B, "1990-05-04", "F"),
        record("kpu", 1, "RATNA", NIK_A, "1962-03-08", "F"),  # NIK conflict: own resident
    ]
    first, residents = link(rows)
    second, _ = link(rows)
    assert list(first["resident_id"]) == list(second["resident_id"])
    assert residents["resident_id"].is_unique and len(residents) == 3
    records = conform(pd.DataFrame(rows))
    _, other_key = build_residents(records, FirstLinker().link(records).clusters, b"other")
    assert set(other_key).isdisjoint(set(first["resident_id"]))


def test_dead_person_is_not_alive():
    _, residents = link([record("dukcapil", 1, "BUDI", NIK_A, "1940-01-01", "M", alive=False)])
    assert residents.loc[0, "alive"] == False  # noqa: E712 (pandas boolean)


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("BUDI SANTOSO", "BUDI SANTOSO", 100, 100),
        ("SANTOSO BUDI", "BUDI SANTOSO", 100, 100),
        ("SITI", "SITI AMINAH", 0, 70),  # one word is not enough for a subset match
        ("AHMAD FAUZI", "AHMAD FAUZI RAHMAN", 90, 100),
        ("AGUS", "", 0, 0),
    ],
)
def test_name_scores(a, b, low, high):
    import numpy as np

    score = name_scores(np.array([a], dtype=object), np.array([b], dtype=object))[0]
    assert low <= score <= high
