"""The statistics of the clerical quality sample (matching/quality.py): allocation, bands,
the sampling frame, and the coverage of the precision and recall intervals, simulated on
populations shaped like a region's strata."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from matching.quality import (
    NOT_COMPARED,
    UNLINKED_RECORD,
    allocate,
    band_of,
    build_frame,
    draw,
    estimate,
    stratified_recall,
    stratified_share,
    wilson,
)


def test_wilson_matches_the_textbook_values():
    # 8 of 10: the score interval is (0.490, 0.943).
    low, high = wilson(0.8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    # No failure in 20: the upper bound is exactly 1, the lower n / (n + z^2).
    low, high = wilson(1.0, 20)
    assert high == 1.0 and low == pytest.approx(20 / (20 + 1.96**2), abs=1e-3)
    assert wilson(0.0, 20)[0] == 0.0


def test_bands_use_the_threshold_and_say_when_a_pair_was_not_compared():
    p = np.array([0.0, 0.04, 0.05, 0.7, 0.95, 0.98, 0.99, 1.0, np.nan])
    assert list(band_of(p, 0.95)) == [
        "<0.05", "<0.05", "0.05-0.5", "0.5-threshold", "threshold-0.99", "threshold-0.99",
        ">=0.99", ">=0.99", NOT_COMPARED,
    ]  # fmt: skip


def test_allocation_gives_each_stratum_its_minimum_and_the_rest_by_neyman():
    population = np.array([1000, 10, 2, 50_000, 0])
    guess = np.array([0.99, 0.5, 0.5, 0.001, 0.5])
    n = allocate(population, guess, 200)
    assert n.sum() == 200 and (n <= population).all()
    assert list(n[[1, 2, 4]] >= [3, 2, 0]) == [True, True, True] and n[4] == 0
    # The large low-probability stratum, where misses hide, gets the most.
    assert n[3] == n.max()
    # Asked for more than there is: everything.
    assert list(allocate(np.array([3, 4]), np.array([0.5, 0.5]), 100)) == [3, 4]
    # Fewer items than strata: the largest strata first.
    assert list(allocate(np.array([5, 100, 50]), np.array([0.5, 0.5, 0.5]), 4)) == [0, 3, 1]


def test_a_stratum_labelled_in_full_is_known_exactly():
    share = stratified_share(np.array([10, 5]), np.array([10, 5]), np.array([9, 5]))
    assert share.estimate == pytest.approx(14 / 15) and share.low == share.high == share.estimate
    # Unlabelled strata are left out of the share.
    partial = stratified_share(np.array([10, 5]), np.array([10, 0]), np.array([9, 0]))
    assert partial.estimate == pytest.approx(0.9)


def test_no_error_found_is_not_a_certainty():
    """All 20 labels of a stratum of 5,000 agree: the interval still reaches below 1."""
    share = stratified_share(np.array([5000]), np.array([20]), np.array([20]))
    assert share.estimate == 1.0 and share.high == 1.0 and 0.75 < share.low < 0.9
    recall = stratified_recall(
        np.array([5000, 20_000]), np.array([20, 20]), np.array([20, 0]), np.array([True, False])
    )
    assert recall.estimate == 1.0 and recall.high == 1.0 and recall.low < 0.9


def test_estimate_per_source_pair_counts_unsure_and_unlabelled_strata():
    strata = pd.DataFrame(
        {
            "source_pair": ["dukcapil-kpu"] * 4 + ["kpu-bps"],
            "linked": [True, True, False, False, True],
            "population": [900, 50, 3000, 40, 10],
            "labelled": [30, 10, 30, 0, 0],
            "matches": [30, 8, 1, 0, 0],
            "unsure": [0, 2, 1, 0, 0],
        }
    )
    found = estimate(strata).set_index("source_pair")
    row = found.loc["dukcapil-kpu"]
    assert row["precision"] == pytest.approx((900 + 50 * 0.8) / 950)
    assert row["recall"] == pytest.approx(940 / (940 + 100))
    assert row["precision_low"] < row["precision"] < row["precision_high"]
    assert (row["labelled"], row["matches"], row["unsure"]) == (70, 39, 3)
    assert (row["strata"], row["strata_unlabelled"], row["linked_pairs"]) == (4, 1, 950)
    assert math.isnan(found.loc["kpu-bps", "precision"])
    assert list(found.index) == ["dukcapil-kpu", "kpu-bps"]


# -- coverage, simulated ------------------------------------------------------------------

#: Strata like a region's: linked >=0.99, threshold-0.99, 0.5-threshold, not compared; then
#: not linked <0.05, 0.05-0.5, 0.5-threshold, >=threshold, and unlinked records.
POPULATIONS = {
    "good linkage": (
        [5000, 300, 50, 40, 50_000, 500, 200, 30, 2000],
        [0.998, 0.97, 0.7, 0.85, 0.0005, 0.1, 0.4, 0.6, 0.05],
        [True] * 4 + [False] * 5,
    ),
    "weaker linkage": (
        [900, 100, 60, 3000, 400, 100, 500],
        [0.99, 0.9, 0.6, 0.002, 0.05, 0.3, 0.1],
        [True] * 3 + [False] * 4,
    ),
}


def _coverage(name: str, size: int, reps: int, seed: int) -> tuple[float, float]:
    N, p, linked = (np.array(v) for v in POPULATIONS[name])
    rng = np.random.default_rng(seed)
    matches = np.round(N * p).astype(int)
    true_precision = matches[linked].sum() / N[linked].sum()
    true_recall = matches[linked].sum() / matches.sum()
    # The allocation sees a guess, not the truth: the model's mean probability, off by half.
    n = allocate(N, np.clip(p * 1.5, 0, 1), size)
    covered_p = covered_r = 0
    for _ in range(reps):
        y = rng.hypergeometric(matches, N - matches, n)
        share = stratified_share(N[linked], n[linked], y[linked])
        recall = stratified_recall(N, n, y, linked)
        covered_p += share.low <= true_precision <= share.high
        covered_r += recall.low <= true_recall <= recall.high
    return covered_p / reps, covered_r / reps


@pytest.mark.parametrize("name", list(POPULATIONS))
@pytest.mark.parametrize("size", [150, 600])
def test_intervals_cover_the_truth_about_95_percent_of_the_time(name, size):
    """1,500 samples of each population: coverage at least 93% (95% less the simulation's
    own error) and at most 99.5% (an interval that is not needlessly wide)."""
    precision, recall = _coverage(name, size, reps=1500, seed=size)
    assert 0.93 <= precision <= 0.995, precision
    assert 0.93 <= recall <= 0.995, recall


# -- the frame -----------------------------------------------------------------------------


def test_frame_holds_scored_pairs_linked_pairs_and_records_without_counterpart():
    # Records: 0 dukcapil, 1 kpu, 2 bps (one resident), 3 dukcapil, 4 kpu (a resident each),
    # 5 bps alone.
    sources = np.array(["dukcapil", "kpu", "bps", "dukcapil", "kpu", "bps"], dtype=object)
    resident = np.array(["A", "A", "A", "B", "C", "D"], dtype=object)
    left = np.array([1, 0, 3, 3])  # kpu-dukcapil (given the other way round), twice
    right = np.array([0, 2, 4, 4])
    probability = np.array([0.999, 0.97, 0.3, 0.6])
    frame = build_frame(sources, resident, left, right, probability, 0.95)
    pairs = frame.pairs.set_index(["left", "right"])
    assert pairs.loc[(0, 1), "stratum"] == "dukcapil-kpu | linked | >=0.99"
    assert pairs.loc[(0, 2), "stratum"] == "dukcapil-bps | linked | threshold-0.99"
    # Scored twice: the higher probability stands.
    assert pairs.loc[(3, 4), "stratum"] == "dukcapil-kpu | not linked | 0.5-threshold"
    assert pairs.loc[(1, 2), "stratum"] == f"kpu-bps | linked | {NOT_COMPARED}"
    assert len(pairs) == 4
    unlinked = frame.records.groupby("source_pair")["record"].apply(sorted).to_dict()
    assert unlinked == {"dukcapil-kpu": [4], "dukcapil-bps": [5], "kpu-bps": [5]}
    strata = frame.strata.set_index("stratum")
    assert strata.loc[f"dukcapil-bps | {UNLINKED_RECORD}", "population"] == 1
    assert strata["population"].sum() == 4 + 3

    drawn = draw(frame, size=100, seed=1)
    assert len(drawn.pairs) == 4 and len(drawn.records) == 3
    assert (drawn.strata["inclusion"] == 1).all()
