"""Linkage accuracy against known truth: pairwise precision/recall/F1 and exact clusters."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Accuracy:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    persons: int
    persons_exact: int  # persons whose rows form exactly one resident holding nothing else

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def exact_share(self) -> float:
        return self.persons_exact / self.persons if self.persons else 1.0


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def accuracy(labelled: pd.DataFrame) -> Accuracy:
    """``labelled`` has one row per source row with ``person_id`` (truth) and ``resident_id``."""
    true_pairs = _pairs(labelled.groupby("person_id").size())
    predicted = _pairs(labelled.groupby("resident_id").size())
    correct = _pairs(labelled.groupby(["person_id", "resident_id"]).size())
    per_person = labelled.groupby("person_id")["resident_id"].agg(["nunique", "first"])
    per_resident = labelled.groupby("resident_id")["person_id"].nunique()
    whole = per_person["nunique"] == 1
    pure = per_person["first"].map(per_resident) == 1
    return Accuracy(true_pairs, predicted, correct, len(per_person), int((whole & pure).sum()))
