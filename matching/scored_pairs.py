"""Compared pairs with their scores: ``ScoredPairs`` (levels, weight, probability and each
field's contribution per pair), how pairs are scored (``score_pairs``) and how a pair's
field weights read as text (``explain``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.comparisons import COMPARISONS, NameLevel, shared_word_frequency
from matching.features import Features
from matching.fellegi_sunter import FIELD_INDEX, Model, Scores, score


@dataclass
class ScoredPairs:
    """Every compared pair with its levels, weight and probability (record positions)."""

    left: np.ndarray
    right: np.ndarray
    levels: np.ndarray
    weight: np.ndarray
    probability: np.ndarray
    contributions: np.ndarray
    rules: np.ndarray

    def frame(self, mask: np.ndarray | None = None) -> pd.DataFrame:
        """Pairs as a table with each field's contribution to the weight (explanations)."""
        pick = slice(None) if mask is None else mask
        out = pd.DataFrame(
            {
                "left": self.left[pick],
                "right": self.right[pick],
                "match_weight": self.weight[pick].round(3),
                "match_probability": self.probability[pick],
            }
        )
        for i, comparison in enumerate(COMPARISONS):
            out[f"w_{comparison.name}"] = self.contributions[pick, i].round(2)
            out[f"level_{comparison.name}"] = self.levels[pick, i]
        return out


def score_pairs(
    features: Features, model: Model, left: np.ndarray, right: np.ndarray, levels: np.ndarray
) -> Scores:
    """Fellegi-Sunter scores of the pairs, with the name's and the shared word's rarity."""
    # The shared word's frequency matters only at the "one word" name level.
    words = np.ones(len(left))
    one_word = np.flatnonzero(levels[:, FIELD_INDEX["name"]] == NameLevel.ONE_WORD)
    words[one_word] = shared_word_frequency(features, left[one_word], right[one_word])
    chance = np.maximum(features.name_chance[left], features.name_chance[right])
    return score(model, levels, chance, words)


def explain(contributions: np.ndarray) -> list[str]:
    """Each pair's field weights as text, strongest first: ``name +12.9; nik -7.6``."""
    names = [c.name for c in COMPARISONS]
    texts = []
    for row in contributions:
        order = np.argsort(-np.abs(row))
        texts.append("; ".join(f"{names[i]} {row[i]:+.1f}" for i in order if row[i] != 0))
    return texts
