"""The second pass: records the first pass left without a counterpart, compared again.

The first pass blocks on keys that need the name's sound, the birth date with part of the
name, or the NIK to agree. A person whose name was badly garbled *and* whose birth date is
missing or wrong, or whose name was replaced altogether, is never compared with their own
record. Comparing everything more loosely would cost quadratic work in common names and
dates; this pass does it only where it can still pay off, as census record linkage does
(multi-pass matching, each pass on what the previous left over):

* a record is *open* towards a source when its cluster holds no record of that source;
* open records of two sources are paired, each with the other source's open records only,
  when they share a birth date or a name word's first three letters;
* the pairs, with the first pass's pairs between open records, are scored with the same
  model, and their probabilities recomputed with the competition model
  (``matching.competition``) over the open records alone: both how many candidates compete
  and the share of open records that still have a counterpart are estimated again.

The second estimate is what keeps the pass safe. Where the sources cover the same people
(every voter has a civil-registry record) most open records still have their counterpart
among the other source's open records, so an uncontested pair with modest evidence becomes
likely; where the open records are mostly people one source does not hold (children have
no voter record; a ghost voter has no registry record), the estimated share is small and
modest evidence stays modest. Links follow the same threshold and clustering as the first
pass, and pairs between the thresholds go to review.

``residual_pairs`` finds the pairs; ``second_pass`` scores them and adds them to the first
pass's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.blocking import RULES, RuleReport
from matching.clustering import among, pair_keys
from matching.comparisons import compare
from matching.competition import competing_probability
from matching.features import SOURCES, Features
from matching.fellegi_sunter import Model
from matching.scored_pairs import ScoredPairs, score_pairs

#: The rule bit of the pairs the second pass found (the blocking rules' bits come first).
SECOND_PASS_BIT = 1 << len(RULES)

#: A key that would pair more open records than this (in one pair of sources: a common
#: name's first letters, a birth date shared by many) says little and costs much: it is
#: skipped and reported as capped, as the blocking rules' large blocks are.
MAX_KEY_PAIRS = 400
PREFIX = 3


@dataclass
class OpenRecords:
    """Which records are open towards which source after the first pass."""

    towards: np.ndarray  # bool n x len(SOURCES): the record's cluster has no such record

    def counts(self, source: np.ndarray) -> np.ndarray:
        """``counts[a, b]``: records of source ``a`` open towards source ``b``."""
        k = len(SOURCES)
        out = np.zeros((k, k))
        for a in range(k):
            out[a] = self.towards[source == a].sum(axis=0)
        return out


def open_records(cluster: np.ndarray, source: np.ndarray) -> OpenRecords:
    """Records whose cluster holds no record of a source (the record's own source aside)."""
    k = len(SOURCES)
    _, label = np.unique(cluster, return_inverse=True)
    held = np.zeros((label.max() + 1 if len(label) else 0, k), dtype=bool)
    held[label, source.astype(np.int64)] = True
    towards = ~held[label]
    towards[np.arange(len(source)), source.astype(np.int64)] = False
    return OpenRecords(towards)


def _name_prefixes(f: Features) -> np.ndarray:
    """(record, prefix code) for each record's name words' first three letters, as a
    2 x k array; computed once per distinct name."""
    codes, names = pd.factorize(pd.Series(f.name, dtype=object), use_na_sentinel=True)
    per_name = (
        pd.Series([sorted({w[:PREFIX] for w in name.split() if len(w) >= 2}) for name in names])
        .explode()
        .dropna()
    )
    prefix, _ = pd.factorize(per_name)
    by_name = pd.DataFrame({"name": per_name.index.to_numpy(np.int64), "prefix": prefix})
    rows = pd.DataFrame({"row": np.flatnonzero(codes >= 0), "name": codes[codes >= 0]})
    joined = rows.merge(by_name, on="name")
    return np.vstack([joined["row"].to_numpy(np.int64), joined["prefix"].to_numpy(np.int64)])


def _keys(f: Features, rows: np.ndarray) -> pd.DataFrame:
    """Loose keys of ``rows`` (integers): the birth date (even keys), and each name word's
    first three letters (odd keys), so the two kinds never meet."""
    birth = f.birth[rows]
    dated = ~np.isnat(birth)
    key_rows, prefix = f.cached("name_prefixes", _name_prefixes)
    chosen = np.zeros(f.n, dtype=bool)
    chosen[rows] = True
    picked = chosen[key_rows]
    return pd.DataFrame(
        {
            "row": np.concatenate([rows[dated], key_rows[picked]]),
            "key": np.concatenate([2 * birth[dated].astype(np.int64), 2 * prefix[picked] + 1]),
        }
    )


def residual_pairs(
    features: Features, open_: OpenRecords, max_key_pairs: int = MAX_KEY_PAIRS
) -> tuple[np.ndarray, np.ndarray, RuleReport]:
    """Pairs of open records of two sources, each open towards the other's source, that
    share a loose key, as (left, right) record positions with left < right; and a report
    of the keys used and skipped (per pair of sources) as for a blocking rule."""
    source = features.source.astype(np.int64)
    found = []
    report = RuleReport("second_pass", 0, 0, 0, 0)
    capped_rows = []
    for a in range(len(SOURCES)):
        for b in range(a + 1, len(SOURCES)):
            left_rows = np.flatnonzero((source == a) & open_.towards[:, b])
            right_rows = np.flatnonzero((source == b) & open_.towards[:, a])
            if len(left_rows) == 0 or len(right_rows) == 0:
                continue
            left_keys = _keys(features, left_rows)
            right_keys = _keys(features, right_rows)
            size = (
                left_keys["key"].value_counts().mul(right_keys["key"].value_counts(), fill_value=0)
            )
            usable = size.index[(size > 0) & (size <= max_key_pairs)]
            capped = size.index[size > max_key_pairs]
            report.blocks += len(usable)
            report.capped_blocks += len(capped)
            for keys in (left_keys, right_keys):
                capped_rows.append(keys.loc[keys["key"].isin(capped), "row"].to_numpy())
            joined = left_keys[left_keys["key"].isin(usable)].merge(
                right_keys[right_keys["key"].isin(usable)], on="key"
            )
            found.append(pair_keys(joined["row_x"].to_numpy(), joined["row_y"].to_numpy()))
    report.capped_records = len(np.unique(np.concatenate(capped_rows))) if capped_rows else 0
    unique = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    report.pairs = len(unique)
    return unique >> 32, unique & 0xFFFFFFFF, report


def _open_known_share(known: np.ndarray, source: np.ndarray, opened: np.ndarray) -> np.ndarray:
    """A known share of records with a counterpart, restated for the open records (``opened``
    counts them per pair of sources): of a source's records with a counterpart, those
    already linked to one are not open."""
    sizes = np.bincount(source.astype(np.int64), minlength=len(SOURCES)).astype(float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (known * sizes - (sizes - opened)) / opened
    return np.where(np.isnan(known), np.nan, np.clip(np.nan_to_num(share), 0, 1))


def second_pass(
    features: Features,
    model: Model,
    pairs: ScoredPairs,
    clusters: pd.DataFrame,
    known_share: np.ndarray,
) -> tuple[ScoredPairs, RuleReport, np.ndarray]:
    """The first pass's pairs with the second pass's added: the blocking report of the new
    pairs and the share of open records with a counterpart.

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
    scores = score_pairs(features, model, left, right, levels)
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
