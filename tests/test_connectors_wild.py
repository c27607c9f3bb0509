"""Every "seen in the wild" variant of docs/input-formats.md is read or quarantined with a
reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
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
)

from connectors.agencies import bps, dukcapil, kpu
from connectors.agencies.extract import ExtractError

SNAPSHOT = date(2026, 11, 1)
DUK = "dukcapil_6309_20261101.csv"
KPU = "kpu_dpt_6309_20261101.csv"


def read_dukcapil(tmp_path: Path, text: str, encoding: str = "utf-8") -> pd.DataFrame:
    raw = dukcapil.read(write_text(tmp_path / DUK, text, encoding))
    return raw, dukcapil.standardise(raw, SNAPSHOT)


# -- identifiers mangled by Excel ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("6.30901E+15", "excel_scientific_notation"),
        ("6309013112850001.0", "excel_decimal_number"),
        ("630901311285001", "wrong_length"),  # a digit lost
        ("", "missing"),
        ("63090131128500O1", "not_digits"),
    ],
)
def test_unusable_nik_is_loaded_with_reason_and_null(tmp_path, value, reason):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI, NIK=value), dukcapil_row(SITI)], "|")
    raw, records = read_dukcapil(tmp_path, text)
    assert raw.rows_read == 2 and len(raw.quarantined) == 0
    budi = records[records["source_row"] == 1].iloc[0]
    assert pd.isna(budi["nik"])
    assert budi["nik_issue"] == reason
    assert records[records["source_row"] == 2].iloc[0]["nik"] == SITI["nik"]


def test_excel_mangled_kk_in_voter_list(tmp_path):
    text = delimited(KPU_HEADER, [kpu_row(BUDI, NKK="6.30901E+15")], ",")
    raw = kpu.read(write_text(tmp_path / KPU, text))
    records = kpu.standardise(raw, SNAPSHOT, _tabalong())
    assert (
        pd.isna(records.loc[0, "kk"]) and records.loc[0, "kk_issue"] == "excel_scientific_notation"
    )
    assert records.loc[0, "nik"] == BUDI["nik"]


@pytest.mark.parametrize(
    "placeholder", ["9999999999999994", "9999999999999995", "9999999999999996", "9999999999999999"]
)
def test_bps_placeholder_nik(tmp_path, placeholder):
    text = delimited(BPS_HEADER, [bps_row(BUDI, R403=placeholder)], ",")
    raw = bps.read(write_text(tmp_path / "bps_regsosek_6309_20261101.csv", text))
    records = bps.standardise(raw, SNAPSHOT)
    assert pd.isna(records.loc[0, "nik"]) and records.loc[0, "nik_issue"] == "placeholder"


# -- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("31-12-1985", "1985-12-31"),
        ("31412", "1985-12-31"),  # Excel serial day number
        ("1985-12-31", "1985-12-31"),  # ISO
        ("31-12-85", "1985-12-31"),  # two-digit year, past century
        ("05-06-20", "2020-06-05"),  # two-digit year, this century
        ("5-6-2020", "2020-06-05"),
    ],
)
def test_date_variants(tmp_path, value, expected):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI, TGL_LHR=value)], "|")
    _, records = read_dukcapil(tmp_path, text)
    assert records.loc[0, "birth_date"] == pd.Timestamp(expected)
    assert pd.isna(records.loc[0, "issues"])


def test_unparseable_date_is_null_with_issue(tmp_path):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI, TGL_LHR="31-02-1985")], "|")
    raw, records = read_dukcapil(tmp_path, text)
    assert len(raw.quarantined) == 0
    assert pd.isna(records.loc[0, "birth_date"])
    assert "birth_date_unparseable" in records.loc[0, "issues"]


def test_bps_missing_birth_date_is_loaded(tmp_path):
    text = delimited(BPS_HEADER, [bps_row(BUDI, R406="")], ",")
    raw = bps.read(write_text(tmp_path / "bps_regsosek_6309_20261101.csv", text))
    records = bps.standardise(raw, SNAPSHOT)
    assert pd.isna(records.loc[0, "birth_date"]) and records.loc[0, "age_reported"] == 40


# -- encodings and line endings --------------------------------------------------------------


def test_windows_1252_text(tmp_path):
    rows = [dukcapil_row(BUDI, NAMA_LGKP="ANDRÉ WIJAYA", ALAMAT="JL. KÖNIG")]
    raw, records = read_dukcapil(tmp_path, delimited(DUKCAPIL_HEADER, rows, "|"), "cp1252")
    assert raw.encoding == "cp1252"
    assert records.loc[0, "name_raw"] == "ANDRÉ WIJAYA"


def test_latin1_text_that_is_not_windows_1252(tmp_path):
    rows = [dukcapil_row(BUDI, ALAMAT="JL. A\x81B")]  # 0x81 is undefined in Windows-1252
    raw, records = read_dukcapil(tmp_path, delimited(DUKCAPIL_HEADER, rows, "|"), "latin-1")
    assert raw.encoding == "latin-1" and len(records) == 1
    assert records.loc[0, "nik"] == BUDI["nik"]


def test_utf8_bom_crlf_stray_cr_and_trailing_empty_lines(tmp_path):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI), dukcapil_row(SITI)], "|")
    text = "\ufeff" + text.replace("\n", "\r\n").replace("\r\n", "\r\r\n", 1) + "\r\n\r\n"
    raw, records = read_dukcapil(tmp_path, text)
    assert raw.rows_read == 2 and len(raw.quarantined) == 0
    assert list(records["nik"]) == [BUDI["nik"], SITI["nik"]]
    assert records.loc[1, "desa_code"] == "63.09.01.2001"


# -- columns ---------------------------------------------------------------------------------


def test_extra_columns_other_order_lower_case_headers_with_spaces(tmp_path):
    header = [h.lower().replace("_", " ") for h in reversed(DUKCAPIL_HEADER)] + ["EXTRA COL"]
    rows = [list(reversed(dukcapil_row(BUDI))) + ["x"]]
    text = delimited(header, rows, "|")
    raw, records = read_dukcapil(tmp_path, text)
    assert len(raw.quarantined) == 0
    assert records.loc[0, "nik"] == BUDI["nik"]
    assert records.loc[0, "name_norm"] == "BUDI SANTOSO"
    assert records.loc[0, "name_titles"] == "H."


def test_missing_required_column_fails_the_file_naming_it(tmp_path):
    header = [h for h in DUKCAPIL_HEADER if h != "TGL_LHR"]
    rows = [[v for h, v in zip(DUKCAPIL_HEADER, dukcapil_row(BUDI), strict=True) if h != "TGL_LHR"]]
    with pytest.raises(ExtractError, match=r"dukcapil_6309_20261101\.csv.*TGL_LHR"):
        dukcapil.read(write_text(tmp_path / DUK, delimited(header, rows, "|")))


def test_column_mapping_override(tmp_path):
    header = ["NAMA_LENGKAP_PENDUDUK" if h == "NAMA_LGKP" else h for h in DUKCAPIL_HEADER]
    path = write_text(tmp_path / DUK, delimited(header, [dukcapil_row(BUDI)], "|"))
    with pytest.raises(ExtractError, match="NAMA_LGKP"):
        dukcapil.read(path)
    mapping = write_text(tmp_path / "map.yaml", "columns:\n  NAMA_LGKP: NAMA_LENGKAP_PENDUDUK\n")
    raw = dukcapil.read(path, mapping)
    assert dukcapil.standardise(raw, SNAPSHOT).loc[0, "name_norm"] == "BUDI SANTOSO"


# -- broken rows and files -------------------------------------------------------------------


def test_truncated_last_line_and_wrong_field_counts_are_quarantined(tmp_path):
    good = "|".join(dukcapil_row(BUDI))
    too_many = "|".join(dukcapil_row(SITI) + ["surplus"])
    too_few = "|".join(dukcapil_row(SITI)[:-3])
    truncated = "|".join(dukcapil_row(SITI))[:40]
    text = "\n".join(["|".join(DUKCAPIL_HEADER), good, too_many, too_few, good, truncated])
    raw, records = read_dukcapil(tmp_path, text)
    assert raw.rows_read == 5
    reasons = dict(
        zip(raw.quarantined["source_row"], raw.quarantined["quarantine_reason"], strict=True)
    )
    assert reasons == {
        2: "expected 20 fields, found 21",
        3: "expected 20 fields, found 17",
        5: f"expected 20 fields, found {truncated.count('|') + 1}",
    }
    assert list(records["source_row"]) == [1, 4]
    assert raw.quarantined["raw_line"].iloc[0] == too_many


def test_blank_row_inside_file_is_quarantined(tmp_path):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI), ["" for _ in DUKCAPIL_HEADER]], "|")
    text = text.replace("|" * 19, "")  # a truly empty line
    raw, _ = read_dukcapil(tmp_path, text + "|".join(dukcapil_row(SITI)) + "\n")
    assert raw.rows_read == 3
    assert list(raw.quarantined["quarantine_reason"]) == ["empty row"]


def test_empty_file(tmp_path):
    raw, records = read_dukcapil(tmp_path, "")
    assert raw.rows_read == 0 and records.empty
    assert raw.file_issues == ["empty file: no header and no rows"]


def test_header_only_file(tmp_path):
    raw, records = read_dukcapil(tmp_path, "|".join(DUKCAPIL_HEADER) + "\n")
    assert raw.rows_read == 0 and records.empty
    assert raw.file_issues == ["header only: no data rows"]


def test_binary_content_is_quarantined_not_crashing(tmp_path):
    good = "|".join(dukcapil_row(BUDI))
    text = "|".join(DUKCAPIL_HEADER) + "\n" + good + "\n" + "\x00\x01\x02|" * 19 + "\x00\n"
    raw, records = read_dukcapil(tmp_path, text)
    assert len(records) == 1
    assert list(raw.quarantined["quarantine_reason"]) == ["binary content (NUL byte)"]


def test_duplicate_rows_within_a_file_are_both_loaded(tmp_path):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI), dukcapil_row(BUDI)], "|")
    raw, records = read_dukcapil(tmp_path, text)
    assert list(records["source_row"]) == [1, 2]
    assert records["nik"].nunique() == 1


def test_quoted_kpu_fields_with_delimiters(tmp_path):
    row = kpu_row(BUDI, ALAMAT='"JL. MAWAR, GG. 3"', NAMA='"H. BUDI ""BUDI"" SANTOSO"')
    text = delimited(KPU_HEADER, [row, kpu_row(SITI, NO="2")], ",")
    raw = kpu.read(write_text(tmp_path / KPU, text))
    records = kpu.standardise(raw, SNAPSHOT, _tabalong())
    assert raw.rows_read == 2 and len(raw.quarantined) == 0
    assert records.loc[0, "address"] == "JL. MAWAR, GG. 3"
    assert list(records["source_row"]) == [1, 2]


def test_a_quote_never_joins_lines(tmp_path):
    """One record per physical line: a quoted line break splits the record in two, and an
    unclosed quote does not swallow the lines after it."""
    spans = kpu_row(BUDI, ALAMAT='"JL. MAWAR, GG. 3\nRT 3"')
    unclosed = kpu_row(SITI, NO="2", NAMA='"SITI AMINAH')
    rows = [spans, unclosed] + [kpu_row(SITI, NO=str(n)) for n in range(3, 8)]
    text = delimited(KPU_HEADER, rows, ",")
    raw = kpu.read(write_text(tmp_path / KPU, text))
    assert raw.lines == raw.rows_read == 8  # 7 records, one of them over two lines
    quarantined = raw.quarantined
    reasons = dict(zip(quarantined["source_row"], quarantined["quarantine_reason"], strict=True))
    assert set(reasons) == {1, 2, 3}
    assert reasons[1].startswith("unclosed quote") and reasons[3].startswith("unclosed quote")
    assert "SITI AMINAH" in raw.quarantined.set_index("source_row").loc[3, "raw_line"]
    assert list(raw.readable["source_row"]) == [4, 5, 6, 7, 8]


# -- spreadsheets ----------------------------------------------------------------------------


def test_kpu_xlsx_with_numeric_identifier_cells(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(KPU_HEADER)
    sheet.append(kpu_row(BUDI))
    siti = kpu_row(SITI, NO="2")
    siti[KPU_HEADER.index("NIK")] = float(SITI["nik"])  # Excel turned it into a number
    sheet.append(siti)
    path = tmp_path / "kpu_dpt_6309_20261101.xlsx"
    book.save(path)
    raw = kpu.read(path)
    records = kpu.standardise(raw, SNAPSHOT, _tabalong())
    assert raw.rows_read == 2
    assert records.loc[0, "nik"] == BUDI["nik"]
    assert pd.isna(records.loc[1, "nik"]) and records.loc[1, "nik_issue"].startswith("excel_")
    assert records.loc[1, "birth_date"] == pd.Timestamp("1990-05-04")


# -- region codes ----------------------------------------------------------------------------


def _tabalong():
    from connectors.reference.regions import kabupaten

    return kabupaten("6309")


@pytest.mark.parametrize(
    ("kecamatan", "kelurahan", "expected", "issue"),
    [
        ("BANUA LAWAS", "HAPALAH", "63.09.01.2001", None),
        ("banua  lawas", "hapalah", "63.09.01.2001", None),
        ("BANUALAWAS", "BATANGBANYU", "63.09.01.2010", None),  # normalised
        ("BANUA LAWAS", "HAPALLAH", "63.09.01.2001", None),  # doubled letter folded
        ("BANUA LAWAS", "SUNGAI DURIEN", "63.09.01.2003", "kelurahan_fuzzy_match"),
        ("BANUA LAWAS", "NOWHERE AT ALL", None, "kelurahan_unresolved"),
    ],
)
def test_kpu_region_names_resolve_to_kemendagri_codes(
    tmp_path, kecamatan, kelurahan, expected, issue
):
    text = delimited(KPU_HEADER, [kpu_row(BUDI, KECAMATAN=kecamatan, KELURAHAN=kelurahan)], ",")
    records = kpu.standardise(kpu.read(write_text(tmp_path / KPU, text)), SNAPSHOT, _tabalong())
    got = records.loc[0, "desa_code"]
    assert (pd.isna(got) and expected is None) or got == expected
    issues = records.loc[0, "issues"]
    assert (issue is None and pd.isna(issues)) or (issue in issues)


def test_bps_codes_are_converted_through_the_crosswalk(tmp_path):
    # Pugaan is BPS kecamatan 6309020 but Kemendagri 63.09.09; desa Pampanan is 6309020003.
    text = delimited(BPS_HEADER, [bps_row(BUDI, R103="20", R104="3")], ",")
    records = bps.standardise(
        bps.read(write_text(tmp_path / "bps_regsosek_6309_20261101.csv", text)), SNAPSHOT
    )
    assert records.loc[0, "kec_code"] == "63.09.09"
    assert records.loc[0, "desa_code"] == "63.09.09.2002"


def test_dukcapil_unpadded_region_parts(tmp_path):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI, NO_KAB="09", NO_KEC="01")], "|")
    _, records = read_dukcapil(tmp_path, text)
    assert records.loc[0, "desa_code"] == "63.09.01.2001"
    assert records.loc[0, "sex"] == "M" and records.loc[0, "marital_status"] == "kawin"


def test_code_lists_keep_missing_values_missing():
    from connectors.agencies.values import map_codes

    mapped, unknown = map_codes(
        pd.Series(["1", "02", "2.0", "0", "00", None, "", "x"]), {"0": "none", "1": "M", "2": "F"}
    )
    assert mapped.fillna("<null>").tolist() == ["M", "F", "F", "none", "none", "<null>",
                                                "<null>", "<null>"]  # fmt: skip
    assert unknown.tolist() == [False] * 7 + [True]
