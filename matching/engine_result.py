"""What the probabilistic engine returns (``EngineResult``): the clusters with the scored
pairs, the model and blocking report behind them, the pairs for clerical review with their
explanations, and the run metadata (``describe``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from matching.blocking import RULES, RuleReport
from matching.clustering import among, pair_keys
from matching.features import SOURCES
from matching.fellegi_sunter import Model
from matching.residual import SECOND_PASS_BIT
from matching.results import BLOCKING_COLUMNS, LinkResult
from matching.scored_pairs import ScoredPairs, explain


@dataclass
class EngineResult(LinkResult):
    pairs: ScoredPairs | None = None
    model: Model | None = None
    blocking: list[RuleReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    review_probability: float = 0.5
    match_probability: float = 0.95
    #: Estimated share of each source's records with a counterpart in each source
    #: (``matching.competition``), rows and columns in ``SOURCES`` order.
    counterpart_share: np.ndarray | None = None
    #: The same share among the records the first pass left open (``matching.residual``).
    open_counterpart_share: np.ndarray | None = None
    #: Pair keys (``pair_keys``, sorted) of the pairs reviewers decided, either way.
    decided: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def _prior_weight(self) -> float:
        return self.model.log_prior_odds() if self.model else 0.0

    def review(self) -> pd.DataFrame:
        """Pairs for clerical review: between the two thresholds, not already one person and
        not decided by a reviewer (a decision stands until a reviewer changes it).

        Columns ``left``/``right`` (record positions), ``match_probability``,
        ``match_weight``, ``explanation``.
        """
        if self.pairs is None:
            return super().review()
        p = self.pairs
        cluster = self.clusters["cluster"].to_numpy()
        band = (p.probability >= self.review_probability) & (p.probability < self.match_probability)
        band &= cluster[p.left] != cluster[p.right]
        band &= ~among(pair_keys(p.left, p.right), self.decided)
        # Where the probability is above what the weight alone gives, the pair had no rival
        # candidate (matching/competition.py).
        alone = p.probability[band] > 1.0 / (1.0 + np.exp2(-p.weight[band])) + 1e-9
        return pd.DataFrame(
            {
                "left": p.left[band],
                "right": p.right[band],
                "match_probability": p.probability[band],
                "match_weight": p.weight[band],
                "explanation": [
                    f"prior {self._prior_weight():+.1f}; {text}"
                    + ("; no rival candidate" if raised else "")
                    for text, raised in zip(explain(p.contributions[band]), alone, strict=True)
                ],
            }
        )

    def blocking_figures(self) -> pd.DataFrame:
        """Per blocking rule (and the second pass), in the order they ran: its blocks and
        candidate pairs, the pairs no earlier rule found (``new_pairs``: they add up to the
        pairs compared), its capped blocks, and how many of its pairs the model put at or
        above the match probability or in the review band."""
        if self.pairs is None:
            return super().blocking_figures()
        p = self.pairs
        bit_of = {rule.name: 1 << i for i, rule in enumerate(RULES)}
        bit_of["second_pass"] = SECOND_PASS_BIT
        rules = p.rules.astype(np.int64)
        first = rules & -rules  # the earliest rule that found each pair
        matched = p.probability >= self.match_probability
        in_band = (p.probability >= self.review_probability) & ~matched
        rows = []
        for order, report in enumerate(self.blocking):
            bit = bit_of[report.rule]
            found = (rules & bit) != 0
            rows.append(
                (report.rule, order, report.blocks, report.pairs, int((first == bit).sum()),
                 report.capped_blocks, report.capped_records, int((found & matched).sum()),
                 int((found & in_band).sum()), self.match_probability, self.review_probability)
            )  # fmt: skip
        return pd.DataFrame(rows, columns=list(BLOCKING_COLUMNS)).astype(
            {"rule": "string", "match_probability": float, "review_probability": float}
        )

    def describe(self) -> dict[str, Any]:
        """Model parameters, blocking report and stage timings."""
        if self.model is None:
            return {}
        return {
            "model": self.model.describe(),
            "prior_match_probability": self.model.prior,
            "counterpart_share": _by_source_pair(self.counterpart_share),
            "open_counterpart_share": _by_source_pair(self.open_counterpart_share),
            "blocking": {
                r.rule: {
                    "pairs": r.pairs,
                    "capped_blocks": r.capped_blocks,
                    "capped_records": r.capped_records,
                }
                for r in self.blocking
            },
            "stage_seconds": self.timings,
        }


def _by_source_pair(share: np.ndarray | None) -> dict[str, float]:
    """A source-by-source matrix as ``{"dukcapil->kpu": 0.97, ...}`` (empty when none)."""
    if share is None:
        return {}
    return {
        f"{a}->{b}": round(float(share[i, j]), 4)
        for i, a in enumerate(SOURCES)
        for j, b in enumerate(SOURCES)
        if i != j
    }
