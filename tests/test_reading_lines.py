"""Reading a delimited extract line by line: every physical line after the header is a row
or a quarantined line with its reason, whatever quotes, encodings and line endings it holds."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from conftest import (
    BUDI,
    DUKCAPIL_HEADER,
    KPU_HEADER,
    SITI,
    delimited,
    dukcapil_row,
    kpu_row,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.agencies import dukcapil, kpu
from connectors.agencies.extract import ExtractError

DUK = "dukcapil_dkb_6309_20261101.txt"
KPU = "kpu_dpt_6309_20261101.csv"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- encodings -------------------------------------------------------------------------------


def test_a_bom_and_a_few_windows_1252_lines(tmp_path):
    """What a clerk's Excel save produces: a BOM, UTF-8 names, and some cp1252 ones."""
    rows = [
        dukcapil_row(BUDI, NAMA_LGKP="ANDRÉ WIJAYA"),  # UTF-8
        dukcapil_row(SITI, NAMA_LGKP="SITI NURHAYATÏ"),  # cp1252 below
        dukcapil_row(BUDI, NIK="6309013112850009", NAMA_LGKP="BUDI"),
    ]
    lines = delimited(DUKCAPIL_HEADER, rows, "|").splitlines()
    data = b"\xef\xbb\xbf" + b"\n".join(
        line.encode("cp1252" if n == 2 else "utf-8") for n, line in enumerate(lines)
    )
    raw = dukcapil.read(_write(tmp_path / DUK, data))
    assert raw.rows_read == 3 and len(raw.quarantined) == 0
    assert list(raw.rows["NAMA_LGKP"]) == ["ANDRÉ WIJAYA", "SITI NURHAYATÏ", "BUDI"]
    assert raw.encoding == "utf-8+cp1252"
    assert "1 line not valid UTF-8, decoded as Windows-1252" in raw.file_issues


def test_one_bad_byte_garbles_only_its_own_line(tmp_path):
    rows = [dukcapil_row(BUDI, NAMA_LGKP="ANDRÉ"), dukcapil_row(SITI, ALAMAT="JL. A\x81B")]
    lines = delimited(DUKCAPIL_HEADER, rows, "|").splitlines()
    data = b"\n".join(line.encode("latin-1" if n == 2 else "utf-8") for n, line in enumerate(lines))
    raw = dukcapil.read(_write(tmp_path / DUK, data))
    assert raw.rows.loc[0, "NAMA_LGKP"] == "ANDRÉ"  # not "ANDRÃ‰"
    assert raw.rows.loc[1, "ALAMAT"] == "JL. A\x81B"
    assert raw.file_issues == ["1 line not valid UTF-8, decoded as Latin-1"]


def test_a_whole_windows_1252_file_is_named_so(tmp_path):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI, NAMA_LGKP="ANDRÉ")], "|")
    raw = dukcapil.read(_write(tmp_path / DUK, text.encode("cp1252")))
    assert raw.encoding == "cp1252" and raw.rows.loc[0, "NAMA_LGKP"] == "ANDRÉ"
    assert raw.file_issues == ["1 line not valid UTF-8, decoded as Windows-1252"]


def test_a_bom_before_a_cp1252_header_is_stripped(tmp_path):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI, NAMA_LGKP="ANDRÉ")], "|")
    raw = dukcapil.read(_write(tmp_path / DUK, b"\xef\xbb\xbf" + text.encode("cp1252")))
    assert raw.rows_read == 1 and raw.rows.loc[0, "NIK"] == BUDI["nik"]


# -- headers and line endings ------------------------------------------------------------------


def test_a_duplicate_header_column_names_both(tmp_path):
    header = [*DUKCAPIL_HEADER, "nik"]
    text = delimited(header, [dukcapil_row(BUDI) + ["6309014405900002"]], "|")
    with pytest.raises(ExtractError, match=r"NIK .*column 1 \('NIK'\) and column 21 \('nik'\)"):
        dukcapil.read(_write(tmp_path / DUK, text.encode()))


def test_a_duplicate_column_no_field_reads_is_ignored(tmp_path):
    header = [*DUKCAPIL_HEADER, "CATATAN", "CATATAN"]
    text = delimited(header, [dukcapil_row(BUDI) + ["a", "b"]], "|")
    assert dukcapil.read(_write(tmp_path / DUK, text.encode())).rows_read == 1


def test_cr_only_line_endings(tmp_path):
    text = delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI), dukcapil_row(SITI)], "|")
    raw = dukcapil.read(_write(tmp_path / DUK, text.replace("\n", "\r").encode()))
    assert raw.rows_read == 2 and len(raw.quarantined) == 0 and raw.file_issues == []
    assert list(raw.rows["NIK"]) == [BUDI["nik"], SITI["nik"]]


def test_the_stray_quote_of_the_third_row_loses_nothing_else(tmp_path):
    rows = [kpu_row(BUDI if n % 2 else SITI, NO=str(n)) for n in range(1, 1465)]
    rows[2] = kpu_row(SITI, NO="3", NAMA='"SITI AMINAH')
    raw = kpu.read(_write(tmp_path / KPU, delimited(KPU_HEADER, rows, ",").encode()))
    assert raw.lines == raw.rows_read == 1464
    assert list(raw.quarantined["source_row"]) == [3]
    assert len(raw.readable) == 1463


# -- the property ------------------------------------------------------------------------------

_FIELD = st.text(
    alphabet=st.sampled_from(string.ascii_uppercase + " ,|\"'.-\x00\r\t" + "ÉÏñ€"),
    max_size=12,
)
_ENDINGS = st.sampled_from(["\n", "\r\n", "\r\r\n", "\r", "mixed"])
_ONE_ENCODING = st.sampled_from(["utf-8", "cp1252", "latin-1"])
_ENCODINGS = st.one_of(_ONE_ENCODING, st.just("mixed"))


@st.composite
def _files(draw: st.DrawFn) -> tuple[bytes, int, str]:
    """A KPU or registry file: its bytes, its lines after the header, and its format."""
    fmt = draw(st.sampled_from(["kpu", "dukcapil"]))
    header, delimiter = (KPU_HEADER, ",") if fmt == "kpu" else (DUKCAPIL_HEADER, "|")
    width = len(header)
    rows = draw(
        st.lists(
            st.lists(_FIELD, min_size=max(0, width - 2), max_size=width + 2),
            max_size=12,
        )
    )
    ending = draw(_ENDINGS)
    encoding = draw(_ENCODINGS)
    lines = [delimiter.join(header)] + [delimiter.join(r).replace("\r", "") for r in rows]
    # A line of only white space at the end is not a line; anywhere else it is an empty row.
    while len(lines) > 1 and not lines[-1].strip(" \t\r\x0b\x0c"):
        lines.pop()
    encoded = []
    for line in lines:
        chosen = draw(_ONE_ENCODING) if encoding == "mixed" else encoding
        encoded.append(line.encode(chosen, errors="replace"))
    if ending == "mixed":
        breaks = [draw(st.sampled_from([b"\n", b"\r\n"])) for _ in encoded]
    else:
        breaks = [ending.encode()] * len(encoded)
    data = b"".join(line + brk for line, brk in zip(encoded, breaks, strict=True))
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.booleans()):  # no line break after the last line
        data = data[: -len(breaks[-1])]
    return data, len(lines) - 1, fmt


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_files())
def test_every_physical_line_is_a_row_or_quarantined(tmp_path_factory, drawn):
    data, lines, fmt = drawn
    folder = tmp_path_factory.mktemp("lines")
    reader, name = (kpu, KPU) if fmt == "kpu" else (dukcapil, DUK)
    raw = reader.read(_write(folder / name, data))
    assert raw.lines == lines
    assert raw.rows_read == lines
    assert list(raw.rows["source_row"]) == list(range(1, lines + 1))
    quarantined = raw.quarantined
    assert quarantined["quarantine_reason"].notna().all()
    assert quarantined["raw_line"].notna().all()
