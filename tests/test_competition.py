"""Competing candidates (matching/competition.py), the rarity of a shared word, and the
blocking rules for rare names and NIK typos."""

from __future__ import annotations

import numpy as np
from test_engine import BASE, FIELD, records

from matching.blocking import candidate_pairs
from matching.comparisons import COMPARISONS, NameLevel, compare, shared_word_frequency
from matching.competition import competing_probability
from matching.features import build_features
from matching.fellegi_sunter import Model, score

# Five records of source 0 and five of source 1.
SOURCE = np.array([0] * 5 + [1] * 5, dtype=np.int8)


def test_an_uncontested_pair_is_surer_than_look_alikes():
    # Records 0 and 5 face each other alone; 1 and 2 both look like 6 and like 7.
    left = np.array([0, 1, 1, 2, 2])
    right = np.array([5, 6, 7, 6, 7])
    weight = np.full(5, 8.0)
    probability, share = competing_probability(weight, left, right, SOURCE)
    assert probability[0] > 0.95
    assert (probability[1:] < 0.6).all()  # each look-alike gets about half
    np.testing.assert_allclose(probability[1:], probability[1])
    assert share.shape == (3, 3) and 0 < share[0, 1] < 1


def test_pairs_within_a_source_and_pairs_against_a_match_get_nothing():
    left, right = np.array([0, 2]), np.array([1, 8])
    probability, _ = competing_probability(np.array([20.0, -5.0]), left, right, SOURCE)
    assert probability.tolist() == [0.0, 0.0]


def test_the_order_of_pairs_does_not_matter():
    rng = np.random.default_rng(3)
    source = rng.integers(0, 3, 300).astype(np.int8)
    left, right = rng.integers(0, 300, 2000), rng.integers(0, 300, 2000)
    keep = left != right
    left, right = left[keep], right[keep]
    weight = rng.normal(0, 8, len(left))
    first, _ = competing_probability(weight, left, right, source)
    order = rng.permutation(len(left))
    again, _ = competing_probability(weight[order], right[order], left[order], source)
    np.testing.assert_allclose(first[order], again, atol=1e-12)


def test_sharing_a_rare_word_weighs_more_than_sharing_a_common_one():
    common = [{**BASE, "name": f"SITI W{chr(65 + i)}{chr(65 + i)}", "nik": None} for i in range(8)]
    rows = [
        {**BASE, "name": "SITI AMINAH", "nik": None},
        {**BASE, "source": "kpu", "name": "SITI RAHAYU", "nik": None},
        {**BASE, "name": "WIRYO AMINAH", "nik": None},
        {**BASE, "source": "kpu", "name": "WIRYO SUKARDI", "nik": None},
        *common,
    ]
    features = build_features(records(rows))
    left, right = np.array([0, 2]), np.array([1, 3])
    levels = compare(features, left, right)
    assert (levels[:, FIELD["name"]] == NameLevel.ONE_WORD).all()  # both pairs
    words = shared_word_frequency(features, left, right)
    assert words[0] > words[1]  # SITI is held by ten records, WIRYO by two
    model = Model(
        m=[np.array([0.01, 0.1, 0.1, 0.1, 0.2, 0.49])]
        + [np.full(len(c.levels), 1.0 / len(c.levels)) for c in COMPARISONS[1:]],
        u=[np.array([0.9, 0.05, 0.03, 0.01, 0.005, 0.005])]
        + [np.full(len(c.levels), 1.0 / len(c.levels)) for c in COMPARISONS[1:]],
        prior=1e-3,
    )
    scores = score(model, levels, np.zeros(2), words)
    assert scores.contributions[1, FIELD["name"]] > scores.contributions[0, FIELD["name"]] + 1


def test_a_rare_name_is_compared_whatever_its_birth_date_and_a_common_one_is_not():
    rare = [
        {**BASE, "name": "YOHANES KORNELIS", "birth_date": "1960-01-01", "nik": None},
        {**BASE, "source": "kpu", "name": "YOHANES KORNELIS", "birth_date": "1971-06-30",
         "nik": None},
    ]  # fmt: skip
    common = [
        {**BASE, "source": "bps", "name": "SITI AMINAH", "nik": None,
         "birth_date": f"19{40 + 2 * i}-{1 + i:02d}-{1 + i:02d}", "kec_code": f"63.09.{i:02d}"}
        for i in range(12)
    ]  # fmt: skip
    candidates = candidate_pairs(build_features(records([*rare, *common])))
    pairs = set(zip(candidates.left.tolist(), candidates.right.tolist(), strict=True))
    assert (0, 1) in pairs
    assert not any(left >= 2 and right >= 2 for left, right in pairs)
    report = {r.rule: r for r in candidates.reports}
    assert report["rare_name_sound"].capped_records == 12


def test_a_nik_typo_in_the_date_part_is_compared_only_where_a_birth_date_is_missing():
    rows = [
        {**BASE, "birth_date": "1985-12-31"},
        {**BASE, "source": "bps", "nik": "6309013012850001", "birth_date": None},
        {**BASE, "source": "kpu", "nik": "6309013012850001", "birth_date": "1985-12-30",
         "name": "BUDI SANTOSO", "kec_code": "63.09.02"},
    ]  # fmt: skip
    candidates = candidate_pairs(build_features(records(rows)))
    bit = 1 << [r.rule for r in candidates.reports].index("nik_region_serial")
    by_rule = {
        (a, b)
        for a, b, rules in zip(candidates.left, candidates.right, candidates.rules, strict=True)
        if rules & bit
    }
    assert (0, 1) in by_rule  # the BPS row has no birth date
    assert (0, 2) not in by_rule  # both have one: the birth-date rules' business


def test_a_known_share_is_used_instead_of_the_estimate():
    # One uncontested pair with modest evidence among five records a side.
    left, right, weight = np.array([0]), np.array([5]), np.array([2.0])
    estimated, share = competing_probability(weight, left, right, SOURCE)
    known = np.full((3, 3), np.nan)
    known[0, 1] = known[1, 0] = 1.0
    told, told_share = competing_probability(weight, left, right, SOURCE, known_share=known)
    assert estimated[0] < 0.95 < told[0]
    assert told_share[0, 1] > 0.999 and share[0, 1] < 0.5
    # Look-alikes still share the probability: the known share says a counterpart exists,
    # not which one it is (records 0 and 1 both look like 5 and like 6).
    left, right = np.array([0, 0, 1, 1]), np.array([5, 6, 5, 6])
    told, _ = competing_probability(np.full(4, 2.0), left, right, SOURCE, known_share=known)
    np.testing.assert_allclose(told, 0.5, atol=1e-3)
