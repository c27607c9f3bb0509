"""The probabilistic linker: features -> blocking -> comparisons -> Fellegi-Sunter -> clusters,
then a second pass over the records left without a counterpart (``matching.residual``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from matching.blocking import DEFAULT_MAX_BLOCK, RULES, RuleReport, candidate_pairs
from matching.clustering import among, best_links, constrained_components, pair_keys
from matching.comparisons import (
    COMPARISONS,
    NULL,
    BirthLevel,
    FamilyLevel,
    NameLevel,
    NikLevel,
    PlaceLevel,
    SexLevel,
    compare,
    shared_word_frequency,
)
from matching.competition import competing_probability
from matching.features import SOURCES, Features, build_features
from matching.fellegi_sunter import (
    FIELD_INDEX,
    Model,
    Scores,
    estimate_prior,
    estimate_u,
    refine_prior,
    score,
    train_m,
)
from matching.residual import open_records, residual_pairs
from matching.results import LinkResult

_RULE_BIT = {rule.name: 1 << i for i, rule in enumerate(RULES)}
#: The rule bit of the pairs the second pass found (``matching.residual``).
SECOND_PASS_BIT = 1 << len(RULES)


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


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


def _cannot_link(source: np.ndarray, pairs: ScoredPairs) -> np.ndarray:
    """Pairs that may not be linked whatever their score.

    * Two rows of one source that carry different usable NIKs are two registrations. They
      are one person (a double registration) only if their names agree closely: family
      members share a family card, a desa and, for twins, a birth date, and twins' names
      often sound alike (HASAN and HUSIN), which together can outweigh everything else.
    * Two rows whose NIKs differ and whose birth dates differ disagree on both things that
      set one person apart from a namesake in the same family (a father and the son named
      after him share a name, a family card and a desa).
    * One NIK on two rows whose names have nothing in common and who live in different
      desa is one NIK used by two people (docs/domain.md), reported as a NIK conflict. In one
      desa the same NIK with a garbled name (SITI / SIYI, YOSEF PRAYITNA / YOESF P) is
      one person written badly.
    """
    nik = pairs.levels[:, FIELD_INDEX["nik"]]
    name = pairs.levels[:, FIELD_INDEX["name"]]
    birth = pairs.levels[:, FIELD_INDEX["birth_date"]]
    place = pairs.levels[:, FIELD_INDEX["place"]]
    same_source = source[pairs.left] == source[pairs.right]
    different_niks = (nik != NULL) & (nik < NikLevel.EXACT)
    return (
        (same_source & different_niks & (name < NameLevel.SIMILAR_92))
        | ((nik == NikLevel.ELSE) & (birth == BirthLevel.ELSE))
        | ((nik == NikLevel.EXACT) & (name == NameLevel.ELSE) & (place < PlaceLevel.SAME_DESA))
    )


def _double_registration(source: np.ndarray, pairs: ScoredPairs) -> np.ndarray:
    """Two civil-registry rows of one person registered twice: the same birth date and sex,
    the same mother, and names that agree (>= 92), or at least resemble each other (>= 70)
    when the two rows are on different family cards.

    A second registration has another NIK, family card and often kecamatan, so the model
    alone scores it near the review band; the mother's name is what tells it from a
    stranger of the same name born the same day, and a second registration is often made
    under a variant of the name. Twins share the family card, so on one card the names
    must agree closely (HASAN and HUSIN stay two people). The trade-off: adult twins on
    separate cards with resembling names would be joined.
    """
    registry = SOURCES.index("dukcapil")
    both = (source[pairs.left] == registry) & (source[pairs.right] == registry)
    levels = pairs.levels
    name = levels[:, FIELD_INDEX["name"]]
    family = levels[:, FIELD_INDEX["family"]]
    return (
        both
        & (levels[:, FIELD_INDEX["birth_date"]] == BirthLevel.EXACT)
        & (levels[:, FIELD_INDEX["sex"]] == SexLevel.SAME)
        & (
            ((name >= NameLevel.SIMILAR_92) & (family >= FamilyLevel.SAME_MOTHER))
            | ((name >= NameLevel.SIMILAR_70) & (family == FamilyLevel.SAME_MOTHER))
        )
    )


def explain(contributions: np.ndarray) -> list[str]:
    """Each pair's field weights as text, strongest first: ``name +12.9; nik -7.6``."""
    names = [c.name for c in COMPARISONS]
    texts = []
    for row in contributions:
        order = np.argsort(-np.abs(row))
        texts.append("; ".join(f"{names[i]} {row[i]:+.1f}" for i in order if row[i] != 0))
    return texts


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


def _score(
    features: Features, model: Model, left: np.ndarray, right: np.ndarray, levels: np.ndarray
) -> Scores:
    """Fellegi-Sunter scores of the pairs, with the name's and the shared word's rarity."""
    # The shared word's frequency matters only at the "one word" name level.
    words = np.ones(len(left))
    one_word = np.flatnonzero(levels[:, FIELD_INDEX["name"]] == NameLevel.ONE_WORD)
    words[one_word] = shared_word_frequency(features, left[one_word], right[one_word])
    chance = np.maximum(features.name_chance[left], features.name_chance[right])
    return score(model, levels, chance, words)


def _open_known_share(known: np.ndarray, source: np.ndarray, opened: np.ndarray) -> np.ndarray:
    """A known share of records with a counterpart, restated for the open records (``opened``
    counts them per pair of sources): of a source's records with a counterpart, those
    already linked to one are not open."""
    sizes = np.bincount(source.astype(np.int64), minlength=len(SOURCES)).astype(float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (known * sizes - (sizes - opened)) / opened
    return np.where(np.isnan(known), np.nan, np.clip(np.nan_to_num(share), 0, 1))


def _second_pass(
    features: Features,
    model: Model,
    pairs: ScoredPairs,
    clusters: pd.DataFrame,
    known_share: np.ndarray,
) -> tuple[ScoredPairs, RuleReport, np.ndarray]:
    """The first pass's pairs with the second pass's added (``matching.residual``): the
    blocking report of the new pairs and the share of open records with a counterpart.

    The merged pairs are no longer in pair-key order: the second pass's follow the first's.
    """
    source = features.source
    open_ = open_records(clusters["cluster"].to_numpy(), source)
    left, right, report = residual_pairs(features, open_)
    # The first pass's pairs are in pair-key order, as candidate pairs are.
    new = ~among(pair_keys(left, right), pair_keys(pairs.left, pairs.right))
    left, right = left[new], right[new]
    report.pairs = len(left)  # those the first pass had not compared
    levels = compare(features, left, right)
    scores = _score(features, model, left, right, levels)
    # The first pass's pairs between records open towards each other compete as well.
    old = np.flatnonzero(
        open_.towards[pairs.left, source[pairs.right]]
        & open_.towards[pairs.right, source[pairs.left]]
    )
    log_lr = np.concatenate(
        [
            pairs.contributions[old].sum(axis=1, dtype=np.float64),
            scores.contributions.sum(axis=1, dtype=np.float64),
        ]
    )
    opened = open_.counts(source)
    competing, share = competing_probability(
        log_lr,
        np.concatenate([pairs.left[old], left]),
        np.concatenate([pairs.right[old], right]),
        source,
        open_records=opened,
        known_share=_open_known_share(known_share, source, opened),
    )
    probability = pairs.probability.copy()
    probability[old] = np.maximum(probability[old], competing[: len(old)])
    merged = ScoredPairs(
        np.concatenate([pairs.left, left]),
        np.concatenate([pairs.right, right]),
        np.concatenate([pairs.levels, levels]),
        np.concatenate([pairs.weight, scores.weight]),
        np.concatenate([probability, np.maximum(scores.probability, competing[len(old) :])]),
        np.concatenate([pairs.contributions, scores.contributions]),
        np.concatenate([pairs.rules, np.full(len(left), SECOND_PASS_BIT, dtype=np.uint16)]),
    )
    return merged, report, share


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
        m = train_m(levels, u, sessions, seed=s.seed, anchors=anchors)
        clock.lap("em")
        first = Model(m, u, prior)
        scores = _score(features, first, candidates.left, candidates.right, levels)
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
            pairs, report, open_share = _second_pass(features, model, pairs, clusters, known)
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
            decided=decided,
        )  # fmt: skip

    def _cluster(
        self, n: int, source: np.ndarray, pairs: ScoredPairs, decisions: pd.DataFrame | None
    ) -> pd.DataFrame:
        by_model = (pairs.probability >= self.settings.match_probability) & ~_cannot_link(
            source, pairs
        )
        # Double registrations are joined by their own rule, whatever the model's probability
        # (their NIKs and family cards differ): their links say so (link_method).
        by_rule = _double_registration(source, pairs) & ~by_model
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
