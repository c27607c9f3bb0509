"""Invariants of the synthetic agency-extract generator (synthetic).

Each test reads the files the generator wrote and checks them against docs/input-formats.md and
docs/domain.md, or against the truth and planted files, so that a broken generator fails here.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from connectors.reference.regions import bps_to_kemendagri, desa_of, kabupaten
from matching.nik import PLACEHOLDER_NIKS, nik_parts, nik_structure_issue
from synthetic import DEFAULT_RATES, generate

SNAPSHOT = date(2026, 11, 1)
DUKCAPIL_HEADER = (
    "NIK|NO_KK|NAMA_LGKP|JENIS_KLMIN|TMPT_LHR|TGL_LHR|AGAMA|STAT_KWN|STAT_HBKEL|PDDK_AKH|"
    "JENIS_PKRJN|NAMA_LGKP_IBU|ALAMAT|NO_RT|NO_RW|NO_PROP|NO_KAB|NO_KEC|NO_KEL|STAT_HIDUP"
)
KPU_HEADER = (
    "NO,NKK,NIK,NAMA,TEMPAT_LAHIR,TANGGAL_LAHIR,STATUS_PERKAWINAN,JENIS_KELAMIN,ALAMAT,RT,RW,"
    "DISABILITAS,KTP_EL,KETERANGAN,KECAMATAN,KELURAHAN,TPS"
)
BPS_HEADER = "R101,R102,R103,R104,R105,R109,R110,R401,R402,R403,R404,R405,R406,R407,R408"
ALL_KINDS = {
    "dukcapil_double_registration", "voter_deceased", "voter_underage", "voter_duplicate",
    "voter_not_in_registry", "eligible_missing_from_voter_list", "voter_ineligible_occupation",
    "nik_mistyped", "nik_excel_mangled", "kelurahan_misspelled", "domicile_differs",
    "bps_nik_placeholder", "bps_birthdate_missing", "nik_birthdate_mismatch", "nik_conflict",
}  # fmt: skip
# Rare problems made common enough that 3,000 people show every kind.
BOOSTED = replace(
    DEFAULT_RATES,
    nik_conflict=0.01,
    double_registration=0.02,
    nik_birthdate_mismatch=0.02,
    tni_polri_listed=1.0,
    voter_duplicate=0.02,
)


@dataclass
class Run:
    out: Path
    dukcapil: pd.DataFrame
    kpu: pd.DataFrame
    bps: pd.DataFrame
    truth: pd.DataFrame
    planted: pd.DataFrame
    people: int


def _read(path: Path, sep: str) -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)


def _with_truth(table: pd.DataFrame, truth: pd.DataFrame, name: str) -> pd.DataFrame:
    rows = truth[truth["file"] == name].sort_values("row", key=lambda s: s.astype(int))
    assert len(rows) == len(table)
    return table.assign(row=rows["row"].astype(int).to_numpy(), pid=rows["person_id"].to_numpy())


def _planted_rows(run: Run, kind: str, file_prefix: str) -> set[int]:
    p = run.planted
    sel = p[(p["kind"] == kind) & p["file"].str.startswith(file_prefix)]
    return set(sel["row"].astype(int))


def _registered_desa(run: Run) -> pd.Series:
    """person_id -> Kemendagri desa code of the person's (first) registration."""
    doubles = _planted_rows(run, "dukcapil_double_registration", "dukcapil_")
    d = run.dukcapil[~run.dukcapil["row"].isin(doubles)]
    codes = "63.09." + d["NO_KEC"].str.zfill(2) + "." + d["NO_KEL"]
    return codes.set_axis(d["pid"])


def _age(birth: pd.Series, on: date) -> pd.Series:
    before = (birth.dt.month > on.month) | ((birth.dt.month == on.month) & (birth.dt.day > on.day))
    return on.year - birth.dt.year - before.astype(int)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("gen")
    summary = generate(
        region="6309", people=3000, seed=7, out=base / "landing", snapshot=SNAPSHOT, rates=BOOSTED
    )
    truth = pd.read_csv(base / "truth.csv", dtype=str, keep_default_na=False)
    paths = summary.paths
    return Run(
        out=base / "landing",
        dukcapil=_with_truth(_read(paths["dukcapil"], "|"), truth, paths["dukcapil"].name),
        kpu=_with_truth(_read(paths["kpu"], ","), truth, paths["kpu"].name),
        bps=_with_truth(_read(paths["bps"], ","), truth, paths["bps"].name),
        truth=truth,
        planted=pd.read_csv(base / "planted.csv", dtype=str, keep_default_na=False),
        people=summary.persons,
    )


def test_file_names_use_each_agencys_region_code(tmp_path: Path) -> None:
    # Jakarta Pusat is 31.71 for Kemendagri but 3173 for BPS.
    assert kabupaten("3171").bps_code == "3173"
    generate(region="3171", people=200, seed=1, out=tmp_path / "landing", snapshot=SNAPSHOT)
    names = sorted(p.name for p in (tmp_path / "landing").iterdir())
    assert names == [
        "bps_regsosek_3173_20261101.csv",
        "dukcapil_3171_20261101.csv",
        "kpu_dpt_3171_20261101.csv",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landing", "planted.csv", "truth.csv"]


def test_headers_and_delimiters(run: Run) -> None:
    files = {p.name.split("_")[0]: p for p in run.out.iterdir()}
    expected = {
        "dukcapil": (DUKCAPIL_HEADER, "|"),
        "kpu": (KPU_HEADER, ","),
        "bps": (BPS_HEADER, ","),
    }
    for agency, (header, sep) in expected.items():
        raw = files[agency].read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
        text = raw.decode("utf-8")
        assert text.splitlines()[0] == header
        width = header.count(sep) + 1
        rows = list(csv.reader(text.splitlines()[1:], delimiter=sep))
        assert rows and all(len(r) == width for r in rows)


def test_dukcapil_value_formats(run: Run) -> None:
    d = run.dukcapil
    assert d["TGL_LHR"].str.fullmatch(r"\d{2}-\d{2}-\d{4}").all()
    for col in ("NO_RT", "NO_RW", "NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL"):
        assert d[col].str.fullmatch(r"[1-9]\d*").all(), col  # integers without padding
    assert set(d["NO_PROP"]) == {"63"} and set(d["NO_KAB"]) == {"9"}
    codes = "63.09." + d["NO_KEC"].str.zfill(2) + "." + d["NO_KEL"]
    assert codes.isin(set(desa_of(kabupaten("6309"))["desa_code"])).all()
    assert set(d["STAT_HIDUP"]) == {"1", "2"}
    assert set(d["JENIS_KLMIN"]) == {"1", "2"}
    assert d["JENIS_PKRJN"].isin(["6", "7"]).any()
    assert (d["NAMA_LGKP"] == d["NAMA_LGKP"].str.upper()).all()
    deceased_share = (d["STAT_HIDUP"] == "2").mean()
    assert 0.005 < deceased_share < 0.03


def test_dukcapil_niks_follow_the_rules(run: Run) -> None:
    d = run.dukcapil
    assert nik_structure_issue(d["NIK"]).isna().all()
    parts = nik_parts(d["NIK"])
    female = d["JENIS_KLMIN"] == "2"
    raw_day = d["NIK"].str.slice(6, 8).astype(int)
    assert (raw_day[female] > 40).all() and (raw_day[~female] <= 31).all()
    birth = pd.to_datetime(d["TGL_LHR"], format="%d-%m-%Y")
    same_date = (
        (parts["day"] == birth.dt.day)
        & (parts["month"] == birth.dt.month)
        & (parts["yy"] == birth.dt.year % 100)
    )
    planted = d["row"].isin(_planted_rows(run, "nik_birthdate_mismatch", "dukcapil_"))
    assert planted.any()
    assert same_date[~planted].all()
    assert not same_date[planted].any()


def test_family_card_numbers(run: Run) -> None:
    kk = run.dukcapil["NO_KK"]
    assert kk.str.fullmatch(r"\d{16}").all()
    day = kk.str.slice(6, 8).astype(int)
    month = kk.str.slice(8, 10).astype(int)
    assert day.between(1, 31).all() and month.between(1, 12).all()  # no +40 in a KK
    # One family card per family: all members of a card share its registered address.
    per_card = run.dukcapil.groupby("NO_KK")[["NO_KEC", "NO_KEL", "NO_RT", "NO_RW"]].nunique()
    assert (per_card == 1).all().all()


def test_truth_covers_every_row_once(run: Run) -> None:
    truth = run.truth
    assert list(truth.columns) == ["file", "row", "person_id"]
    for table in (run.dukcapil, run.kpu, run.bps):
        assert sorted(table["row"]) == list(range(1, len(table) + 1))
    assert len(truth) == len(run.dukcapil) + len(run.kpu) + len(run.bps)
    assert not truth.duplicated(["file", "row"]).any()
    numbers = truth["person_id"].str.extract(r"^P(\d{7,})$")[0]
    assert numbers.notna().all()
    assert numbers.astype(int).between(1, run.people).all()


def test_same_person_agrees_on_birth_date_across_registry_and_voter_list(run: Run) -> None:
    d = run.dukcapil.drop_duplicates("pid").set_index("pid")
    k = run.kpu[run.kpu["pid"].isin(d.index)]
    registry_dob = d.loc[k["pid"], "TGL_LHR"].str.replace("-", "|").to_numpy()
    assert (k["TANGGAL_LAHIR"].to_numpy() == registry_dob).all()


def test_planted_rows_match_the_truth(run: Run) -> None:
    planted = run.planted
    assert list(planted.columns) == ["kind", "file", "row", "person_id"]
    assert set(planted["kind"]) >= ALL_KINDS
    with_row = planted[planted["row"] != ""]
    merged = with_row.merge(run.truth, on=["file", "row"], how="left", suffixes=("", "_truth"))
    assert (merged["person_id"] == merged["person_id_truth"]).all()
    no_row = planted[planted["row"] == ""]
    assert (no_row["file"] == "").all()
    assert set(no_row["kind"]) == {"eligible_missing_from_voter_list"}


def test_kpu_formats_and_tps_numbering(run: Run) -> None:
    k = run.kpu
    assert k["TANGGAL_LAHIR"].str.fullmatch(r"\d{2}\|\d{2}\|\d{4}").all()
    for col in ("RT", "RW", "TPS"):
        assert k[col].str.fullmatch(r"\d{3}").all()
    assert set(k["STATUS_PERKAWINAN"]) <= {"B", "S", "P"}
    assert set(k["JENIS_KELAMIN"]) == {"L", "P"}
    assert set(k["KTP_EL"]) <= {"S", "B"} and set(k["KETERANGAN"]) <= {"", "B", "U"}
    assert set(k["DISABILITAS"]) <= set("0123456")
    # NO restarts at 1 in every polling station and counts up without gaps.
    for _, group in k.groupby(["KECAMATAN", "KELURAHAN", "TPS"], sort=False):
        assert group["NO"].astype(int).tolist() == list(range(1, len(group) + 1))


def test_kpu_voters_are_eligible_except_planted(run: Run) -> None:
    k = run.kpu
    age = _age(pd.to_datetime(k["TANGGAL_LAHIR"], format="%d|%m|%Y"), SNAPSHOT)
    may_vote = (age >= 17) | k["STATUS_PERKAWINAN"].isin(["S", "P"])
    underage = k["row"].isin(_planted_rows(run, "voter_underage", "kpu_"))
    assert underage.any()
    assert may_vote[~underage].all()
    assert not may_vote[underage].any()
    registry = run.dukcapil.drop_duplicates("pid").set_index("pid")

    def persons(kind: str) -> pd.Series:
        return k.loc[k["row"].isin(_planted_rows(run, kind, "kpu_")), "pid"]

    assert (registry.loc[persons("voter_deceased"), "STAT_HIDUP"] == "2").all()
    assert (
        registry.loc[persons("voter_ineligible_occupation"), "JENIS_PKRJN"].isin(["6", "7"]).all()
    )
    assert not persons("voter_not_in_registry").isin(registry.index).any()
    # Rows not planted as ineligible belong to living, registered non-TNI/POLRI persons.
    flagged = run.planted.loc[run.planted["file"].str.startswith("kpu_")]
    ineligible_kinds = {"voter_deceased", "voter_ineligible_occupation", "voter_not_in_registry"}
    bad_rows = set(flagged.loc[flagged["kind"].isin(ineligible_kinds), "row"].astype(int))
    clean = k[~k["row"].isin(bad_rows)]
    assert (registry.loc[clean["pid"], "STAT_HIDUP"] == "1").all()
    assert not registry.loc[clean["pid"], "JENIS_PKRJN"].isin(["6", "7"]).any()


def test_eligible_missing_persons_are_eligible_and_unlisted(run: Run) -> None:
    missing = run.planted.loc[
        run.planted["kind"] == "eligible_missing_from_voter_list", "person_id"
    ]
    assert len(missing) > 0
    assert not missing.isin(run.kpu["pid"]).any()
    registry = run.dukcapil.drop_duplicates("pid").set_index("pid").loc[missing]
    age = _age(pd.to_datetime(registry["TGL_LHR"], format="%d-%m-%Y"), SNAPSHOT)
    assert ((age >= 17) | (registry["STAT_KWN"] != "1")).all()
    assert (registry["STAT_HIDUP"] == "1").all()
    assert not registry["JENIS_PKRJN"].isin(["6", "7"]).any()


def test_kpu_identifier_problems(run: Run) -> None:
    k = run.kpu.set_index("row")
    registry_nik = run.dukcapil.drop_duplicates("pid").set_index("pid")["NIK"]
    for row in _planted_rows(run, "nik_mistyped", "kpu_"):
        wrong, right = k.loc[row, "NIK"], registry_nik.get(k.loc[row, "pid"])
        if right is None:  # a voter unknown to the registry
            continue
        diff = [i for i in range(16) if wrong[i] != right[i]]
        transposed = len(diff) == 2 and diff[1] == diff[0] + 1
        assert len(diff) == 1 or (transposed and wrong[diff[0]] == right[diff[1]])
    mangled = _planted_rows(run, "nik_excel_mangled", "kpu_")
    excel = re.compile(r"^\d\.\d*E\+15$|^\d{16}\.0$")
    assert all(excel.match(k.loc[row, "NIK"]) for row in mangled)
    clean = k.drop(index=list(mangled))
    assert clean["NIK"].str.fullmatch(r"\d{16}").all()


def test_kpu_region_names(run: Run) -> None:
    desa = desa_of(kabupaten("6309"))
    k = run.kpu
    kel_planted = k["row"].isin(_planted_rows(run, "kelurahan_misspelled", "kpu_"))
    assert kel_planted.any()
    known = k["KELURAHAN"].isin(set(desa["desa_name"]))
    assert known[~kel_planted].all() and not known[kel_planted].any()
    kec_planted = k["row"].isin(_planted_rows(run, "kecamatan_misspelled", "kpu_"))
    known = k["KECAMATAN"].isin(set(desa["kec_name"]))
    assert known[~kec_planted].all() and not known[kec_planted].any()
    # KPU spells each desa one way only: voters registered in one desa share one spelling.
    home = _registered_desa(run)
    own = k[
        ~k["row"].isin(_planted_rows(run, "voter_duplicate", "kpu_")) & k["pid"].isin(home.index)
    ]
    spellings = own.assign(desa=home.loc[own["pid"]].to_numpy()).groupby("desa")["KELURAHAN"]
    assert (spellings.nunique() == 1).all()


def test_duplicates_and_double_registrations(run: Run) -> None:
    k = run.kpu
    for row in _planted_rows(run, "voter_duplicate", "kpu_"):
        person = k.loc[k["row"] == row]
        others = k[(k["pid"] == person["pid"].iloc[0]) & (k["row"] != row)]
        assert len(others) >= 1
        place = (person["KELURAHAN"].iloc[0], person["TPS"].iloc[0])
        assert all(place != p for p in zip(others["KELURAHAN"], others["TPS"], strict=True))
    d = run.dukcapil
    for row in _planted_rows(run, "dukcapil_double_registration", "dukcapil_"):
        pid = d.loc[d["row"] == row, "pid"].iloc[0]
        assert d.loc[d["pid"] == pid, "NIK"].nunique() == 2
    for row in _planted_rows(run, "nik_conflict", "dukcapil_"):
        nik = d.loc[d["row"] == row, "NIK"].iloc[0]
        assert d.loc[d["NIK"] == nik, "pid"].nunique() == 2


def test_bps_codes_and_values(run: Run) -> None:
    b = run.bps
    assert set(b["R101"]) == {"63"} and set(b["R102"]) == {"09"}
    assert b["R103"].str.fullmatch(r"\d{3}").all() and b["R104"].str.fullmatch(r"\d{3}").all()
    assert b["R105"].str.fullmatch(r"\d{4}").all()
    codes = b["R101"] + b["R102"] + b["R103"] + b["R104"]
    lookup = bps_to_kemendagri()
    assert codes.map(lambda c: lookup.get(c, "")).str.startswith("63.09.").all()
    assert b["R406"].str.fullmatch(r"(\d{2}/\d{2}/\d{4})?").all()
    # Member serials count 1, 2, ... within each family of a building; the head comes first.
    for _, fam in b.groupby(["R103", "R104", "R105", "R109", "R110"], sort=False):
        assert fam["R401"].astype(int).tolist() == list(range(1, len(fam) + 1))
        assert fam["R404"].tolist().count("1") == 1 and fam["R404"].iloc[0] == "1"


def test_bps_placeholders_dates_and_ages(run: Run) -> None:
    b = run.bps
    placeholder = b["R403"].isin(PLACEHOLDER_NIKS)
    assert set(b.loc[placeholder, "row"]) == _planted_rows(run, "bps_nik_placeholder", "bps_")
    assert 0.02 < placeholder.mean() < 0.12
    assert ((b["R403"] != "9999999999999995") | (b["R407"].astype(int) < 17)).all()
    real = b[~placeholder]
    assert nik_structure_issue(real["R403"]).isna().all()
    registry_nik = run.dukcapil.groupby("pid")["NIK"].agg(set)
    known = real[real["pid"].isin(registry_nik.index)]
    assert all(
        nik in registry_nik[pid] for nik, pid in zip(known["R403"], known["pid"], strict=True)
    )
    empty = b["R406"] == ""
    assert set(b.loc[empty, "row"]) == _planted_rows(run, "bps_birthdate_missing", "bps_")
    differs = b["row"].isin(_planted_rows(run, "bps_birthdate_differs", "bps_"))
    written = b[~empty & ~differs]
    age = _age(pd.to_datetime(written["R406"], format="%d/%m/%Y"), SNAPSHOT)
    assert (age == written["R407"].astype(int)).all()
    # Dates planted as differing really differ from the registry's.
    registry = run.dukcapil.drop_duplicates("pid").set_index("pid")["TGL_LHR"]
    wrong = b[differs & b["pid"].isin(registry.index)]
    assert len(wrong) > 0
    assert (wrong["R406"].str.replace("/", "-") != registry.loc[wrong["pid"]].to_numpy()).all()


def test_bps_domicile(run: Run) -> None:
    b = run.bps
    lookup = bps_to_kemendagri()
    lives = (b["R101"] + b["R102"] + b["R103"] + b["R104"]).map(lookup)
    registered = _registered_desa(run)
    known = b["pid"].isin(registered.index)
    moved = b["row"].isin(_planted_rows(run, "domicile_differs", "bps_"))
    assert moved.any()
    same = lives[known].to_numpy() == registered.loc[b.loc[known, "pid"]].to_numpy()
    assert (same == ~moved[known].to_numpy()).all()
    assert not moved[~known].any()


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    def files(seed: int, folder: str) -> dict[str, bytes]:
        base = tmp_path / folder
        generate(region="3371", people=400, seed=seed, out=base / "landing", snapshot=SNAPSHOT)
        return {p.name: p.read_bytes() for p in sorted(base.rglob("*.csv"))}

    first, again, other = files(5, "a"), files(5, "b"), files(6, "c")
    assert len(first) == 5
    assert first == again
    assert first.keys() == other.keys()
    assert all(first[name] != other[name] for name in first)


def test_xlsx_voter_list_is_readable_text(tmp_path: Path) -> None:
    def build(folder: str) -> Path:
        summary = generate(
            region="3371", people=300, seed=3, out=tmp_path / folder / "landing",
            snapshot=SNAPSHOT, kpu_format="xlsx",
        )  # fmt: skip
        return summary.paths["kpu"]

    path = build("a")
    assert path.name == "kpu_dpt_3371_20261101.xlsx"
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert ",".join(rows[0]) == KPU_HEADER
    assert all(isinstance(v, str) for row in rows for v in row if v is not None)
    truth = pd.read_csv(tmp_path / "a" / "truth.csv", dtype=str)
    assert (truth["file"] == path.name).sum() == len(rows) - 1 > 0
    assert build("b").read_bytes() == path.read_bytes()


def test_bali_uses_balinese_names(tmp_path: Path) -> None:
    summary = generate(
        region="5171", people=400, seed=2, out=tmp_path / "landing", snapshot=SNAPSHOT
    )
    names = _read(summary.paths["dukcapil"], "|")["NAMA_LGKP"]
    bare = names.str.replace(r"^((H|HJ|DRS|DRA|IR)\. )+", "", regex=True)
    assert bare.str.match(r"(I|NI) ").mean() > 0.5


def test_output_does_not_depend_on_hash_randomisation(tmp_path: Path) -> None:
    script = (
        "import sys; from datetime import date; from pathlib import Path; "
        "from synthetic import generate; "
        "generate(region='3371', people=300, seed=4, out=Path(sys.argv[1]) / 'landing', "
        "snapshot=date(2026, 11, 1))"
    )
    digests = []
    for hash_seed in ("1", "2"):
        folder = tmp_path / hash_seed
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(folder)], check=True, env=env)
        digests.append({p.name: p.read_bytes() for p in sorted(folder.rglob("*.csv"))})
    assert len(digests[0]) == 5
    assert digests[0] == digests[1]
