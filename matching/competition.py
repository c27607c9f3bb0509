"""Match probabilities that account for the other candidates (one-to-one linkage).

Fellegi-Sunter scores each pair on its own, against a prior that any two records match. But
a record usually has at most one counterpart in another source, and that changes the
question: given the candidates record *r* has in source *S*, which one (if any) is its own?
With ``pi`` the share of *r*'s source that has a counterpart in *S* (estimated from the data)
and ``lambda`` the pair's likelihood ratio (the product of the fields' Bayes factors)::

    P(r -> s) = rho * lambda(r, s) / ((1 - pi) + rho * sum over s' of lambda(r, s'))

where ``rho = pi / n_S`` is the prior that a given record of *S* is the counterpart. A pair
whose evidence is moderate (a rare name without a birth date) becomes near certain when it
is *r*'s only plausible candidate and most records have a counterpart; two look-alikes
competing for one record share the probability between them instead of both passing.
Within one source the assumption fails (a person may be listed three times, and each copy
would take a share of the others' probability), so pairs of one source get 0 here and keep
their Fellegi-Sunter probability.

A pair's probability is the larger of its two directions: a person's record is found from
either side, and the clustering still keeps only each record's best link per source
(``matching.clustering.best_links``), so a record cannot be claimed twice. The engine uses
the larger of this and the Fellegi-Sunter probability: competition can make an
uncontested pair certain, while a strong pair stays strong and conflicts are left to the
clustering.
"""

from __future__ import annotations

import numpy as np

_LOG_CAP = 500.0


def _directed(
    log_lr: np.ndarray, chooser: np.ndarray, target_source: np.ndarray, log_rho: np.ndarray,
    slack: np.ndarray, groups: int,
) -> np.ndarray:  # fmt: skip
    """P(chooser -> target) per directed pair; ``group`` = chooser x target source."""
    group = chooser * 3 + target_source
    value = np.clip(log_lr + log_rho, -_LOG_CAP, _LOG_CAP)
    top = np.full(groups, -np.inf)
    np.maximum.at(top, group, value)
    shifted = np.exp2(value - top[group])
    total = np.bincount(group, weights=shifted, minlength=groups)
    denominator = slack * np.exp2(-top[group]) + total[group]
    return shifted / denominator


def competing_probability(
    log_lr: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    source: np.ndarray,
    iterations: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's match probability given the competing candidates (0 for pairs within
    one source), and the estimated share ``pi[a, b]`` of source ``a``'s records that have a
    counterpart in source ``b``.

    ``log_lr`` is the pair's log2 likelihood ratio (match weight without the prior);
    ``source`` holds each record's source index (0..2).
    """
    n = len(source)
    sizes = np.bincount(source.astype(np.int64), minlength=3).astype(float)
    across = source[left] != source[right]
    chooser = np.concatenate([left[across], right[across]]).astype(np.int64)
    target = np.concatenate([right[across], left[across]]).astype(np.int64)
    lr = np.concatenate([log_lr[across], log_lr[across]])
    chooser_source = source[chooser].astype(np.int64)
    target_source = source[target].astype(np.int64)
    pi = np.full((3, 3), 0.5)
    probability = np.zeros(len(chooser))
    for _ in range(iterations):
        share = pi[chooser_source, target_source]
        log_rho = np.log2(share / np.maximum(sizes[target_source], 1))
        probability = _directed(lr, chooser, target_source, log_rho, 1 - share, 3 * n)
        expected = np.zeros((3, 3))
        np.add.at(expected, (chooser_source, target_source), probability)
        pi = np.clip(expected / np.maximum(sizes[:, None], 1), 1e-4, 0.999)
    half = int(across.sum())
    out = np.zeros(len(left))
    out[across] = np.maximum(probability[:half], probability[half:])
    return out, pi
