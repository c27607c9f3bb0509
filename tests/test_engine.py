"""The probabilistic linker: levels, blocking, clustering, accuracy on generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from connectors.agencies import standardise_folder
from connectors.schema import conform
from matching.blocking import candidate_pairs
from matching.clustering import best_links
from matching.comparisons import COMPARISONS, NULL, NameLevel, compare
from matching.engine import FellegiSunterLinker
from matching.evaluation import accuracy
from matching.features import build_features
from matching.names import fold_spelling
from matching.phonetic import phonetic_words

FIELD = {c.name: i for i, c in enumerate(COMPARISONS)}


def records(rows: list[dict]) -> pd.DataFrame:
    from matching.names import normalise_names

    frame = pd.DataFrame(rows)
    names = normalise_names(frame["name"])
    frame = frame.drop(columns="name").assign(
        name_norm=names["name_norm"], source_file="f.csv", snapshot_date=pd.Timestamp("2026-11-01")
    )
    frame["source_row"] = range(1, len(frame) + 1)
    frame["birth_date"] = pd.to_datetime(frame.get("birth_date"))
    return conform(frame)


def levels_of(rows: list[dict]) -> np.ndarray:
    features = build_features(records(rows))
    return compare(features, np.array([0]), np.array([1]))[0]


BASE = {
    "source": "dukcapil", "name": "BUDI SANTOSO", "sex": "M", "birth_date": "1985-12-31",
    "nik": "6309013112850001", "kec_code": "63.09.01", "desa_code": "63.09.01.2001",
}  # fmt: skip


@pytest.mark.parametrize(
    ("other_nik", "level"),
    [
        ("6309013112850001", 2),  # exact
        ("6309013112860001", 1),  # one digit in the birth-date part: a typo
        ("6309011312850001", 1),  # transposition in the birth-date part
        ("6309013112850002", 0),  # serial differs: what two people born that day look like
        ("6309023112850001", 0),  # region differs by one digit: also not evidence
        (None, NULL),
    ],
)
def test_nik_levels(other_nik, level):
    got = levels_of([BASE, {**BASE, "source": "kpu", "nik": other_nik}])
    assert got[FIELD["nik"]] == level


@pytest.mark.parametrize(
    ("other", "level"),
    [
        ("1985-12-31", 5),
        ("1985-31-12", None),  # not a date: handled by the parser, not here
        ("1986-12-31", 3),  # year off by one
        ("1958-12-31", 2),  # two digits swapped
        ("1985-10-31", 2),  # one digit
        ("1985-12-28", 1),  # within a week
        ("1985-12-03", 0),  # two digits, not two neighbours swapped
        ("1970-01-01", 0),
        (None, NULL),
    ],
)
def test_birth_date_levels(other, level):
    if level is None:
        return
    got = levels_of([BASE, {**BASE, "source": "kpu", "birth_date": other}])
    assert got[FIELD["birth_date"]] == level


def test_day_month_swapped():
    got = levels_of(
        [
            {**BASE, "birth_date": "1985-04-07"},
            {**BASE, "source": "bps", "birth_date": "1985-07-04"},
        ]
    )
    assert got[FIELD["birth_date"]] == 4


@pytest.mark.parametrize(
    ("other", "level"),
    [
        ("BUDI SANTOSO", 5),
        ("SANTOSO BUDI", 5),  # order-free
        ("BOEDI SANTOSA", 3),  # old spelling, one vowel: folded and phonetic
        ("BUDI SANTOSO WIBOWO", 4),  # extra word
        ("BUDI KURNIAWAN", 1),  # only the first word
        ("AGUS SANTOSA", 1),  # a last word misspelt (Jaro-Winkler >= 0.9), nothing else
        ("AGUS SALIM", 0),
        ("...", NULL),
    ],
)
def test_name_levels(other, level):
    got = levels_of([BASE, {**BASE, "source": "kpu", "name": other}])
    assert got[FIELD["name"]] == level


def test_chance_of_a_name_beyond_the_pair_and_its_words():
    """A name only the pair holds is as rare as its words make it, not one in the number
    of records; a name many hold keeps its own count (less the pair)."""
    common = [{**BASE, "name": "AHMAD FAUZI", "source": s} for s in ("dukcapil", "kpu") * 5]
    others = ("RAHAYU", "FATIMAH", "WULANDARI", "LESTARI", "HANDAYANI", "PURNAMA")
    rows = [
        {**BASE, "name": "YOHANA SIHOMBING"},
        {**BASE, "name": "YOHANA SIHOMBING", "source": "kpu"},
        *common,
        *[{**BASE, "name": f"SRI {w}"} for w in others],
    ]
    features = build_features(records(rows))
    named = len(rows)
    assert features.name_chance[0] == pytest.approx((2 / named) ** 2)  # each word: 2 records
    # AHMAD FAUZI: ten records, whose words are held by no others: the count rules.
    assert features.name_chance[2] == pytest.approx((10 - 2) / named)
    assert features.name_frequency[0] == pytest.approx(2 / named)


def test_a_near_agreement_weighs_more_for_a_rare_name_than_for_a_common_one():
    from matching.fellegi_sunter import Model, score

    flat = [np.full(len(c.levels), 1.0 / len(c.levels)) for c in COMPARISONS]
    name_u = np.array([0.9, 0.05, 0.03, 0.01, 0.005, 1e-4])  # average u of the exact level
    model = Model(m=flat, u=[name_u, *flat[1:]], prior=1e-3)
    levels = np.full((3, len(COMPARISONS)), NULL, dtype=np.int8)
    levels[:, FIELD["name"]] = 4  # ">= 92" for all three
    chance = np.array([1e-6, 1e-4, 1e-2])  # of the more common name: rare, average, common
    weights = score(model, levels, chance).contributions[:, FIELD["name"]]
    base = np.log2(flat[0][4] / name_u[4])
    assert weights[1] == pytest.approx(base, abs=1e-4)  # an average name: the level's weight
    assert weights[0] > weights[1] + 6 > weights[2] + 12  # log2(100) apart each


def test_phonetic_key_joins_old_and_new_spellings():
    keys = phonetic_words(
        fold_spelling(pd.Series(["DJOKO SOESILO", "JOKO SUSILO", "JOKO SUSANTO"]))
    )
    assert keys[0] == keys[1] != keys[2]


def test_blocking_finds_a_nik_typo_and_caps_huge_blocks():
    common = [{**BASE, "nik": f"63090131128{i:05d}", "name": "SITI AMINAH", "sex": "F"}
              for i in range(30)]  # fmt: skip
    rows = [
        BASE,
        {
            **BASE,
            "source": "kpu",
            "nik": "6309013112860001",
            "birth_date": None,
            "name": "BUDI SANTOSA",
        },  # fmt: skip
        *common,
    ]
    features = build_features(records(rows))
    candidates = candidate_pairs(features, max_block=10)
    pairs = set(zip(candidates.left.tolist(), candidates.right.tolist(), strict=True))
    assert (0, 1) in pairs
    report = {r.rule: r for r in candidates.reports}
    # Thirty SITI AMINAHs born the same day: one block per name word, both over the cap.
    assert report["birth_date_sex_prefix"].capped_blocks == 2
    assert report["birth_date_sex_prefix"].capped_records >= 30


def test_clustering_keeps_duplicates_and_refuses_twins():
    source = np.array([0, 0, 1, 1])  # rows 0,1 registry; 2,3 voter list
    # Duplicated voter rows 2 and 3 of registry row 0 (and linked to each other): all kept.
    left, right = np.array([0, 0, 2]), np.array([2, 3, 3])
    keep = best_links(left, right, np.array([30.0, 28.0, 35.0]), source)
    assert keep.tolist() == [True, True, True]
    # Twins 0 and 1 both claim voter row 2; they are not linked to each other: the weaker
    # claim is dropped.
    left, right = np.array([0, 1]), np.array([2, 2])
    keep = best_links(left, right, np.array([30.0, 12.0]), source)
    assert keep.tolist() == [True, False]


def test_clustering_keeps_every_accepted_pair_within_one_source():
    # Three copies of one person in one list: 0 and 2 both resemble 1 best but were not
    # accepted as a pair themselves (each copy garbled differently); both links stay.
    source = np.array([0, 0, 0])
    left, right = np.array([0, 1]), np.array([1, 2])
    keep = best_links(left, right, np.array([30.0, 12.0]), source)
    assert keep.tolist() == [True, True]


@pytest.fixture(scope="module")
def region(tmp_path_factory, generated):
    base = tmp_path_factory.mktemp("engine")
    generated(base / "landing", region="6309", people=6000, seed=21)
    recs = standardise_folder(base / "landing")
    truth = pd.read_csv(base / "truth.csv")
    return recs, truth


@pytest.fixture(scope="module")
def linked(region):
    return FellegiSunterLinker().link(region[0])


def test_accuracy_on_generated_region(region, linked):
    recs, truth = region
    result = linked
    labelled = (
        recs[["source_file", "source_row"]]
        .assign(resident_id=result.clusters["cluster"].to_numpy())
        .merge(truth, left_on=["source_file", "source_row"], right_on=["file", "row"])
    )
    acc = accuracy(labelled)
    assert acc.precision >= 0.995, acc
    assert acc.recall >= 0.995, acc
    assert acc.exact_share >= 0.99, acc


def test_every_score_is_explained_by_its_fields(linked):
    result = linked
    pairs = result.pairs
    prior = np.log2(result.model.prior / (1 - result.model.prior))
    np.testing.assert_allclose(
        pairs.contributions.sum(axis=1) + prior, pairs.weight, rtol=1e-4, atol=1e-3
    )
    table = pairs.frame(pairs.probability > 0.5)
    assert {f"w_{c.name}" for c in COMPARISONS} <= set(table.columns)
    # Name frequency matters: at the exact-name level, common names weigh less.
    exact = pairs.levels[:, FIELD["name"]] == NameLevel.EXACT
    weights = pairs.contributions[exact, FIELD["name"]]
    assert weights.max() - weights.min() > 3


def test_same_input_same_clusters(region, linked):
    again = FellegiSunterLinker().link(region[0]).clusters
    pd.testing.assert_frame_equal(linked.clusters, again)


CASES = [
    # (case, source, name, nik, birth, sex, extra)
    ("conflict", "dukcapil", "BUDI SANTOSO WIRYO", "6309993112850001", "1985-12-31", "M", {}),
    ("conflict", "kpu", "RATNA SARI DEWI", "6309993112850001", "1962-03-08", "F", {}),
    ("typo", "dukcapil", "MUHAMMAD RIZKY PRATAMA", "6309991203880001", "1988-03-12", "M", {}),
    ("typo", "kpu", "M. RIZKI PRATAMA", "6309991203980001", "1988-03-12", "M", {}),
    ("placeholder", "dukcapil", "SITI AMINAH ZULAIKHA", "6309994405900002", "1990-05-04", "F", {}),
    ("placeholder", "bps", "SITI AMINAH ZULAIKHA", None, None, "F", {"age_reported": 36}),
    ("twins", "dukcapil", "HASAN BASRI", "6309990707070001", "2007-07-07", "M",
     {"kk": "6309990101150009", "mother_name": "SARINAH"}),
    ("twins", "dukcapil", "HUSIN BASRI", "6309990707070002", "2007-07-07", "M",
     {"kk": "6309990101150009", "mother_name": "SARINAH"}),
    ("twins", "kpu", "HASAN BASRI", "6309990707070001", "2007-07-07", "M",
     {"kk": "6309990101150009"}),
    ("double", "dukcapil", "YOHANES KRISTIAN LAUDA", "6309991506770001", "1977-06-15", "M",
     {"kk": "6309990101150021", "mother_name": "MARIA GORETI"}),
    ("double", "dukcapil", "YOHANES KRISTIAN LAUDA", "6309981506770003", "1977-06-15", "M",
     {"kk": "6309980505180004", "mother_name": "MARIA GORETI", "kec_code": "63.09.02",
      "desa_code": "63.09.02.2001"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def with_cases(region):
    recs, _ = region
    rows = []
    for _case, source, name, nik, birth, sex, extra in CASES:
        rows.append({"source": source, "name": name, "nik": nik, "birth_date": birth,
                     "sex": sex, "kec_code": "63.09.01", "desa_code": "63.09.01.2001",
                     "kab_code": "63.09", **extra})  # fmt: skip
    cases = records(rows).assign(source_file="cases.csv", source_row=range(1, len(rows) + 1))
    combined = pd.concat([recs, cases], ignore_index=True)
    return FellegiSunterLinker().link(combined).clusters.iloc[len(recs) :].reset_index(drop=True)


def _row(with_cases, case, index):
    positions = [i for i, c in enumerate(CASES) if c[0] == case]
    return with_cases.iloc[positions[index]]


def _cluster(with_cases, case, index):
    return _row(with_cases, case, index)["cluster"]


def test_one_nik_two_different_people_is_not_a_link(with_cases):
    assert _cluster(with_cases, "conflict", 0) != _cluster(with_cases, "conflict", 1)


def test_nik_typo_in_the_date_part_still_links(with_cases):
    assert _cluster(with_cases, "typo", 0) == _cluster(with_cases, "typo", 1)


def test_placeholder_nik_without_birth_date_links_by_name_and_age(with_cases):
    assert _cluster(with_cases, "placeholder", 0) == _cluster(with_cases, "placeholder", 1)


def test_twins_stay_two_people_and_the_voter_joins_the_right_one(with_cases):
    hasan, husin, voter = (_cluster(with_cases, "twins", i) for i in range(3))
    assert hasan != husin
    assert voter == hasan


def test_cannot_link_splits_at_the_weakest_link():
    from matching.clustering import constrained_components

    left, right, weight = np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([10.0, 5.0, 9.0])
    labels = constrained_components(5, left, right, weight, np.array([0]), np.array([2]))
    assert labels[0] == labels[1] != labels[2]
    assert labels[3] == labels[4] and len(set(labels.tolist())) == 3


def test_a_person_registered_twice_is_one_resident(with_cases):
    assert _cluster(with_cases, "double", 0) == _cluster(with_cases, "double", 1)


def test_a_double_registration_joined_by_its_rule_says_so():
    """Two registry rows of one person registered twice (another NIK; the same birth date,
    sex and mother; agreeing names) are joined by the double-registration rule whatever the
    model's probability: such a link is recorded as ``double_registration`` with the model's
    (low) probability, not as ``probabilistic``; a pair the model itself scored above the
    match level stays ``probabilistic``."""
    from matching.features import SOURCES
    from matching.fellegi_sunter import FIELD_INDEX
    from matching.scored_pairs import ScoredPairs

    levels = np.full((2, len(COMPARISONS)), NULL, dtype=np.int8)
    for field, level in (("name", 4), ("birth_date", 5), ("sex", 1), ("nik", 0),
                         ("family", 1), ("place", 0)):  # fmt: skip
        levels[:, FIELD_INDEX[field]] = level
    levels[1, FIELD_INDEX["family"]] = 0  # not the same mother: no rule for it
    pairs = ScoredPairs(
        left=np.array([0, 2]), right=np.array([1, 3]), levels=levels,
        weight=np.array([-1.0, 9.0]), probability=np.array([0.3, 0.99]),
        contributions=np.zeros((2, len(COMPARISONS))), rules=np.zeros(2, dtype=np.uint16),
    )  # fmt: skip
    source = np.full(4, SOURCES.index("dukcapil"))
    clusters = FellegiSunterLinker()._cluster(4, source, pairs, None)
    assert clusters["cluster"][0] == clusters["cluster"][1] != clusters["cluster"][2]
    assert clusters["cluster"][2] == clusters["cluster"][3]
    assert list(clusters["link_method"]) == ["double_registration"] * 2 + ["probabilistic"] * 2
    assert list(clusters["link_score"]) == pytest.approx([0.3, 0.3, 0.99, 0.99])


def test_the_prior_is_refined_to_the_share_of_matches_among_all_pairs():
    from matching.fellegi_sunter import refine_prior

    # 1,000 records: 500 clear matches and 5,000 compared non-matches among 499,500 pairs;
    # the strict rule's estimate was ten times too low.
    rng = np.random.default_rng(5)
    log_lr = np.concatenate([rng.normal(25, 2, 500), rng.normal(-8, 3, 5000)])
    refined = refine_prior(1e-4, log_lr, 1000)
    assert refined == pytest.approx(500 / 499_500, rel=0.02)
    assert refine_prior(refined, log_lr, 1000) == pytest.approx(refined, rel=1e-3)  # stable
