"""Discrepancy detection (matching/discrepancies/): small hand-made cases per kind, and
recall/precision per kind against what the generator planted, on data linked the way the
pipeline links it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors.agencies import standardise_folder
from connectors.schema import conform
from matching.discrepancies import COLUMNS, KINDS, find_discrepancies, summarise
from matching.linkage import default_linker
from matching.names import normalise_names
from matching.resident import build_residents
from synthetic import Rates, generate

KEY = b"test-key"
SNAPSHOT = pd.Timestamp("2026-11-01")
FILES = {"dukcapil": "dukcapil_6309_20261101.csv", "kpu": "kpu_dpt_6309_20261101.csv",
         "bps": "bps_regsosek_6309_20261101.csv"}  # fmt: skip

# --- hand-made cases ---------------------------------------------------------------------------

NIK_M = "6309013112850001"  # a man born 31-12-1985
NIK_F = "6309014405900002"  # a woman born 04-05-1990
KK = "6309010101100001"


def row(person: str, source: str, number: int, name: str, nik: str | None, birth: str | None,
        sex: str, **kw) -> dict:  # fmt: skip
    names = normalise_names(pd.Series([name])).iloc[0]
    base = {
        "_person": person,
        "source": source,
        "source_file": FILES[source],
        "source_row": number,
        "snapshot_date": SNAPSHOT,
        "nik": nik,
        "kk": KK,
        "name_raw": name,
        "name_norm": names["name_norm"],
        "sex": sex,
        "birth_date": pd.Timestamp(birth) if birth else None,
        "marital_status": "kawin",
        "occupation": 15 if source == "dukcapil" else None,
        "alive": True if source == "dukcapil" else None,
        "kab_code": "63.09",
        "kec_code": "63.09.01",
        "desa_code": "63.09.01.2001",
    }
    base.update(kw)
    return base


def find(rows: list[dict], reference_date: pd.Timestamp = SNAPSHOT) -> pd.DataFrame:
    """Residents as given by ``_person`` (the linkage is not under test here)."""
    frame = pd.DataFrame(rows)
    clusters = pd.DataFrame({"cluster": pd.factorize(frame.pop("_person"))[0]})
    records = conform(frame)
    residents, ids = build_residents(records, clusters, KEY)
    links = records[["source", "source_file", "source_row"]].assign(resident_id=ids)
    return find_discrepancies(records, links, residents, reference_date=reference_date)


def kinds(found: pd.DataFrame) -> list[str]:
    return sorted(found["kind"])


def rows_of(found: pd.DataFrame, kind: str) -> list[str]:
    return [r for text in found.loc[found["kind"] == kind, "source_rows"] for r in text.split(";")]


def test_consistent_person_has_no_findings():
    found = find(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "bps", 1, "BUDI SANTOSA", NIK_M, None, "M"),
        ]
    )
    assert found.empty and list(found.columns) == list(COLUMNS)


def test_voter_deceased_lists_the_voter_and_registry_rows():
    found = find(
        [
            row("a", "dukcapil", 7, "BUDI SANTOSO", NIK_M, "1985-12-31", "M", alive=False),
            row("a", "kpu", 3, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
        ]
    )
    assert kinds(found) == ["voter_deceased"]
    assert rows_of(found, "voter_deceased") == [f"{FILES['dukcapil']}:7", f"{FILES['kpu']}:3"]
    assert "deceased" in found["details"].iloc[0]


@pytest.mark.parametrize(
    ("birth", "marital", "expected"),
    [
        ("2011-01-01", "belum_kawin", ["voter_underage"]),  # 15
        ("2011-01-01", "kawin", []),  # married: may vote
        ("2009-11-01", "belum_kawin", []),  # 17 on the reference day
        ("2009-11-02", "belum_kawin", ["voter_underage"]),  # 17 one day later
    ],
)
def test_voter_underage(birth, marital, expected):
    found = find(
        [
            row(
                "a",
                "dukcapil",
                1,
                "SITI AMINAH",
                None,
                birth,
                "F",
                marital_status=marital,
                occupation=3,
            ),
            row("a", "kpu", 1, "SITI AMINAH", None, birth, "F", marital_status=marital),
        ]  # fmt: skip
    )
    assert kinds(found) == expected


def test_voter_duplicate_needs_two_rows_of_the_same_person():
    same = find(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 9, "BUDI S", NIK_M, "1985-12-31", "M"),
        ]
    )
    assert kinds(same) == ["voter_duplicate"]
    assert rows_of(same, "voter_duplicate") == [f"{FILES['kpu']}:1", f"{FILES['kpu']}:9"]
    # Two people sharing a NIK that linkage merged: each is listed once, no duplicate.
    merged = find(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "dukcapil", 2, "GALIH PRATAMA", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 2, "GALIH PRATAMA", NIK_M, "1985-12-31", "M"),
        ]
    )
    assert "voter_duplicate" not in kinds(merged) and "nik_conflict" in kinds(merged)


NIK_D = "6309014507920004"  # a woman born 05-07-1992
NIK_R = "6309010101800003"  # a man born 01-01-1980


def _duplicate_details(rows: list[dict]) -> str:
    found = find(rows)
    duplicates = found[found["kind"] == "voter_duplicate"]
    assert len(duplicates) == 1, found
    return str(duplicates["details"].iloc[0])


@pytest.mark.parametrize(
    ("registered", "listed", "why"),
    [
        # A swap in a short name costs a quarter of its similarity (75 < 80).
        ("DEWI", "DWEI", "names 'DEWI' / 'DWEI' (transposition)"),
        ("SITI AMINAH", "STII AMINAH", "names 'SITI AMINAH' / 'STII AMINAH' (transposition)"),
        # A dropped middle word and a swap in another (similarity 71).
        ("MUHAMMAD RIZKY PRATAMA", "MUHAMAD RZIKY",
         "names 'MUHAMMAD RIZKY PRATAMA' / 'MUHAMMAD RZIKY' (dropped word + transposition)"),
        ("MUHAMMAD RIZKY PRATAMA", "MUHAMAD PRATMA",
         "names 'MUHAMMAD RIZKY PRATAMA' / 'MUHAMMAD PRATMA' (dropped word + typo)"),
    ],
)  # fmt: skip
def test_voter_duplicate_same_nik_another_name(registered, listed, why):
    nik, birth, sex = (NIK_D, "1992-07-05", "F") if registered == "DEWI" else (
        NIK_R, "1980-01-01", "M")  # fmt: skip
    if registered.startswith("SITI"):
        nik, birth, sex = NIK_F, "1990-05-04", "F"
    rows = [
        row("a", "dukcapil", 1, registered, nik, birth, sex),
        row("a", "kpu", 1, registered, nik, birth, sex),
        row("a", "kpu", 2, listed, nik, birth, sex, tps="002"),
    ]
    details = _duplicate_details(rows)
    assert "class: same NIK, another name" in details and why in details
    assert "same family card, same birth date" in details
    assert nik not in details and KK not in details
    # Without the civil-registry row the two voter rows are still one person listed twice.
    assert "class: same NIK, another name" in _duplicate_details(rows[1:])


def test_voter_duplicate_identical_except_the_address():
    details = _duplicate_details(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M", tps="001",
                address="JL. MAWAR 3"),
            row("a", "kpu", 2, "BUDI SANTOSO", NIK_M, "1985-12-31", "M", tps="004",
                desa_code="63.09.01.2012", address="JL. MELATI"),
        ]
    )  # fmt: skip
    assert "class: identical except the address — desa 63.09.01.2001 / 63.09.01.2012" in details
    assert "TPS 001 / 004" in details and "street address differs" in details
    assert "MAWAR" not in details and "MELATI" not in details  # no street address shown


def test_voter_duplicate_similar_identity():
    details = _duplicate_details(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 2, "BUDI SANTOSA", "6309013112850009", "1985-12-31", "M"),
        ]
    )
    assert "class: similar identity — names 'BUDI SANTOSO' / 'BUDI SANTOSA' (typo)" in details
    assert "same birth date, NIKs differ" in details and "6309013112850009" not in details


@pytest.mark.parametrize(
    ("first", "second"),
    [("BUDI SANTOSO", "GALIH PRATAMA"), ("HASAN", "HUSIN")],  # strangers; twins sharing a NIK
)
def test_same_nik_family_card_and_birth_date_with_another_name_is_not_enough(first, second):
    found = find(
        [
            row("a", "kpu", 1, first, NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 2, second, NIK_M, "1985-12-31", "M"),
        ]
    )
    assert "voter_duplicate" not in kinds(found)


def test_voter_duplicate_found_after_linkage(tmp_path):
    """Extract files as agencies send them, linked by the pipeline's linker: the listings
    with another name (in another desa and TPS) join their person and are reported."""
    from conftest import (
        BPS_HEADER,
        BUDI,
        DUKCAPIL_HEADER,
        KPU_HEADER,
        SITI,
        bps_row,
        delimited,
        dukcapil_row,
        kpu_row,
        write_text,
    )  # fmt: skip

    dewi = {"nik": NIK_D, "kk": "6309010101100007", "name": "DEWI", "sex": "2",
            "dob": "05-07-1992"}  # fmt: skip
    other = {"KELURAHAN": "BUNGIN", "TPS": "002"}
    folder = tmp_path / "landing"
    people = [BUDI, SITI, dewi]
    write_text(folder / FILES["dukcapil"],
               delimited(DUKCAPIL_HEADER, [dukcapil_row(p) for p in people], "|"))  # fmt: skip
    voters = [kpu_row(BUDI), kpu_row(SITI, NO="2"), kpu_row(dewi, NO="3"),
              kpu_row(SITI, NO="4", NAMA="STII AMINAH", **other),
              kpu_row(dewi, NO="5", NAMA="DWEI", **other)]  # fmt: skip
    write_text(folder / FILES["kpu"], delimited(KPU_HEADER, voters, ","))
    write_text(folder / FILES["bps"], delimited(BPS_HEADER, [bps_row(BUDI)], ","))
    records = standardise_folder(folder)
    result = default_linker().link(records)
    residents, ids = build_residents(records, result.clusters, KEY)
    links = records[["source", "source_file", "source_row"]].assign(resident_id=ids.to_numpy())
    found = find_discrepancies(records, links, residents, reference_date=SNAPSHOT)
    duplicates = found[found["kind"] == "voter_duplicate"].sort_values("source_rows")
    assert list(duplicates["source_rows"]) == [
        f"{FILES['kpu']}:2;{FILES['kpu']}:4",
        f"{FILES['kpu']}:3;{FILES['kpu']}:5",
    ]
    assert all("class: same NIK, another name" in d for d in duplicates["details"])
    assert "(transposition)" in duplicates["details"].iloc[1]


def test_voter_not_in_registry_and_bps_not_in_registry():
    found = find(
        [
            row("a", "kpu", 4, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("b", "bps", 5, "SITI AMINAH", None, "1990-05-04", "F"),
        ]
    )
    assert kinds(found) == ["bps_not_in_registry", "voter_not_in_registry"]
    assert rows_of(found, "voter_not_in_registry") == [f"{FILES['kpu']}:4"]
    assert rows_of(found, "bps_not_in_registry") == [f"{FILES['bps']}:5"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, ["eligible_missing_from_voter_list"]),
        ({"occupation": 6}, []),  # TNI
        ({"occupation": 7}, []),  # POLRI
        ({"alive": False}, []),
        (
            {"birth_date": pd.Timestamp("2011-01-01"), "marital_status": "kawin"},
            ["eligible_missing_from_voter_list"],
        ),  # under 17 but married
        ({"birth_date": pd.Timestamp("2011-01-01"), "marital_status": "belum_kawin"}, []),
    ],  # fmt: skip
)
def test_eligible_missing_from_voter_list(overrides, expected):
    found = find([row("a", "dukcapil", 1, "BUDI SANTOSO", None, "1985-12-31", "M", **overrides)])
    assert kinds(found) == expected
    if expected:
        assert rows_of(found, expected[0]) == [f"{FILES['dukcapil']}:1"]


def test_voter_ineligible_occupation():
    found = find(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M", occupation=7),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
        ]
    )
    assert kinds(found) == ["voter_ineligible_occupation"]


def test_nik_conflict_split_merged_and_plain_duplicate_rows():
    def conflicts(rows: list[dict]) -> pd.DataFrame:
        found = find(rows)
        return found[found["kind"] == "nik_conflict"]

    split = conflicts(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("b", "dukcapil", 2, "GALIH PRATAMA", NIK_M, "1985-12-31", "M"),
        ]
    )
    assert kinds(split) == ["nik_conflict", "nik_conflict"]  # one per resident
    assert all("split over 2 residents" in d for d in split["details"])
    assert all(s.split(";") == [f"{FILES['dukcapil']}:1", f"{FILES['dukcapil']}:2"]
               for s in split["source_rows"])  # fmt: skip
    merged = conflicts(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "dukcapil", 2, "GALIH PRATAMA", NIK_M, "1985-12-31", "M"),
        ]
    )
    assert kinds(merged) == ["nik_conflict"]
    assert "linked as one resident" in merged["details"].iloc[0]
    # The same row twice (seen in the wild) is one person, not a conflict.
    twice = conflicts(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "dukcapil", 2, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
        ]
    )
    assert twice.empty


def test_multiple_niks_counts_registry_niks_only():
    double = find(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "dukcapil", 2, "BUDI SANTOSO", "6309023112850007", "1985-12-31", "M"),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
        ]
    )
    assert kinds(double) == ["multiple_niks"]
    assert "2 distinct NIKs" in double["details"].iloc[0]
    # A voter-list NIK with a typo is the voter list's error, not a second NIK.
    typo = find(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 1, "BUDI SANTOSO", "6309013112850007", "1985-12-31", "M"),
        ]
    )
    assert typo.empty


@pytest.mark.parametrize(
    ("birth", "sex", "part"),
    [("1986-12-31", "M", "year"), ("1985-12-13", "M", "day"), ("1985-12-31", "F", "sex")],
)
def test_nik_birthdate_mismatch_names_the_part(birth, sex, part):
    found = find(
        [
            row("a", "dukcapil", 3, "BUDI SANTOSO", NIK_M, birth, sex),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, birth, sex),
        ]
    )
    assert kinds(found) == ["nik_birthdate_mismatch"]
    assert rows_of(found, "nik_birthdate_mismatch") == [f"{FILES['dukcapil']}:3"]
    assert part in found["details"].iloc[0]


def test_domicile_differs_against_every_registered_desa():
    found = find(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "bps", 1, "BUDI SANTOSO", NIK_M, None, "M", desa_code="63.09.02.2003"),
        ]
    )
    assert kinds(found) == ["domicile_differs"]
    assert found["details"].iloc[0] == (
        "registered in 63.09.01.2001, enumerated by BPS in 63.09.02.2003"
    )
    assert rows_of(found, "domicile_differs") == [f"{FILES['dukcapil']}:1", f"{FILES['bps']}:1"]
    # A double registration in the desa BPS found the person in: not a different domicile.
    double = find(
        [
            row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row(
                "a",
                "dukcapil",
                2,
                "BUDI SANTOSO",
                "6309023112850007",
                "1985-12-31",
                "M",
                desa_code="63.09.02.2003",
            ),
            row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
            row("a", "bps", 1, "BUDI SANTOSO", NIK_M, None, "M", desa_code="63.09.02.2003"),
        ]  # fmt: skip
    )
    assert kinds(double) == ["multiple_niks"]


def test_links_in_any_order_give_the_same_findings():
    rows = [
        row("a", "dukcapil", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M", alive=False),
        row("a", "kpu", 1, "BUDI SANTOSO", NIK_M, "1985-12-31", "M"),
        row("b", "kpu", 2, "SITI AMINAH", NIK_F, "1990-05-04", "F"),
    ]
    frame = pd.DataFrame(rows)
    clusters = pd.DataFrame({"cluster": pd.factorize(frame.pop("_person"))[0]})
    records = conform(frame)
    residents, ids = build_residents(records, clusters, KEY)
    links = records[["source", "source_file", "source_row"]].assign(resident_id=ids)
    aligned = find_discrepancies(records, links, residents, reference_date=SNAPSHOT)
    shuffled = find_discrepancies(records, links.iloc[::-1], residents, reference_date=SNAPSHOT)
    pd.testing.assert_frame_equal(aligned, shuffled)
    assert summarise(aligned) == {k: int(k in ("voter_deceased", "voter_not_in_registry"))
                                  for k in KINDS}  # fmt: skip


def test_no_records_no_findings():
    empty = conform(pd.DataFrame(columns=["source"]))
    links = pd.DataFrame(columns=["source", "source_file", "source_row", "resident_id"])
    found = find_discrepancies(empty, links, pd.DataFrame(columns=["resident_id"]),
                               reference_date=SNAPSHOT)  # fmt: skip
    assert found.empty and list(found.columns) == list(COLUMNS)


# --- against the generator's planted discrepancies ---------------------------------------

PEOPLE = 6000
# Rare kinds are planted more often than by default, so each has a few dozen cases. Double
# registrations keep their default rate: each one linkage misses is also a false
# "eligible_missing" (its registration is not on the voter list), so raising it would
# measure the linker, not this module.
RATES = Rates(
    nik_conflict=0.004,
    underage_listed=0.01,
    tni_polri_listed=0.6,
    voter_duplicate=0.01,
    nik_birthdate_mismatch=0.006,
)
#: Finding kind -> the generator's kind (truth.py), where the names differ.
PLANTED_AS = {"multiple_niks": "dukcapil_double_registration"}
MIN_SCORE = 0.95


@pytest.fixture(scope="module")
def planted_region(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    base: Path = tmp_path_factory.mktemp("planted")
    summary = generate(region="6309", people=PEOPLE, seed=17, out=base / "landing", rates=RATES)
    records = standardise_folder(base / "landing")
    result = default_linker().link(records)
    residents, ids = build_residents(records, result.clusters, KEY)
    links = records[["source", "source_file", "source_row"]].assign(resident_id=ids.to_numpy())
    findings = find_discrepancies(records, links, residents, reference_date=SNAPSHOT)
    truth = pd.read_csv(summary.truth_path, dtype={"file": str, "row": int, "person_id": str})
    planted = pd.read_csv(summary.planted_path, dtype=str, keep_default_na=False)
    return {
        "records": records, "links": links, "findings": findings, "truth": truth,
        "planted": planted,
    }  # fmt: skip


def _expected(kind: str, g: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What should be found: ``file``, ``row`` ("" when the finding has no row), ``person_id``.

    bps_not_in_registry is not planted; it follows from the truth: BPS rows of persons
    without a civil-registry row."""
    if kind == "bps_not_in_registry":
        truth = g["truth"]
        registered = set(truth.loc[truth["file"].str.startswith("dukcapil"), "person_id"])
        bps = truth[truth["file"].str.startswith("bps") & ~truth["person_id"].isin(registered)]
        return bps.assign(row=bps["row"].astype(str))
    planted = g["planted"]
    return planted[planted["kind"] == PLANTED_AS.get(kind, kind)]


def recall_precision(kind: str, g: dict[str, pd.DataFrame]) -> tuple[float, float, int, int]:
    """Recall: share of expected rows (or persons, for a finding without rows) that some
    finding of the kind lists. Precision: share of findings that list an expected row (or
    whose resident holds an expected person)."""
    expected = _expected(kind, g)
    found = g["findings"][g["findings"]["kind"] == kind]
    listed = [set(text.split(";")) for text in found["source_rows"]]
    if (expected["row"] == "").all():
        truth = g["truth"]
        person = dict(zip(truth["file"] + ":" + truth["row"].astype(str), truth["person_id"],
                          strict=True))  # fmt: skip
        links = g["links"]
        refs = links["source_file"] + ":" + links["source_row"].astype(str)
        persons = refs.map(person).groupby(links["resident_id"].to_numpy()).agg(set)
        wanted = set(expected["person_id"])
        held = [persons.get(rid, set()) for rid in found["resident_id"]]
        hits = sum(bool(h & wanted) for h in held)
        covered = set().union(*held) & wanted if held else set()
    else:
        wanted = set(expected["file"] + ":" + expected["row"])
        hits = sum(bool(s & wanted) for s in listed)
        covered = set().union(*listed) & wanted if listed else set()
    recall = len(covered) / len(wanted) if wanted else 1.0
    precision = hits / len(found) if len(found) else 1.0
    return recall, precision, len(wanted), len(found)


@pytest.mark.parametrize(
    ("kind", "measure"),
    [pytest.param(k, m, id=f"{k}-{m}") for k in KINDS for m in ("recall", "precision")],
)
def test_findings_match_what_was_planted(planted_region, kind, measure):
    recall, precision, expected, found = recall_precision(kind, planted_region)
    assert expected >= 10, f"too few {kind} expected to measure ({expected})"
    value = recall if measure == "recall" else precision
    assert value >= MIN_SCORE, (
        f"{kind}: recall {recall:.3f}, precision {precision:.3f} "
        f"({expected} expected, {found} found)"
    )


def test_findings_carry_no_identifier(planted_region):
    findings = planted_region["findings"]
    records = planted_region["records"]
    identifiers = set(records["nik"].dropna()) | set(records["kk"].dropna())
    text = " ".join(findings["details"]) + " " + " ".join(findings["source_rows"])
    runs = re.findall(r"\d{16,}", text)
    assert not {r[i : i + 16] for r in runs for i in range(len(r) - 15)} & identifiers
    assert set(findings["kind"]) <= set(KINDS)
    assert findings["resident_id"].isin(planted_region["links"]["resident_id"]).all()
    assert np.all(findings["source_rows"].str.len() > 0)
