"""Fellegi-Sunter scoring with parameters estimated from the data, without labels.

* ``u`` (how often two *different* people agree at a level) comes from comparing random
  record pairs, almost all of which are non-matches.
* The prior (how likely two random records are the same person) starts from a deterministic
  rule (same NIK and a similar name) divided by an assumed recall of that rule, and is then
  re-estimated as the expected share of matches among all pairs (``refine_prior``).
* ``m`` (how often the *same* person agrees at a level) comes from expectation-maximisation
  on the candidate pairs, in sessions per blocking rule; a session does not train the fields
  its rule blocked on (they agree by construction there), as Splink does.
* Name agreement is adjusted for the name's frequency: agreeing on SITI AMINAH is weaker
  evidence than agreeing on a rare name.

A pair's match weight is the prior log-odds plus the sum of the fields' log2 Bayes factors;
each field's contribution is kept so every score can be explained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.comparisons import COMPARISONS, NULL, BirthLevel, NameLevel, NikLevel, compare
from matching.features import Features

FIELD_INDEX = {c.name: i for i, c in enumerate(COMPARISONS)}
_EPS = 1e-6
#: No level is ever (almost) impossible for a true match: families move and get a new card,
#: clerks mistype. Without this floor, EM learns from the pairs it already believes and a
#: single disagreement would veto a match.
M_FLOOR = 0.005
#: A true match whose names share nothing at all is rarer than any other disagreement.
NAME_M_FLOOR = 0.0005


def bayes_factors(m: list[np.ndarray], u: list[np.ndarray]) -> list[np.ndarray]:
    """log2(m/u) per field and level."""
    return [
        np.log2(np.clip(mi, _EPS, 1) / np.clip(ui, _EPS, 1)) for mi, ui in zip(m, u, strict=True)
    ]


@dataclass
class Model:
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float  # probability that two random records are the same person

    def bayes_factors(self) -> list[np.ndarray]:
        return bayes_factors(self.m, self.u)

    def log_prior_odds(self) -> float:
        """log2 of the prior odds that two random records are the same person."""
        return float(np.log2(self.prior / (1 - self.prior)))

    def describe(self) -> dict[str, dict[str, dict[str, float]]]:
        """m, u and weight per field and level, for the run's metadata and documentation."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for comparison, m, u, w in zip(
            COMPARISONS, self.m, self.u, self.bayes_factors(), strict=True
        ):
            out[comparison.name] = {
                label: {
                    "m": round(float(m[k]), 5),
                    "u": round(float(u[k]), 7),
                    "weight": round(float(w[k]), 2),
                }
                for k, label in enumerate(comparison.levels)
            }
        return out


def _level_shares(levels: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    present = levels != NULL
    counts = np.bincount(
        levels[present].astype(np.int64),
        weights=None if weights is None else weights[present],
        minlength=size,
    )[:size]
    total = counts.sum()
    shares = (counts + 1e-3) / (total + 1e-3 * size) if total > 0 else np.full(size, 1.0 / size)
    return shares


def _agreement_chance(codes: np.ndarray) -> float:
    """Chance that two random records (both with a value) share the same value: sum p^2,
    from the values' codes (-1 for none)."""
    counts = np.bincount(codes[codes >= 0])
    if counts.sum() == 0:
        return 0.0
    shares = counts / counts.sum()
    return float((shares**2).sum())


def estimate_u(features: Features, samples: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Level shares among random record pairs (almost all of them different people).

    Exact-agreement levels are rare among random pairs (two random records share a NIK about
    once in a million pairs), so sampling cannot estimate them; their ``u`` is computed from
    the value frequencies instead, and the sampled shares of the other levels are rescaled.
    """
    n = features.n
    left = rng.integers(0, n, size=samples)
    right = rng.integers(0, n, size=samples)
    keep = left != right
    levels = compare(features, left[keep], right[keep])
    u = []
    for i, comparison in enumerate(COMPARISONS):
        shares = _level_shares(levels[:, i], len(comparison.levels))
        if comparison.exact_on is not None:
            top = len(comparison.levels) - 1
            exact = max(_agreement_chance(features.codes(comparison.exact_on)), _EPS)
            rest = shares[:top] / shares[:top].sum()
            shares = np.append(rest * (1 - exact), exact)
        u.append(shares)
    return u


def _log_bayes(levels: np.ndarray, factors: list[np.ndarray], used: list[int]) -> np.ndarray:
    total = np.zeros(len(levels))
    for i in used:
        column = levels[:, i]
        total += np.where(column == NULL, 0.0, factors[i][np.clip(column, 0, None)])
    return total


def train_m(
    levels: np.ndarray,
    u: list[np.ndarray],
    sessions: list[tuple[np.ndarray, set[str]]],
    iterations: int = 20,
    max_pairs: int = 1_000_000,
    seed: int = 0,
    anchors: tuple[np.ndarray, set[str]] | None = None,
) -> list[np.ndarray]:
    """EM for ``m`` with ``u`` fixed. Each session is (mask of pairs, fields it must not train).

    ``anchors`` (mask, fields not trained) are pairs taken for matches without EM, for
    instance two records with the same rare name: ``m`` of the other fields is then simply
    how their levels fall. It is what lets a field be trained when the data has too few
    other fields for EM to tell matches from non-matches (names and birth dates only).

    A session over more than ``max_pairs`` pairs trains on a random sample of that many (as
    Splink caps its EM sessions): the level shares are estimated as well, in a fraction of
    the time at a million records.
    """
    rng = np.random.default_rng(seed)
    sizes = [len(c.levels) for c in COMPARISONS]
    # Start from "matches mostly agree at the top level".
    start = [np.linspace(0.05, 1.0, size) ** 3 for size in sizes]
    start = [s / s.sum() for s in start]
    trained: list[list[np.ndarray]] = [[] for _ in COMPARISONS]
    if anchors is not None and anchors[0].any():
        anchored = levels[anchors[0]]
        for i, c in enumerate(COMPARISONS):
            if c.name not in anchors[1] and (anchored[:, i] != NULL).any():
                trained[i].append(_level_shares(anchored[:, i], sizes[i]))
    for mask, excluded in sessions:
        picked = np.flatnonzero(mask)
        if len(picked) > max_pairs:
            picked = np.sort(rng.choice(picked, size=max_pairs, replace=False))
        subset = levels[picked]
        if len(subset) == 0:
            continue
        used = [i for i, c in enumerate(COMPARISONS) if c.name not in excluded]
        m = [s.copy() for s in start]
        share = 0.1
        for _ in range(iterations):
            factors = bayes_factors(m, u)
            log_odds = np.log2(share / (1 - share)) + _log_bayes(subset, factors, used)
            posterior = 1.0 / (1.0 + np.exp2(-np.clip(log_odds, -60, 60)))
            share = float(np.clip(posterior.mean(), 1e-4, 1 - 1e-4))
            for i in used:
                m[i] = _level_shares(subset[:, i], sizes[i], posterior)
        for i in used:
            trained[i].append(m[i])
    estimated = [np.mean(t, axis=0) if t else start[i] for i, t in enumerate(trained)]
    floors = [NAME_M_FLOOR if c.name == "name" else M_FLOOR for c in COMPARISONS]
    return [
        np.maximum(m, f) / np.maximum(m, f).sum() for m, f in zip(estimated, floors, strict=True)
    ]


def estimate_prior(levels: np.ndarray, n: int, recall: float = 0.9) -> float:
    """Probability that two random records match, from the pairs strict rules accept (same
    NIK and a similar name, or the same name and birth date), divided by an assumed recall."""
    nik = levels[:, FIELD_INDEX["nik"]]
    name = levels[:, FIELD_INDEX["name"]]
    birth = levels[:, FIELD_INDEX["birth_date"]]
    sure = int(
        (
            ((nik == NikLevel.EXACT) & (name >= NameLevel.SIMILAR_84_OR_SOUND))
            | ((name == NameLevel.EXACT) & (birth == BirthLevel.EXACT))
        ).sum()
    )
    total = n * (n - 1) / 2
    return float(np.clip(sure / recall / total, 1e-12, 0.5)) if total else 0.5


def refine_prior(prior: float, log_lr: np.ndarray, n: int, iterations: int = 50) -> float:
    """The prior re-estimated as the expected share of matches among all record pairs.

    ``estimate_prior`` divides what a strict rule finds by an assumed recall; where the
    records are badly corrupted the rule finds far fewer matches than assumed (FEBRL3: half)
    and every probability comes out too low. With ``m`` and ``u`` fixed this is the EM
    update of the prior over the compared pairs (``log_lr``: each pair's log2 likelihood
    ratio), the pairs never compared counting as non-matches.
    """
    total = n * (n - 1) / 2
    if total == 0 or len(log_lr) == 0:
        return prior
    for _ in range(iterations):
        odds = np.log2(prior / (1 - prior))
        posterior = 1.0 / (1.0 + np.exp2(-np.clip(odds + log_lr, -60, 60)))
        updated = float(np.clip(posterior.sum() / total, 1e-12, 0.5))
        converged = abs(np.log(updated / prior)) < 1e-4
        prior = updated
        if converged:
            break
    return prior


@dataclass
class Scores:
    weight: np.ndarray  # total match weight (log2 odds) per pair
    contributions: np.ndarray  # per pair and field: the field's log2 Bayes factor

    @property
    def probability(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp2(-np.clip(self.weight, -60, 60)))


def score(
    model: Model,
    levels: np.ndarray,
    name_frequency: np.ndarray,
    word_frequency: np.ndarray | None = None,
) -> Scores:
    """Match weights of compared pairs; ``name_frequency`` per pair is the chance that a
    stranger has the pair's name (``Features.name_chance``), ``word_frequency`` the share of
    records holding the word the names share."""
    factors = model.bayes_factors()
    contributions = np.zeros(levels.shape, dtype=np.float32)
    for i, comparison in enumerate(COMPARISONS):
        column = levels[:, i]
        weight = np.where(column == NULL, 0.0, factors[i][np.clip(column, 0, None)])
        adjusted = [(comparison.tf_level, name_frequency)]
        if word_frequency is not None:
            adjusted.append((comparison.word_tf_level, word_frequency))
        for level, frequency in adjusted:
            if level is None:
                continue
            # Agreeing on a value shared by a share f of records: u is f, not the average u.
            at_level = column == level
            m_level = np.clip(model.m[i][level], _EPS, 1)
            tf = np.clip(frequency, _EPS, 1)
            weight = np.where(at_level, np.log2(m_level / tf), weight)
        if comparison.fuzzy_tf_levels:
            # A near agreement on a rare name is stronger than on a common one: the level's
            # weight moves by how much rarer than average the more common of the two names
            # is (Splink's term-frequency adjustment of fuzzy levels).
            u_exact = np.clip(model.u[i][comparison.tf_level], _EPS, 1)
            tf = np.clip(name_frequency, _EPS, 1)
            fuzzy = np.isin(column, comparison.fuzzy_tf_levels)
            weight = np.where(fuzzy, weight + np.log2(u_exact / tf), weight)
        contributions[:, i] = weight
    return Scores(model.log_prior_odds() + contributions.sum(axis=1), contributions)
