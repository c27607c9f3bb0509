"""The agency formats by source: how to read each one and standardise its rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from connectors.agencies import bps, dukcapil, kpu
from connectors.agencies.extract import RawExtract
from connectors.reference.regions import Kabupaten
from connectors.schema import Source


@dataclass(frozen=True)
class AgencyFormat:
    read: Callable[[Path, Path | None], RawExtract]
    standardise: Callable[[RawExtract, date, Kabupaten], pd.DataFrame]


FORMATS: dict[Source, AgencyFormat] = {
    Source.DUKCAPIL: AgencyFormat(
        dukcapil.read, lambda raw, snap, _kab: dukcapil.standardise(raw, snap)
    ),
    Source.KPU: AgencyFormat(kpu.read, kpu.standardise),
    Source.BPS: AgencyFormat(bps.read, lambda raw, snap, _kab: bps.standardise(raw, snap)),
}


def standardise_folder(folder: Path, region: str | None = None) -> pd.DataFrame:
    """Canonical records of the newest extract of each agency in ``folder``, concatenated.

    The same reading and standardising the pipeline does, without the warehouse: for
    benchmarks, evaluation and tests. ``region`` (kab/kota code) is needed only when the folder
    holds several.
    """
    from connectors.landing.folder import latest, regions_present, scan
    from connectors.reference.regions import kabupaten
    from connectors.schema import conform

    extracts, _ = scan(folder)
    kabs = [kabupaten(region)] if region else regions_present(extracts)
    if len(kabs) != 1:
        raise ValueError(f"{folder}: name the region; found {len(kabs)} kab/kota")
    frames = []
    for source, agency in FORMATS.items():
        extract = latest(extracts, source, kabs[0])
        if extract is None:
            continue
        raw = agency.read(extract.path, None)
        frames.append(conform(agency.standardise(raw, extract.snapshot, kabs[0])))
    return pd.concat(frames, ignore_index=True)
