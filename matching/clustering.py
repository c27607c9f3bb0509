"""Clustering scored pairs into persons without chaining strangers together.

Plain connected components over every accepted pair let one bad link join two unrelated
people, and through them whole families. padu links each record only to its *best* accepted
record in each source, and lets several records of one source choose the same record only
when they are themselves an accepted pair (a person listed twice). So voter rows K1 and K2 of
one person both join registry row D1, but twins D1 and D2 cannot both claim voter row K1:
the weaker claim is dropped and D2 stays a separate resident.

The trade-off: a record can no longer pull in several records of one source that the model
did not link to each other; when such a case is real (a triple registration with one bad
row) it surfaces as separate residents, with the pair near the threshold in the review queue.

Within one source the rule does not apply: every accepted pair of two rows of one source is
kept. Copies of one person in one list (FEBRL3 has up to five) each resemble some copies
more than others, and keeping only each copy's best link, and the claims linked to the
strongest, split them (FEBRL3: recall 0.77 instead of 0.80, at precision 1.0 either way).
Two rows of one source are accepted only under the engine's stricter rules for them
(different NIKs need closely agreeing names), which is what stands against chaining there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def pair_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 per unordered pair of record positions."""
    return np.minimum(a, b).astype(np.int64) * (1 << 32) + np.maximum(a, b)


def among(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` are in ``sorted_keys`` (sorted ascending): a sorted search, cheaper
    than ``np.isin`` on millions of pair keys."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    position = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
    return sorted_keys[position] == keys


def best_links(
    left: np.ndarray, right: np.ndarray, weight: np.ndarray, source: np.ndarray
) -> np.ndarray:
    """Mask of the accepted pairs kept for clustering (see the module docstring)."""
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    pair = np.arange(len(left))
    directed = pd.DataFrame(
        {
            "chooser": np.concatenate([left, right]),
            "target": np.concatenate([right, left]),
            "w": np.concatenate([weight, weight]),
            "pair": np.concatenate([pair, pair]),
        }
    )
    directed["chooser_source"] = source[directed["chooser"].to_numpy()]
    directed["target_source"] = source[directed["target"].to_numpy()]
    # Each record's best choice in each source.
    directed = directed.sort_values(["chooser", "target_source", "w", "pair"],
                                    ascending=[True, True, False, True])  # fmt: skip
    chosen = directed.drop_duplicates(["chooser", "target_source"])
    # Several choosers of one source on one target: the strongest, and those linked to it.
    chosen = chosen.sort_values(["target", "chooser_source", "w", "chooser"],
                                ascending=[True, True, False, True])  # fmt: skip
    top = chosen.groupby(["target", "chooser_source"])["chooser"].transform("first").to_numpy()
    me = chosen["chooser"].to_numpy()
    linked_to_top = among(pair_keys(top, me), np.sort(pair_keys(left, right)))
    kept = chosen[(me == top) | linked_to_top]["pair"].to_numpy()
    keep = np.zeros(len(left), dtype=bool)
    keep[kept] = True
    # Within one source every accepted pair stays (see the module docstring).
    keep |= source[left] == source[right]
    return keep


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def constrained_components(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    cannot_left: np.ndarray,
    cannot_right: np.ndarray,
) -> np.ndarray:
    """Connected components in which no cannot-link pair ends up together.

    Components holding a cannot-link pair are rebuilt by adding their links strongest first
    and refusing any link that would join a forbidden pair (a reviewer's "not a match"), so
    the weakest link on the path between the two records is the one dropped.
    """
    labels = components(n, left, right)
    if len(cannot_left) == 0:
        return labels
    violated = labels[cannot_left] == labels[cannot_right]
    if not violated.any():
        return labels
    bad = np.unique(labels[cannot_left[violated]])
    inside = np.isin(labels[left], bad)
    order = np.argsort(-weight[inside], kind="stable")
    edges_l, edges_r = left[inside][order], right[inside][order]
    forbidden: dict[int, set[int]] = {}
    for a, b in zip(cannot_left.tolist(), cannot_right.tolist(), strict=True):
        forbidden.setdefault(a, set()).add(b)
        forbidden.setdefault(b, set()).add(a)
    parent: dict[int, int] = {}
    members: dict[int, set[int]] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        members.setdefault(x, {x})
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(edges_l.tolist(), edges_r.tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        small, large = (ra, rb) if len(members[ra]) < len(members[rb]) else (rb, ra)
        if any(forbidden.get(x, set()) & members[large] for x in members[small]):
            continue
        parent[small] = large
        members[large] |= members.pop(small)
    out = labels.copy()
    next_label = labels.max() + 1
    roots = {x: root(x) for x in np.flatnonzero(np.isin(labels, bad)).tolist()}
    relabel: dict[int, int] = {}
    for x, r in roots.items():
        if r not in relabel:
            relabel[r] = next_label
            next_label += 1
        out[x] = relabel[r]
    return out
