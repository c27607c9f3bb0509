"""Resident IDs and the golden record, from given clusters of records."""

from __future__ import annotations

import pandas as pd

from connectors.schema import conform
from matching.resident import build_residents

KEY = b"test-key"
NIK_A = "6309013112850001"
NIK_B = "6309014405900002"


def record(source: str, row: int, name: str, nik: str | None, birth: str | None, sex: str, **kw):
    from matching.names import normalise_names

    names = normalise_names(pd.Series([name])).iloc[0]
    base = {
        "source": source, "source_file": f"{source}.csv", "source_row": row,
        "snapshot_date": pd.Timestamp("2026-11-01"), "nik": nik, "name_raw": name,
        "name_norm": names["name_norm"], "name_titles": names["name_titles"],
        "birth_date": pd.Timestamp(birth) if birth else None, "sex": sex, "kab_code": "63.09",
        "kec_code": "63.09.01", "desa_code": "63.09.01.2001",
        "alive": True if source == "dukcapil" else None,
    }  # fmt: skip
    base.update(kw)
    return base


def residents(rows: list[dict], clusters: list[int], key: bytes = KEY):
    records = conform(pd.DataFrame(rows))
    frame = pd.DataFrame({"cluster": clusters})
    return build_residents(records, frame, key)


def test_golden_record_takes_each_field_from_its_authority():
    people, ids = residents(
        [
            record(
                "bps",
                1,
                "BOEDI SANTOSA",
                None,
                None,
                "M",
                desa_code="63.09.02.2001",
                age_reported=40,
            ),  # fmt: skip
            record(
                "kpu",
                1,
                "BUDI SANTOSO",
                NIK_A,
                "1985-12-31",
                "M",
                desa_code="63.09.01.2002",
                tps="004",
            ),  # fmt: skip
            record("dukcapil", 1, "H. BUDI SANTOSO", NIK_A, "1985-12-31", "M"),
        ],
        [0, 0, 0],
    )
    assert ids.nunique() == 1
    person = people.iloc[0]
    assert person["display_name"] == "BUDI SANTOSO" and person["name_titles"] == "H."
    assert person["desa_code"] == "63.09.01.2001"  # registered: civil registry
    assert person["domicile_desa_code"] == "63.09.02.2001"  # domicile: BPS
    assert person["tps"] == "004"  # voter status: KPU
    assert (person["name_source"], person["birth_date_source"], person["registered_source"]) == (
        "dukcapil", "dukcapil", "dukcapil",
    )  # fmt: skip
    assert person["sources"] == "dukcapil,kpu,bps" and person["source_rows"] == 3
    assert person["nik_pseudonym"] != NIK_A and len(person["nik_pseudonym"]) == 24


def test_each_value_says_which_source_it_came_from():
    people, _ = residents(
        [
            record("kpu", 1, "AGUS SALIM", None, "1970-01-01", "M"),
            record("bps", 1, "AGUS SALIM", None, None, None),
        ],
        [0, 0],
    )
    person = people.iloc[0]
    assert person["name_source"] == "kpu" and person["birth_date_source"] == "kpu"
    assert person["registered_source"] == "kpu"


def test_resident_ids_are_deterministic_unique_and_keyed():
    rows = [
        record("dukcapil", 1, "BUDI SANTOSO", NIK_A, "1985-12-31", "M"),
        record("dukcapil", 2, "SITI AMINAH", NIK_B, "1990-05-04", "F"),
        record("kpu", 1, "RATNA", NIK_A, "1962-03-08", "F"),  # NIK conflict: own resident
    ]
    people, first = residents(rows, [0, 1, 2])
    _, second = residents(rows, [0, 1, 2])
    assert list(first) == list(second)
    assert people["resident_id"].is_unique and len(people) == 3
    _, other_key = residents(rows, [0, 1, 2], b"other")
    assert set(other_key).isdisjoint(set(first))


def test_a_resident_without_registry_row_keeps_its_id_across_snapshots():
    voter = record("kpu", 7, "AGUS SALIM", "6309010101700003", "1970-01-01", "M")
    _, before = residents([voter], [0])
    moved = {**voter, "source_file": "kpu_dpt_6309_20261201.csv", "source_row": 9}
    _, after = residents([moved], [0])
    assert before.iloc[0] == after.iloc[0]


def test_dead_person_is_not_alive():
    people, _ = residents(
        [record("dukcapil", 1, "BUDI", NIK_A, "1940-01-01", "M", alive=False)], [0]
    )
    assert people.loc[0, "alive"] == False  # noqa: E712 (pandas boolean)
