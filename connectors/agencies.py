"""The agency formats by source: how to read each one and standardise its rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from connectors import bps, dukcapil, kpu
from connectors.extract import RawExtract
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
