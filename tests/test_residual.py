"""The second pass: records the first pass left open, compared again on looser keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_engine import records

from connectors.schema import conform
from matching.blocking import candidate_pairs
from matching.engine import FellegiSunterLinker, LinkageSettings
from matching.features import SOURCES, build_features
from matching.residual import open_records, residual_pairs

DUKCAPIL, KPU, BPS = (SOURCES.index(s) for s in ("dukcapil", "kpu", "bps"))


def test_a_record_is_open_towards_the_sources_its_cluster_lacks():
    cluster = np.array([0, 0, 1, 2, 2, 2])
    source = np.array([DUKCAPIL, KPU, DUKCAPIL, DUKCAPIL, KPU, BPS])
    towards = open_records(cluster, source).towards
    assert towards[0].tolist() == [False, False, True]  # linked to a voter, no BPS row
    assert towards[1].tolist() == [False, False, True]
    assert towards[2].tolist() == [False, True, True]  # alone
    assert not towards[3:].any()  # all three sources in one cluster
    counts = open_records(cluster, source).counts(source)
    assert counts[DUKCAPIL].tolist() == [0, 1, 2]
    assert counts[KPU].tolist() == [0, 0, 1]


def test_open_records_pair_on_birth_date_or_a_word_prefix_across_sources_only():
    rows = [
        {"source": "dukcapil", "name": "KYNAN DOOLEY", "birth_date": None},  # 0 open
        {"source": "kpu", "name": "KYNZN DOOLQEY", "birth_date": None},  # 1 open: prefix
        {"source": "kpu", "name": "ANDI WIJAYA", "birth_date": "1990-01-02"},  # 2 open
        {"source": "dukcapil", "name": "RATNA SARI", "birth_date": "1990-01-02"},  # 3 open: date
        {"source": "dukcapil", "name": "KYNAN PUTRA", "birth_date": None},  # 4 closed
        {"source": "kpu", "name": "KYNAN DOOLEY", "birth_date": None},  # 5 closed
        {"source": "dukcapil", "name": "KYNAN SETIAWAN", "birth_date": None},  # 6 open
    ]
    features = build_features(records(rows))
    cluster = np.array([0, 1, 2, 3, 4, 4, 6])  # records 4 and 5 are already one person
    left, right, report = residual_pairs(features, open_records(cluster, features.source))
    # 0 and 6 share KYN but one source; 4 and 5 are not open towards each other's source.
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 1), (1, 6), (2, 3)]
    assert (report.pairs, report.capped_blocks) == (3, 0)
    # A key shared by more open pairs than allowed is skipped and reported.
    _, _, capped = residual_pairs(features, open_records(cluster, features.source), 1)
    assert capped.capped_blocks == 1 and capped.capped_records == 3  # KYN: records 0, 1, 6


def _people(count: int, rng: np.random.Generator, first_id: int = 0) -> list[dict]:
    """Made-up people with rare names (random syllables) and birth dates."""
    syllables = ["ka", "ri", "mu", "to", "se", "na", "lo", "pe", "du", "wi", "ha", "bo"]
    people = []
    for i in range(count):
        words = [
            "".join(rng.choice(syllables, size=3)).upper() for _ in range(2)
        ]  # e.g. KARIMU TOSENA
        day = pd.Timestamp("1950-01-01") + pd.Timedelta(days=int(rng.integers(0, 20000)))
        people.append({"person": first_id + i, "name": " ".join(words), "birth_date": day})
    return people


def _garble(name: str) -> str:
    """Change the fourth letter of every word to Q: the name no longer sounds the same and
    shares no word, but each word still starts the same."""
    return " ".join(w[:3] + "Q" + w[4:] for w in name.split())


def _two_sources(
    strangers: int, garbled: int = 8, seed: int = 3, people: int = 300
) -> tuple[pd.DataFrame, list]:
    """A civil registry and a voter list of the same ``people`` (plus ``strangers`` people
    on each side that the other does not hold); the last ``garbled`` voters' names are
    garbled and their birth dates missing, so the first pass's keys cannot find them."""
    rng = np.random.default_rng(seed)
    shared = _people(people, rng)
    rows = [{"source": "dukcapil", **p} for p in shared]
    for k, person in enumerate(shared):
        voter = {"source": "kpu", **person}
        if k >= len(shared) - garbled:
            voter.update(name=_garble(person["name"]), birth_date=None)
        rows.append(voter)
    rows += [{"source": "dukcapil", **p} for p in _people(strangers, rng, 10 * people)]
    rows += [{"source": "kpu", **p} for p in _people(strangers, rng, 20 * people)]
    hard = [(k, len(shared) + k) for k in range(len(shared) - garbled, len(shared))]
    return records([{k: v for k, v in r.items() if k != "person"} for r in rows]), hard


def _unreached_by_the_first_pass(frame: pd.DataFrame, pairs: list) -> list:
    candidates = candidate_pairs(build_features(frame))
    compared = set(zip(candidates.left.tolist(), candidates.right.tolist(), strict=True))
    return [pair for pair in pairs if pair not in compared]


@pytest.mark.parametrize("second_pass", [True, False])
def test_garbled_voters_are_found_when_the_sources_hold_the_same_people(second_pass):
    frame, hard = _two_sources(strangers=0)
    unreached = _unreached_by_the_first_pass(frame, hard)
    assert len(unreached) >= len(hard) // 2  # the case this test is about
    settings = LinkageSettings(second_pass=second_pass)
    cluster = FellegiSunterLinker(settings).link(frame).clusters["cluster"].to_numpy()
    found = sum(cluster[a] == cluster[b] for a, b in unreached)
    assert found == (len(unreached) if second_pass else 0)


def test_garbled_voters_stay_apart_when_most_open_records_have_no_counterpart():
    """The same garbled pairs, among 300 open records on each side that have no counterpart:
    the share of open records with one is estimated low, and the modest evidence of a
    garbled name alone does not make a link."""
    frame, hard = _two_sources(strangers=300)
    unreached = _unreached_by_the_first_pass(frame, hard)
    assert len(unreached) >= len(hard) // 2
    result = FellegiSunterLinker().link(frame)
    cluster = result.clusters["cluster"].to_numpy()
    assert all(cluster[a] != cluster[b] for a, b in unreached)
    assert result.open_counterpart_share[DUKCAPIL, KPU] < 0.2


def test_a_known_share_restated_for_the_open_records():
    from matching.residual import _open_known_share

    source = np.array([DUKCAPIL] * 10 + [KPU] * 10)
    cluster = np.r_[np.arange(10), np.arange(10)]  # pairs 0-10, 1-11, ... linked
    cluster[8:10] = [100, 101]  # two registry records left open
    cluster[18:20] = [102, 103]  # and two voters
    known = np.full((3, 3), np.nan)
    known[DUKCAPIL, KPU] = 1.0  # every registry record has a voter record
    known[KPU, DUKCAPIL] = 0.9  # one voter in ten has none: of two open voters, one does
    share = _open_known_share(known, source, open_records(cluster, source).counts(source))
    assert share[DUKCAPIL, KPU] == 1.0
    assert share[KPU, DUKCAPIL] == 0.5
    assert np.isnan(share[DUKCAPIL, BPS])


def test_coverage_must_be_a_share_between_two_sources():
    with pytest.raises(ValueError, match="not a share"):
        LinkageSettings(coverage=(("kpu", "dukcapil", 1.5),)).known_share()
    with pytest.raises(ValueError, match="not a share"):
        LinkageSettings(coverage=(("kpu", "kpu", 1.0),)).known_share()


def test_told_that_the_sources_hold_the_same_people_a_replaced_name_still_links():
    """Voters whose names were replaced altogether: 30 without a birth date (nothing links
    them) and one with it. Estimated, the share of open records with a counterpart is low
    (most of them show none), and the birth date alone does not outweigh the name; told
    that every voter has a registry record and the other way round, the one open pair that
    shares anything is taken for what it is. (5,000 people, so that sharing a birth date is
    rare enough to be evidence at all.)"""
    frame, _ = _two_sources(strangers=0, garbled=0, people=5000)
    last = len(frame) - 1
    for k, voter in enumerate(range(last - 30, last + 1)):
        # Names that share nothing with anyone's: ZULKIFLI and a made-up word per voter.
        letters = "BCDFGHJKLMNPRSTVWZ"
        word = letters[k % 18] + "O" + letters[k // 18] + "AR"
        frame.loc[voter, ["name_norm", "name_raw"]] = f"ZULKIFLI {word}"
        if voter != last:
            frame.loc[voter, "birth_date"] = pd.NaT
    frame = conform(frame)
    registry = 4999  # the last voter's registry record
    told = (("dukcapil", "kpu", 1.0), ("kpu", "dukcapil", 1.0))
    for coverage, linked in (((), False), (told, True)):
        result = FellegiSunterLinker(LinkageSettings(coverage=coverage)).link(frame)
        cluster = result.clusters["cluster"].to_numpy()
        assert bool(cluster[registry] == cluster[last]) is linked
        # The 30 without a birth date stay apart either way (30 more residents).
        assert len(np.unique(cluster)) == 5000 + 30 + (not linked)
