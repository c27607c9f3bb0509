"""The reference linker: a Splink 5 (DuckDB) model over padu's canonical records.

Two profiles:

* ``registry`` uses the information padu's own linker has: folded name, birth date (or the
  age when there is none), sex, NIK, KK, kecamatan/desa codes and the mother's name. It
  deduplicates all sources as one table (``dedupe_only``), since the sources also hold
  within-source duplicates (double civil registrations, voters listed twice).
* ``names_dob`` uses the folded name and the birth date only (FEBRL). It deduplicates, or
  links the sources to one another when ``link_only`` is set (FEBRL4: A to B).

The model is trained without labels: ``probability_two_random_records_match`` from
deterministic rules with an assumed recall, u from random sampling, m by expectation
maximisation on two blocking rules (except the few parameters set by hand, each with its
reason below); then pairs are predicted and clustered at ``THRESHOLD_MATCH_PROBABILITY``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule

from matching.names import fold_spelling

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator
    from splink.internals.comparison_creator import ComparisonCreator

Profile = Literal["registry", "names_dob"]

#: Pairs at or above this match probability are the same person (connected components).
THRESHOLD_MATCH_PROBABILITY = 0.9
#: Random pairs sampled to estimate the u probabilities (non-match agreement rates).
U_MAX_PAIRS = 1e7
SEED = 1
#: u of the levels a random sample (almost) never sees: a random pair sharing a KK or a
#: mother's name *and* agreeing on the name. Splink's own fallback for unobserved levels;
#: set, so the weight does not depend on whether the sample happened to catch one.
UNSEEN_U = 1e-6
#: Cap on the blocked pairs each EM training run uses (Splink samples records to reach it).
EM_MAX_PAIRS = 2e6

# The derived columns the comparisons and blocking rules use, built once in DuckDB.
_PREPARE_SQL = """
CREATE OR REPLACE TABLE records AS
SELECT
    unique_id, source, name_fold, mother_fold, sex, nik, kk, kec_code, desa_code,
    CAST(birth_date AS DATE) AS birth_date,
    age,
    string_split(name_fold, ' ') AS name_tokens,
    string_split(name_fold, ' ')[1] AS name_first,
    string_split(name_fold, ' ')[-1] AS name_last
FROM frame
"""


@dataclass
class SplinkOutput:
    """``cluster`` aligned to the input records; ``pairs`` scored; seconds per phase
    (``count_pairs``, counting the scored pairs afterwards, is not part of the linkage)."""

    cluster: np.ndarray
    pairs: int
    phases: dict[str, float] = field(default_factory=dict)


def _name_comparison() -> cl.CustomComparison:
    """Folded full name, from exact to loosely similar.

    Agencies drop middle names, keep the first two words, abbreviate a word to its initial and
    make typos, so the token levels sit between the Jaro-Winkler ones.
    """
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_fold"),
            cll.ExactMatchLevel("name_fold", term_frequency_adjustments=True),
            cll.CustomLevel(
                "list_sort(name_tokens_l) = list_sort(name_tokens_r)",
                label_for_charts="Same words, another order",
            ),
            cll.JaroWinklerLevel("name_fold", 0.95),
            cll.ArraySubsetLevel("name_tokens").configure(
                label_for_charts="Words of one are a subset of the other's"
            ),
            cll.CustomLevel(
                "name_first_l = name_first_r AND name_last_l = name_last_r",
                label_for_charts="Same first and last word",
            ),
            cll.CustomLevel(
                "name_first_l = name_first_r AND left(name_last_l, 1) = left(name_last_r, 1) "
                "AND least(length(name_last_l), length(name_last_r)) = 1",
                label_for_charts="Same first word, last word abbreviated",
            ),
            cll.JaroWinklerLevel("name_fold", 0.88),
            cll.JaroWinklerLevel("name_fold", 0.7),
            cll.ElseLevel(),
        ],
    )


def _covered(words: str, by: str) -> str:
    """SQL: every word of the list ``words`` is close (Jaro-Winkler >= 0.9) to one of ``by``."""
    return (
        f"list_bool_and(list_transform({words}, lambda x: list_bool_or(list_transform({by}, "
        "lambda y: jaro_winkler_similarity(x, y) >= 0.9))))"
    )


def _words_comparison() -> cl.CustomComparison:
    """The words of the name in any order (``names_dob``).

    FEBRL's given name and surname arrive as one name here, and its duplicates swap them,
    drop one, and misspell both, so words are matched to words wherever they stand.
    """
    left, right = "name_tokens_l", "name_tokens_r"
    shorter_covered = (
        f"(len({left}) <= len({right}) AND {_covered(left, right)}) OR "
        f"(len({right}) <= len({left}) AND {_covered(right, left)})"
    )
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_fold"),
            cll.ExactMatchLevel("name_fold", term_frequency_adjustments=True),
            cll.CustomLevel(
                f"list_sort({left}) = list_sort({right})", label_for_charts="Same words"
            ),
            cll.CustomLevel(
                f"{_covered(left, right)} AND {_covered(right, left)}",
                label_for_charts="Each word close to a word of the other",
            ),
            cll.ArraySubsetLevel("name_tokens").configure(
                label_for_charts="Words of one are a subset of the other's"
            ),
            cll.CustomLevel(
                shorter_covered, label_for_charts="Words of the shorter close to the other's"
            ),
            cll.ArrayIntersectLevel("name_tokens", 1).configure(
                label_for_charts="A word in common"
            ),
            cll.ElseLevel(),
        ],
    )


def _birth_comparison(*, with_age: bool) -> cl.CustomComparison:
    """Birth date; with ``with_age``, the age (years on the snapshot day, reported or from
    the date) stands in when a side has no date."""
    both_dates = "birth_date_l IS NOT NULL AND birth_date_r IS NOT NULL"
    if with_age:
        null_level = cll.CustomLevel(
            f"NOT ({both_dates}) AND (age_l IS NULL OR age_r IS NULL)",
            label_for_charts="Birth date and age missing",
        ).configure(is_null_level=True)
        age_levels = [
            cll.CustomLevel(
                f"NOT ({both_dates}) AND abs(age_l - age_r) <= 1",
                label_for_charts="No date on one side; ages within a year",
            )
        ]
    else:
        null_level, age_levels = cll.NullLevel("birth_date"), []
    return cl.CustomComparison(
        output_column_name="birth",
        comparison_levels=[
            null_level,
            cll.ExactMatchLevel("birth_date"),
            cll.CustomLevel(
                f"{both_dates} AND damerau_levenshtein(CAST(birth_date_l AS VARCHAR), "
                "CAST(birth_date_r AS VARCHAR)) <= 1",
                label_for_charts="One digit wrong or two swapped",
            ),
            cll.CustomLevel(
                f"{both_dates} AND day(birth_date_l) = month(birth_date_r) "
                "AND month(birth_date_l) = day(birth_date_r) AND year(birth_date_l) = "
                "year(birth_date_r)",
                label_for_charts="Day and month swapped",
            ),
            cll.CustomLevel(
                f"{both_dates} AND abs(date_diff('day', birth_date_l, birth_date_r)) <= 31",
                label_for_charts="Birth dates within a month",
            ),
            cll.CustomLevel(
                f"{both_dates} AND abs(date_diff('day', birth_date_l, birth_date_r)) <= 366",
                label_for_charts="Birth dates within a year",
            ),
            *age_levels,
            cll.ElseLevel(),
        ],
    )


# Whether two names are plausibly one person's: family fields (KK, mother) count only then.
_NAMES_AGREE = (
    "(jaro_winkler_similarity(name_fold_l, name_fold_r) >= 0.92 OR (name_first_l = "
    "name_first_r AND left(name_last_l, 1) = left(name_last_r, 1)))"
)


def _registration_comparison() -> cl.CustomComparison:
    """NIK and family card (KK) together: a second registration changes both at once.

    Twins share KK, birth date, desa and mother, so a shared KK counts only when the names
    agree; a family member with another name is "all other". (No "one digit apart" NIK
    level: a NIK is region + birth date + a sequence number, so people born the same day in
    neighbouring kecamatan are one digit apart too.)
    """
    return cl.CustomComparison(
        output_column_name="registration",
        comparison_levels=[
            cll.CustomLevel(
                "(nik_l IS NULL OR nik_r IS NULL) AND (kk_l IS NULL OR kk_r IS NULL)",
                label_for_charts="No NIK or KK to compare",
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("nik").configure(label_for_charts="Same NIK"),
            cll.CustomLevel(
                f"kk_l = kk_r AND {_NAMES_AGREE}", label_for_charts="Same KK, names agree"
            ).configure(u_probability=UNSEEN_U, fix_u_probability=True),
            cll.ElseLevel(),
        ],
    )


def _mother_comparison() -> cl.CustomComparison:
    """Mother's name (civil registry only); siblings share it, so it counts only when the
    names agree.

    Only pairs of civil-registry rows have it on both sides, and among those the matches are
    the rare double registrations: too few for EM, so the m probabilities are set (a person
    keeps the mother's name) and not trained. The u of agreement is ``UNSEEN_U``.
    """
    same_mother = "jaro_winkler_similarity(mother_fold_l, mother_fold_r) >= 0.92"
    return cl.CustomComparison(
        output_column_name="mother",
        comparison_levels=[
            cll.NullLevel("mother_fold"),
            cll.CustomLevel(
                f"{same_mother} AND {_NAMES_AGREE}", label_for_charts="Same mother, names agree"
            ).configure(
                m_probability=0.95,
                fix_m_probability=True,
                u_probability=UNSEEN_U,
                fix_u_probability=True,
            ),
            cll.ElseLevel().configure(m_probability=0.05, fix_m_probability=True),
        ],
    )


def _region_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="region",
        comparison_levels=[
            cll.NullLevel("kec_code"),
            cll.ExactMatchLevel("desa_code").configure(label_for_charts="Same desa"),
            cll.ExactMatchLevel("kec_code").configure(label_for_charts="Same kecamatan"),
            cll.ElseLevel(),
        ],
    )


def settings(profile: Profile, *, link_only: bool = False) -> SettingsCreator:
    """The model: comparisons and the blocking rules that generate the pairs to score."""
    comparisons: list[ComparisonCreator | dict[str, Any]]
    rules: list[BlockingRuleCreator | dict[str, Any]]
    if profile == "registry":
        comparisons = [
            _name_comparison(),
            _birth_comparison(with_age=True),
            cl.ExactMatch("sex"),
            _registration_comparison(),
            _region_comparison(),
            _mother_comparison(),
        ]
        rules = [
            block_on("nik"),
            # Same birth date: the first letter of the name keeps these blocks small at 1M rows.
            block_on("birth_date", "sex", "left(name_fold, 1)"),
            # Rows without a usable NIK and without (or with a different) birth date.
            CustomRule("l.name_fold = r.name_fold AND l.sex = r.sex AND abs(l.age - r.age) <= 1"),
            block_on("name_first", "name_last", "age"),
            block_on("name_first", "sex", "age", "desa_code"),
        ]
    else:
        comparisons = [_words_comparison(), _birth_comparison(with_age=False)]
        # For small data sets only: a block per name word grows with the square of the rows.
        rules = [
            block_on("birth_date"),
            block_on("name_tokens", arrays_to_explode=["name_tokens"]),
        ]
    return SettingsCreator(
        link_type="link_only" if link_only else "dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def _deterministic_rules(profile: Profile) -> tuple[list[str | BlockingRuleCreator], float]:
    """Rules that admit (almost) no false matches, and the share of true matches they find.

    The recall is a judgement, not measured: NIK and exact name + birth date together find
    most registry pairs; FEBRL corrupts most duplicates somewhere, so far fewer there.
    """
    name_and_date = "l.name_fold = r.name_fold AND l.birth_date = r.birth_date"
    if profile == "registry":
        return ["l.nik = r.nik AND l.birth_date = r.birth_date", name_and_date], 0.9
    return [name_and_date], 0.5


def _features(records: pd.DataFrame) -> pd.DataFrame:
    """The columns the model reads, one row per record; ``unique_id`` is the row position."""
    birth = records["birth_date"]
    snap = records["snapshot_date"]
    before_birthday = (snap.dt.month < birth.dt.month) | (
        (snap.dt.month == birth.dt.month) & (snap.dt.day < birth.dt.day)
    )
    age = (snap.dt.year - birth.dt.year - before_birthday.astype(int)).astype("Int64")
    return pd.DataFrame(
        {
            "unique_id": np.arange(len(records), dtype=np.int64),
            "source": records["source"].to_numpy(),
            "name_fold": fold_spelling(records["name_norm"]).to_numpy(),
            "mother_fold": fold_spelling(records["mother_name"]).to_numpy(),
            "sex": records["sex"].to_numpy(),
            "nik": records["nik"].to_numpy(),
            "kk": records["kk"].to_numpy(),
            "kec_code": records["kec_code"].to_numpy(),
            "desa_code": records["desa_code"].to_numpy(),
            "birth_date": birth.to_numpy(),
            "age": age.fillna(records["age_reported"]).astype("Int64").to_numpy(),
        }
    )


def link(
    records: pd.DataFrame,
    profile: Profile = "registry",
    *,
    link_only: bool = False,
    threshold: float = THRESHOLD_MATCH_PROBABILITY,
) -> SplinkOutput:
    """Train the model on ``records`` (canonical schema), predict and cluster.

    With ``link_only`` the records are split by ``source`` into one table per source and only
    pairs across sources are scored.
    """
    phases: dict[str, float] = {}
    started = time.perf_counter()

    con = duckdb.connect()
    con.register("frame", _features(records))
    con.execute(_PREPARE_SQL)
    db_api = DuckDBAPI(con)
    if link_only:
        tables = []
        for source in sorted(records["source"].unique()):
            con.execute(
                f"CREATE TABLE records_{source} AS SELECT * FROM records WHERE source = ?",
                [source],
            )
            tables.append(db_api.register(f"records_{source}", table_name=f"in_{source}"))
    else:
        tables = [db_api.register("records", table_name="in_records")]
    linker = Linker(
        tables if link_only else tables[0],
        settings(profile, link_only=link_only),
        log_level=logging.WARNING,
    )
    phases["prepare"] = time.perf_counter() - started

    mark = time.perf_counter()
    rules, recall = _deterministic_rules(profile)
    linker.training.estimate_probability_two_random_records_match(rules, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    em_rules = (
        [block_on("name_fold"), block_on("birth_date")]
        if profile == "registry"
        else [block_on("birth_date"), block_on("name_fold")]
    )
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
        )
    phases["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    phases["predict"] = time.perf_counter() - mark

    mark = time.perf_counter()
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    result = clustered.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    cluster = np.empty(len(records), dtype=np.int64)
    cluster[result["unique_id"].to_numpy()] = pd.factorize(result["cluster_id"])[0]
    phases["cluster"] = time.perf_counter() - mark

    mark = time.perf_counter()
    pairs = _scored_pairs(linker)
    phases["count_pairs"] = time.perf_counter() - mark
    con.close()
    return SplinkOutput(cluster, pairs, phases)


def _scored_pairs(linker: Linker) -> int:
    """Pairs the prediction blocking rules generate (each pair once), counted exactly."""
    counts = linker.blocking_analysis.count_comparisons_from_blocking_rules(
        record_sample_proportion=1.0
    )
    return int(counts[-1]["cumulative_comparison_count"])
