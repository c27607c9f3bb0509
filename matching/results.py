"""What a linker returns, and the interface every linker offers.

``Linker.link(records)`` takes the canonical records of all sources (one row per source row)
and returns, aligned to them, a cluster number, how each row was linked and a score.
Resident IDs and the golden record are built from that (``matching.resident``); the engine
is ``matching.engine`` and the pipeline's choice of it ``matching.linkage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

SOURCE_PRIORITY = {"dukcapil": 0, "kpu": 1, "bps": 2}
#: How a row was linked (``resident_link.link_method``), by its strongest kept link: ``nik``
#: (the two NIKs agree), ``probabilistic`` (the model's probability reached the match level),
#: ``double_registration`` (two civil-registry rows of one person registered twice, joined by
#: the engine's rule for them whatever the probability: ``matching.pair_rules``),
#: ``review_decision``, or ``unlinked`` (a resident of one row).
LINK_METHODS = ("nik", "probabilistic", "double_registration", "review_decision", "unlinked")
#: Columns of ``LinkResult.review``.
REVIEW_COLUMNS = ("left", "right", "match_probability", "match_weight", "explanation")
#: Columns of ``LinkResult.blocking_figures`` (the warehouse's ``linkage_blocking``).
BLOCKING_COLUMNS = (
    "rule", "rule_order", "blocks", "candidate_pairs", "new_pairs", "capped_blocks",
    "capped_records", "match_pairs", "review_pairs", "match_probability", "review_probability",
)  # fmt: skip


@dataclass
class LinkResult:
    """Aligned to the input records: ``cluster`` (0..k-1), ``link_method``, ``link_score``."""

    clusters: pd.DataFrame
    pairs_compared: int

    def review(self) -> pd.DataFrame:
        """Pairs for clerical review (``REVIEW_COLUMNS``; ``left``/``right`` are record
        positions). A linker without a review band has none."""
        return pd.DataFrame(columns=list(REVIEW_COLUMNS))

    def blocking_figures(self) -> pd.DataFrame:
        """One row per blocking rule, in the order they ran (``BLOCKING_COLUMNS``): the
        candidate pairs it produced, those no earlier rule had, and how the model scored
        them. A linker without blocking rules has none."""
        return pd.DataFrame(columns=list(BLOCKING_COLUMNS))

    def describe(self) -> dict[str, Any]:
        """How the linker reached its result (model, blocking, timings), for run metadata."""
        return {}


class Linker(Protocol):
    def link(self, records: pd.DataFrame, decisions: pd.DataFrame | None = None) -> LinkResult:
        """``decisions``: reviewers' verdicts (``left``, ``right`` positions, ``match``)."""
        ...
