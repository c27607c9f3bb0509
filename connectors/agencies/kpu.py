"""KPU voter list (DPT): CSV (``,``, quoted) or XLSX with the list on its first sheet.

An XLSX workbook is a ZIP archive, and a small one can unpack to a great deal of sheet XML
(a 199 KB file to 200 MB, which took 1.66 GB of memory to read). Before openpyxl opens it,
the sizes its members declare are added up; a workbook that would unpack to more than
``max_unpacked`` bytes (by default ``MAX_XLSX_UNPACKED``, 256 MiB; a run takes the limit from
its landing settings, ``PADU_MAX_XLSX_UNPACKED``) is refused with ``WorkbookTooLargeError``.
A member that inflates to more than it declares cannot get past that: ``zipfile``, which
openpyxl reads through, stops at the declared size and the member then fails its CRC check
(a broken workbook).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from connectors.agencies.extract import ExtractError, RawExtract, read_delimited, read_rows
from connectors.agencies.mapping import load_mapping
from connectors.agencies.region_names import RegionNameResolver
from connectors.agencies.standardise import (
    add_birth_date,
    add_codes,
    add_identifiers,
    add_integers,
    add_name,
    add_texts,
    base_frame,
    finish,
)
from connectors.agencies.values import IssueLog, map_codes, parse_int, upper_text
from connectors.reference.regions import Kabupaten
from connectors.schema import Source

SEX = {"L": "M", "P": "F"}
MARITAL = {"B": "belum_kawin", "S": "kawin", "P": "pernah_kawin"}
YES_NO = {"S": "true", "B": "false"}

#: The most an XLSX workbook may unpack to (the sum of its members' sizes), in bytes. A voter
#: list takes about 1 KB of sheet XML per voter; ``PADU_MAX_XLSX_UNPACKED`` overrides it.
MAX_XLSX_UNPACKED = 256 << 20
UNPACKED_SETTING = "PADU_MAX_XLSX_UNPACKED"


class WorkbookTooLargeError(ExtractError):
    """An XLSX workbook that unpacks to more than the limit (a ZIP bomb, or a huge list)."""


def read(
    path: Path, mapping: Path | None = None, *, max_unpacked: int = MAX_XLSX_UNPACKED
) -> RawExtract:
    """Read a DPT extract. ``max_unpacked`` bounds an XLSX workbook's unpacked size."""
    columns = load_mapping("kpu", mapping)
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path, columns, max_unpacked)
    return read_delimited(path, delimiter=",", quoted=True, mapping=columns)


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text an agency meant, without repairing numbers.

    A number in an identifier column stays visibly a number (``3.501012345670001e+15`` or
    ``3501012345670000.0``) so the NIK cleaner rejects it: Excel keeps 15 digits only.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return (
            repr(float(value))
            if abs(value) >= 1e15
            else (str(int(value)) if float(value).is_integer() else repr(value))
        )
    return str(value)


def _check_unpacked_size(path: Path, data: bytes, limit: int) -> None:
    """Refuse a workbook whose members declare more than ``limit`` bytes in all."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        raise ExtractError(
            f"{path.name}: not a readable XLSX workbook ({type(err).__name__})"
        ) from None
    if unpacked > limit:
        raise WorkbookTooLargeError(
            f"{path.name}: the workbook unpacks to {unpacked:,} bytes, more than the limit of "
            f"{limit:,} bytes; if the list is really that large, set {UNPACKED_SETTING} to "
            "a higher number of bytes"
        )


def _read_xlsx(path: Path, columns, limit: int) -> RawExtract:  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook  # only needed for spreadsheet extracts

    data = path.read_bytes()
    _check_unpacked_size(path, data, limit)
    try:  # the bytes checked, not the file again (it may have changed)
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many types for a broken workbook
        raise ExtractError(
            f"{path.name}: not a readable XLSX workbook ({type(err).__name__})"
        ) from None

    def rows() -> Iterator[list[str]]:
        try:
            sheet = workbook.worksheets[0]
            for values in sheet.iter_rows(values_only=True):
                yield [_cell_text(v) for v in values]
        except zipfile.BadZipFile as err:  # e.g. a sheet that inflates past its declared size
            raise ExtractError(f"{path.name}: a broken XLSX workbook ({err})") from None
        finally:
            workbook.close()

    return read_rows(path, data, "xlsx", _trim_trailing_blank(rows()), columns)


def _trim_trailing_blank(rows: Iterator[list[str]]) -> Iterator[list[str]]:
    """Spreadsheets report formatted-but-empty rows and cells; drop them at the edges."""
    pending: list[list[str]] = []
    width = None
    for row in rows:
        if width is None:
            while row and row[-1] == "":
                row.pop()
            width = len(row)
            yield row
            continue
        row = row[:width] if all(v == "" for v in row[width:]) else row
        if not any(row):
            pending.append(row)
            continue
        yield from pending
        pending.clear()
        yield row


def standardise(raw: RawExtract, snapshot: date, kab: Kabupaten) -> pd.DataFrame:
    rows = raw.readable
    out = base_frame(raw, Source.KPU, snapshot)
    issues = IssueLog(rows.index)
    add_identifiers(out, rows["NIK"], rows.get("NKK"))
    add_name(out, upper_text(rows["NAMA"]))
    add_codes(out, rows, issues, {"JENIS_KELAMIN": ("sex", SEX),
                                  "STATUS_PERKAWINAN": ("marital_status", MARITAL)})  # fmt: skip
    if "KTP_EL" in rows:
        ktp, bad = map_codes(rows["KTP_EL"], YES_NO)
        out["ktp_el"] = ktp.map({"true": True, "false": False}).astype("boolean")
        issues.add(bad, "ktp_el_unknown_code")
    add_birth_date(out, rows["TANGGAL_LAHIR"], snapshot, issues)
    add_integers(out, rows, issues, {"RT": "rt", "RW": "rw", "DISABILITAS": "disability"})
    add_texts(out, rows, {"TEMPAT_LAHIR": "birth_place", "ALAMAT": "address"})
    if "TPS" in rows:
        tps, _ = parse_int(rows["TPS"])
        out["tps"] = tps.astype("string").str.zfill(3)
    out["household"] = out["kk"]

    regions = RegionNameResolver(kab).resolve(
        upper_text(rows["KECAMATAN"]), upper_text(rows["KELURAHAN"])
    )
    out["kab_code"] = pd.Series(kab.kemendagri_code, index=rows.index, dtype="string")
    out["kec_code"] = regions["kec_code"]
    out["desa_code"] = regions["desa_code"]
    issues.add(regions["kec_code"].isna(), "kecamatan_unresolved")
    issues.add(regions["desa_code"].isna(), "kelurahan_unresolved")
    issues.add(regions["desa_method"] == "fuzzy", "kelurahan_fuzzy_match")
    issues.add(regions["kec_method"] == "fuzzy", "kecamatan_fuzzy_match")
    return finish(out, issues)
