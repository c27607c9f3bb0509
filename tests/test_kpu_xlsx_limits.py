"""An XLSX voter list that unpacks to far more than it weighs is refused before it is read."""

from __future__ import annotations

import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from conftest import BUDI, KPU_HEADER, kpu_row

from connectors.agencies import kpu
from connectors.agencies.extract import ExtractError
from connectors.schema import Source

NAME = "kpu_dpt_6309_20261101.xlsx"
SHEET = "xl/worksheets/sheet1.xml"
MiB = 1 << 20


def _cells(values: list[str]) -> str:
    return "<row>" + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values) + "</row>"


def workbook(path: Path, rows: int) -> Path:
    """A real workbook (made by openpyxl) whose first sheet is the header and ``rows`` copies
    of one voter, written as a stream: the sheet XML compresses about a thousandfold."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(KPU_HEADER)
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    row = _cells(kpu_row(BUDI)).encode()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for member in source.infolist():
            if member.filename != SHEET:
                out.writestr(member, source.read(member))
                continue
            with out.open(SHEET, "w") as sheet:
                head = (
                    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                )
                dimension = f'<dimension ref="A1:Q{rows + 1}"/>'  # as Excel writes it
                sheet.write(f"{head}{dimension}<sheetData>{_cells(KPU_HEADER)}".encode())
                for _ in range(rows // 1000):
                    sheet.write(row * 1000)
                sheet.write(row * (rows % 1000) + b"</sheetData></worksheet>")
    plain.unlink()
    return path


def unpacked(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(member.file_size for member in archive.infolist())


def test_a_zip_bomb_workbook_is_refused_before_openpyxl_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = workbook(tmp_path / NAME, rows=40_000)  # ~40 MB of sheet XML in ~100 KB
    size = unpacked(path)
    assert size > 24 * MiB and path.stat().st_size < size // 100
    import openpyxl

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("openpyxl opened the workbook")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    tracemalloc.start()
    try:
        with pytest.raises(kpu.WorkbookTooLargeError) as raised:
            kpu.read(path, max_unpacked=8 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(raised.value, ExtractError)
    message = str(raised.value)
    assert NAME in message and f"{size:,} bytes" in message and f"{8 * MiB:,} bytes" in message
    assert "PADU_MAX_XLSX_UNPACKED" in message
    assert peak < 4 * MiB  # nothing was unpacked


def test_the_limit_is_a_landing_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PADU_MAX_XLSX_UNPACKED reaches the reader through the landing resource of a run."""
    from pipelines.definitions import build_resources
    from pipelines.resources import SettingsError

    path = workbook(tmp_path / NAME, rows=2)
    size = unpacked(path)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"

    def landing():  # type: ignore[no-untyped-def]
        return build_resources(landing=str(tmp_path), warehouse_url=url)["landing"]

    monkeypatch.delenv("PADU_MAX_XLSX_UNPACKED", raising=False)
    assert landing().max_xlsx_unpacked == 256 * MiB == kpu.MAX_XLSX_UNPACKED
    assert landing().read(Source.KPU, path, None).rows_read == 2
    monkeypatch.setenv("PADU_MAX_XLSX_UNPACKED", str(size - 1))
    with pytest.raises(kpu.WorkbookTooLargeError, match=f"limit of {size - 1:,} bytes"):
        landing().read(Source.KPU, path, None)
    monkeypatch.setenv("PADU_MAX_XLSX_UNPACKED", str(size))
    assert landing().read(Source.KPU, path, None).rows_read == 2
    with pytest.raises(kpu.WorkbookTooLargeError):
        kpu.read(path, max_unpacked=size - 1)
    monkeypatch.setenv("PADU_MAX_XLSX_UNPACKED", "lots")
    with pytest.raises(SettingsError, match="PADU_MAX_XLSX_UNPACKED must be a positive number"):
        landing()


def _declare_size(path: Path, member: str, declared: int) -> None:
    """Rewrite the size ``member`` declares in the central directory (what zipfile trusts)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + name_length]) == name:
            struct.pack_into("<I", data, at + 24, declared)
            path.write_bytes(bytes(data))
            return
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{member} not in the central directory")


def test_a_sheet_inflating_past_its_declared_size_is_a_broken_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = workbook(tmp_path / NAME, rows=40_000)
    _declare_size(path, SHEET, 256 * 1024)  # claims 256 KB, inflates to ~30 MB
    assert unpacked(path) < 1 * MiB
    tracemalloc.start()
    try:
        with pytest.raises(ExtractError, match=NAME) as raised:
            kpu.read(path, max_unpacked=8 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "Bad CRC-32" in str(raised.value)
    assert peak < 8 * MiB  # zipfile stopped at the declared size


def test_not_a_zip_at_all(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(b"PK\x03\x04 but nothing more")
    with pytest.raises(ExtractError, match="not a readable XLSX workbook"):
        kpu.read(path)
