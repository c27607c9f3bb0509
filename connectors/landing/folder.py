"""The landing folder: which agency files are there, for which region and snapshot day.

File names follow docs/input-formats.md (case-insensitive)::

    dukcapil_<KAB>_<YYYYMMDD>.csv            Kemendagri kab/kota code
    kpu_dpt_<KAB>_<YYYYMMDD>.csv | .xlsx     Kemendagri kab/kota code
    bps_regsosek_<KAB>_<YYYYMMDD>.csv        BPS kab/kota code

Every file is resolved to the Kemendagri kab/kota. Anything else in the folder is reported
and left alone. ``check_extracts`` refuses a run before anything is read when a region lacks
an extract, naming what was ignored and why, and the file name expected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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

#: Each source's file names as people write them: KAB is the Kemendagri kab/kota code
#: (6309), BPS_KAB the BPS one (it differs for 199 kab/kota).
NAMES = {
    Source.DUKCAPIL: "dukcapil_<KAB>_<YYYYMMDD>.csv",
    Source.KPU: "kpu_dpt_<KAB>_<YYYYMMDD>.csv or .xlsx",
    Source.BPS: "bps_regsosek_<BPS_KAB>_<YYYYMMDD>.csv",
}
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
    names = ", ".join(NAMES.values())
    return Ignored(path, f"not an agency extract name (expected {names})")


def extract_name(source: Source, kab: Kabupaten, snapshot: date, suffix: str = "csv") -> str:
    """The file name an extract of ``source`` for ``kab`` on ``snapshot`` has
    (docs/input-formats.md)."""
    stamp = snapshot.strftime("%Y%m%d")
    if source is Source.DUKCAPIL:
        return f"dukcapil_{kab.compact_code}_{stamp}.{suffix}"
    if source is Source.KPU:
        return f"kpu_dpt_{kab.compact_code}_{stamp}.{suffix}"
    return f"bps_regsosek_{kab.bps_code}_{stamp}.{suffix}"


def expected_name(source: Source, kab: Kabupaten) -> str:
    """The name of an extract of ``source`` for ``kab``, its date left open."""
    code = kab.bps_code if source is Source.BPS else kab.compact_code
    return NAMES[source].replace("<BPS_KAB>", code).replace("<KAB>", code)


class MissingExtractsError(LookupError):
    """A region to run has no extract of a source in the landing folder."""


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


def missing_extracts(
    extracts: list[ExtractFile], needed: Mapping[Kabupaten, Iterable[Source]]
) -> dict[Kabupaten, list[Source]]:
    """The sources of ``needed`` (per region) that have no extract among ``extracts``."""
    missing = {
        kab: [s for s in sources if latest(extracts, s, kab) is None]
        for kab, sources in needed.items()
    }
    return {kab: sources for kab, sources in missing.items() if sources}


def describe_missing(
    folder: Path,
    missing: Mapping[Kabupaten, Iterable[Source]],
    extracts: list[ExtractFile],
    ignored: list[Ignored],
    most: int = 20,
) -> str:
    """What is missing from ``folder``, one line per region and source with the file name
    expected (and that source's extracts for other regions, if any), then every file that
    was ignored and why (at most ``most`` of them)."""
    lines = []
    for kab, sources in missing.items():
        for source in sources:
            line = (
                f"{kab.kemendagri_code} {kab.name}: no {source.value} extract in {folder} "
                f"(expected {expected_name(source, kab)})"
            )
            others = [e for e in extracts if e.source is source and e.kab != kab]
            if others:
                line += "; there is " + ", ".join(
                    f"{e.path.name} for {e.kab.kemendagri_code} {e.kab.name}" for e in others[:3]
                )
            lines.append(line)
    if ignored:
        lines.append(f"ignored in {folder}:")
        lines += [f"  {i.path.name}: {i.reason}" for i in ignored[:most]]
        if len(ignored) > most:
            lines.append(f"  ... and {len(ignored) - most} more")
    return "\n".join(lines)


def check_extracts(folder: Path, needed: Mapping[Kabupaten, Iterable[Source]]) -> None:
    """Raise ``MissingExtractsError`` if a region of ``needed`` lacks an extract of one of
    its sources in ``folder``; its message says what is missing and what was ignored."""
    extracts, ignored = scan(folder)
    missing = missing_extracts(extracts, needed)
    if missing:
        raise MissingExtractsError(describe_missing(folder, missing, extracts, ignored))
