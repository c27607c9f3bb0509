"""The landing folder: which agency files are there, for which region and snapshot day.

File names follow formats.md (case-insensitive)::

    dukcapil_<KAB>_<YYYYMMDD>.csv            Kemendagri kab/kota code
    kpu_dpt_<KAB>_<YYYYMMDD>.csv | .xlsx     Kemendagri kab/kota code
    bps_regsosek_<KAB>_<YYYYMMDD>.csv        BPS kab/kota code

Every file is resolved to the Kemendagri kab/kota. Anything else in the folder is reported
and left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from connectors.reference.regions import (
    Kabupaten,
    UnknownRegionError,
    kabupaten,
    kabupaten_by_bps_code,
)
from connectors.schema import Source

_PATTERNS = {
    Source.DUKCAPIL: re.compile(r"^dukcapil_(\d{4})_(\d{8})\.csv$", re.IGNORECASE),
    Source.KPU: re.compile(r"^kpu_dpt_(\d{4})_(\d{8})\.(csv|xlsx)$", re.IGNORECASE),
    Source.BPS: re.compile(r"^bps_regsosek_(\d{4})_(\d{8})\.csv$", re.IGNORECASE),
}


@dataclass(frozen=True)
class ExtractFile:
    """One agency extract in the landing folder."""

    path: Path
    source: Source
    kab: Kabupaten
    snapshot: date


@dataclass(frozen=True)
class Ignored:
    path: Path
    reason: str


def identify(path: Path) -> ExtractFile | Ignored:
    """What ``path`` is, from its name alone."""
    for source, pattern in _PATTERNS.items():
        match = pattern.match(path.name)
        if not match:
            continue
        code, stamp = match.group(1), match.group(2)
        try:
            snapshot = datetime.strptime(stamp, "%Y%m%d").date()
        except ValueError:
            return Ignored(path, f"snapshot date {stamp} in the file name is not a date")
        try:
            kab = kabupaten_by_bps_code(code) if source is Source.BPS else kabupaten(code)
        except UnknownRegionError as err:
            return Ignored(path, str(err))
        return ExtractFile(path, source, kab, snapshot)
    return Ignored(path, "not an agency extract name (see formats.md)")


def extract_name(source: Source, kab: Kabupaten, snapshot: date, suffix: str = "csv") -> str:
    """The file name an extract of ``source`` for ``kab`` on ``snapshot`` has (formats.md)."""
    stamp = snapshot.strftime("%Y%m%d")
    if source is Source.DUKCAPIL:
        return f"dukcapil_{kab.compact_code}_{stamp}.{suffix}"
    if source is Source.KPU:
        return f"kpu_dpt_{kab.compact_code}_{stamp}.{suffix}"
    return f"bps_regsosek_{kab.bps_code}_{stamp}.{suffix}"


#: What padu itself leaves beside extracts: where a pulled extract came from, and downloads
#: in progress. Not reported as strangers.
_OWN_FILES = (".origin.json", ".part", ".tmp")


def scan(folder: Path) -> tuple[list[ExtractFile], list[Ignored]]:
    """All extracts in ``folder`` (not recursive), and everything else found there."""
    if not folder.is_dir():
        raise FileNotFoundError(f"landing folder {folder} does not exist")
    extracts: list[ExtractFile] = []
    ignored: list[Ignored] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.name.endswith(_OWN_FILES):
            continue
        found = identify(path)
        (extracts if isinstance(found, ExtractFile) else ignored).append(found)  # type: ignore[arg-type]
    return extracts, ignored


def latest(extracts: list[ExtractFile], source: Source, kab: Kabupaten) -> ExtractFile | None:
    """The newest snapshot of ``source`` for ``kab``; older ones are superseded."""
    candidates = [e for e in extracts if e.source is source and e.kab == kab]
    if not candidates:
        return None
    # Same day twice (e.g. .csv and .xlsx): the name decides, so the choice is repeatable.
    return max(candidates, key=lambda e: (e.snapshot, e.path.name))


def regions_present(extracts: list[ExtractFile]) -> list[Kabupaten]:
    return sorted({e.kab for e in extracts}, key=lambda k: k.kemendagri_code)
