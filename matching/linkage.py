"""Which linkage engine the pipeline uses (the interface is ``matching.results``)."""

from __future__ import annotations

from matching.engine import FellegiSunterLinker
from matching.results import Linker


def default_linker() -> Linker:
    """The linker the pipeline uses: the probabilistic engine (matching.engine)."""
    return FellegiSunterLinker()
