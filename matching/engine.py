"""The probabilistic linker: features -> blocking -> comparisons -> Fellegi-Sunter -> clusters,
then a second pass over the records left without a counterpart (``matching.residual``).

The parts it composes have their own modules: the scored pairs (``matching.scored_pairs``),
the rules that override the model on a pair (``matching.pair_rules``) and what the engine
returns (``matching.engine_result``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.blocking import DEFAULT_MAX_BLOCK, RULES, Candidates, candidate_pairs
from matching.clustering import best_links, constrained_components, pair_keys
from matching.comparisons import NameLevel, NikLevel, compare
from matching.competition import competing_probability
from matching.engine_result import EngineResult
from matching.features import SOURCES, Features, build_features
from matching.fellegi_sunter import (
    FIELD_INDEX,
    Model,
    Scores,
    estimate_prior,
    estimate_u,
    refine_prior,
    train_m,
)
from matching.pair_rules import cannot_link, double_registration
from matching.residual import second_pass
from matching.scored_pairs import ScoredPairs, score_pairs

_RULE_BIT = {rule.name: 1 << i for i, rule in enumerate(RULES)}


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def _train_m(
    features: Features, candidates: Candidates, levels: np.ndarray, u: list[np.ndarray], seed: int
) -> list[np.ndarray]:
    """Each field's level shares among matches (m), trained by EM on the candidate pairs."""
    # EM sessions, each on the pairs of some blocking rules, training the fields those
    # rules did not block on.
    by_name = _RULE_BIT["phonetic_year"] | _RULE_BIT["name_kecamatan"]
    sessions = [
        ((candidates.rules & _RULE_BIT["nik"]) > 0, {"nik", "nik_vs_record"}),
        ((candidates.rules & by_name) > 0, {"name"}),
        (
            (candidates.rules & _RULE_BIT["birth_date_sex_prefix"]) > 0,
            {"birth_date", "sex", "nik_vs_record"},
        ),
    ]
    # Two records with the same rare name (at most four hold it) are taken for one person:
    # blocked on the name alone, they show how the other fields (birth dates that
    # disagree or are missing included) fall for a match.
    frequency = np.maximum(
        features.name_frequency[candidates.left], features.name_frequency[candidates.right]
    )
    anchors = (
        ((candidates.rules & _RULE_BIT["rare_name_sound"]) > 0)
        & (levels[:, FIELD_INDEX["name"]] == NameLevel.EXACT)
        & (frequency * features.n <= 4),
        {"name"},
    )
    return train_m(levels, u, sessions, seed=seed, anchors=anchors)


@dataclass(frozen=True)
class LinkageSettings:
    match_probability: float = 0.95  # pairs at or above are links
    review_probability: float = 0.50  # pairs between this and the match level go to review
    max_block: int = DEFAULT_MAX_BLOCK
    u_samples: int = 300_000  # random pairs for u; at most 50 per record
    prior_recall: float = 0.9
    seed: int = 20261101  # the random pairs for u; fixed so reruns give the same model
    second_pass: bool = True  # compare again the records left without a counterpart
    #: Shares known rather than estimated: ``(source, other, share)`` says that ``share`` of
    #: ``source``'s records have a counterpart in ``other`` (1.0: every one). Only for
    #: sources known to hold the same people; never for a voter list checked for ghost
    #: voters, whose point is that some records have no counterpart.
    coverage: tuple[tuple[str, str, float], ...] = ()

    def known_share(self) -> np.ndarray:
        """``coverage`` as a sources-by-sources matrix, NaN where the share is estimated."""
        known = np.full((len(SOURCES), len(SOURCES)), np.nan)
        for source, other, share in self.coverage:
            if not 0 <= share <= 1 or source == other:
                raise ValueError(f"coverage {source}->{other}: {share} is not a share")
            known[SOURCES.index(source), SOURCES.index(other)] = share
        return known


class FellegiSunterLinker:
    """See the modules it composes; the settings are the decision thresholds and costs."""

    def __init__(self, settings: LinkageSettings | None = None) -> None:
        self.settings = settings or LinkageSettings()

    def link(self, records: pd.DataFrame, decisions: pd.DataFrame | None = None) -> EngineResult:
        """Link ``records``; ``decisions`` (``left``, ``right`` record positions and a boolean
        ``match``) are reviewers' verdicts on pairs and override the model."""
        s = self.settings
        clock = _Clock()
        features = build_features(records)
        clock.lap("features")
        candidates = candidate_pairs(features, max_block=s.max_block)
        clock.lap("blocking")
        levels = compare(features, candidates.left, candidates.right)
        clock.lap("comparisons")
        rng = np.random.default_rng(s.seed)
        u = estimate_u(features, min(s.u_samples, 50 * features.n), rng)
        prior = estimate_prior(levels, features.n, s.prior_recall)
        clock.lap("u_and_prior")
        m = _train_m(features, candidates, levels, u, s.seed)
        clock.lap("em")
        first = Model(m, u, prior)
        scores = score_pairs(features, first, candidates.left, candidates.right, levels)
        log_lr = scores.contributions.sum(axis=1, dtype=np.float64)
        model = Model(m, u, refine_prior(prior, log_lr, features.n))
        # The fields' weights do not depend on the prior: only the total moves.
        shift = model.log_prior_odds() - first.log_prior_odds()
        scores = Scores(scores.weight + shift, scores.contributions)
        known = s.known_share()
        competing, counterpart_share = competing_probability(
            scores.contributions.sum(axis=1, dtype=np.float64),
            candidates.left, candidates.right, features.source, known_share=known,
        )  # fmt: skip
        probability = np.maximum(scores.probability, competing)
        pairs = ScoredPairs(
            candidates.left, candidates.right, levels, scores.weight, probability,
            scores.contributions, candidates.rules,
        )  # fmt: skip
        clock.lap("scoring")
        clusters = self._cluster(features.n, features.source, pairs, decisions)
        clock.lap("clustering")
        reports = list(candidates.reports)
        open_share = None
        if s.second_pass:
            pairs, report, open_share = second_pass(features, model, pairs, clusters, known)
            reports.append(report)
            clusters = self._cluster(features.n, features.source, pairs, decisions)
            clock.lap("second_pass")
        decided = np.zeros(0, dtype=np.int64)
        if decisions is not None and len(decisions):
            decided = np.unique(
                pair_keys(decisions["left"].to_numpy(), decisions["right"].to_numpy())
            )
        return EngineResult(
            clusters, len(pairs.left), pairs, model, reports, clock.laps,
            counterpart_share=counterpart_share, open_counterpart_share=open_share,
            decided=decided, review_probability=s.review_probability,
            match_probability=s.match_probability,
        )  # fmt: skip

    def _cluster(
        self, n: int, source: np.ndarray, pairs: ScoredPairs, decisions: pd.DataFrame | None
    ) -> pd.DataFrame:
        by_model = (pairs.probability >= self.settings.match_probability) & ~cannot_link(
            source, pairs
        )
        # Double registrations are joined by their own rule, whatever the model's probability
        # (their NIKs and family cards differ): their links say so (link_method).
        by_rule = double_registration(source, pairs) & ~by_model
        accepted = by_model | by_rule
        forced_left = forced_right = np.zeros(0, dtype=np.int64)
        cannot_left = cannot_right = np.zeros(0, dtype=np.int64)
        if decisions is not None and len(decisions):
            # A reviewer's decision beats the model: "not a match" removes the link,
            # "match" adds it whatever the score.
            decided = pair_keys(decisions["left"].to_numpy(), decisions["right"].to_numpy())
            rejected = decided[~decisions["match"].to_numpy(dtype=bool)]
            accepted &= ~np.isin(pair_keys(pairs.left, pairs.right), rejected)
            refused = decisions[~decisions["match"].astype(bool)]
            cannot_left = refused["left"].to_numpy(dtype=np.int64)
            cannot_right = refused["right"].to_numpy(dtype=np.int64)
            confirmed = decisions[decisions["match"].astype(bool)]
            forced_left = confirmed["left"].to_numpy(dtype=np.int64)
            forced_right = confirmed["right"].to_numpy(dtype=np.int64)
        left, right = pairs.left[accepted], pairs.right[accepted]
        weight = pairs.weight[accepted]
        keep = best_links(left, right, weight, source)
        nik_exact = pairs.levels[accepted][keep][:, FIELD_INDEX["nik"]] == NikLevel.EXACT
        double = by_rule[accepted][keep]
        probability = pairs.probability[accepted][keep]
        forced = len(forced_left)
        left = np.concatenate([left[keep], forced_left])
        right = np.concatenate([right[keep], forced_right])
        weight = np.concatenate([weight[keep], np.full(forced, 1e6)])
        probability = np.concatenate([probability, np.ones(forced)])
        method_of = np.concatenate(
            [
                np.where(
                    nik_exact, "nik", np.where(double, "double_registration", "probabilistic")
                ),
                np.full(forced, "review_decision"),
            ]
        )
        labels = constrained_components(n, left, right, weight, cannot_left, cannot_right)
        # Each record's strongest kept link says how it was linked.
        edges = pd.DataFrame(
            {
                "row": np.concatenate([left, right]),
                "weight": np.concatenate([weight, weight]),
                "probability": np.concatenate([probability, probability]),
                "method": np.concatenate([method_of, method_of]),
            }
        ).sort_values(["row", "weight"], ascending=[True, False])
        best = edges.drop_duplicates("row")
        method = np.full(n, "unlinked", dtype=object)
        link_score = np.full(n, np.nan)
        method[best["row"].to_numpy()] = best["method"].to_numpy()
        link_score[best["row"].to_numpy()] = best["probability"].to_numpy()
        return pd.DataFrame({"cluster": labels, "link_method": method, "link_score": link_score})
