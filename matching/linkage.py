"""The linkage interface, and which engine the pipeline uses.

``Linker.link(records)`` takes the canonical records of all sources (one row per source row)
and returns, aligned to them, a cluster number, how each row was linked and a score.
Resident IDs and the golden record are built from that (``matching.resident``); the engine
itself is ``matching.engine``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd

SOURCE_PRIORITY = {"dukcapil": 0, "kpu": 1, "bps": 2}
#: How a row was linked (``resident_link.link_method``), by its strongest kept link: ``nik``
#: (the two NIKs agree), ``probabilistic`` (the model's probability reached the match level),
#: ``double_registration`` (two civil-registry rows of one person registered twice, joined by
#: the engine's rule for them whatever the probability: ``matching.engine``),
#: ``review_decision``, or ``unlinked`` (a resident of one row).
LINK_METHODS = ("nik", "probabilistic", "double_registration", "review_decision", "unlinked")


@dataclass
class LinkResult:
    """Aligned to the input records: ``cluster`` (0..k-1), ``link_method``, ``link_score``."""

    clusters: pd.DataFrame
    pairs_compared: int


class Linker(Protocol):
    def link(self, records: pd.DataFrame, decisions: pd.DataFrame | None = None) -> LinkResult:
        """``decisions``: reviewers' verdicts (``left``, ``right`` positions, ``match``)."""
        ...


def default_linker() -> Linker:
    """The linker the pipeline uses: the probabilistic engine (matching.engine)."""
    from matching.engine import FellegiSunterLinker

    return FellegiSunterLinker()
