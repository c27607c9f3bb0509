"""Match probabilities that account for the other candidates (one-to-one linkage).

Fellegi-Sunter scores each pair on its own, against a prior that any two records match. But
a record usually has at most one counterpart in another source, and that changes the
question: given the candidates record *r* has in source *S*, which one (if any) is its own?
With ``pi`` the share of *r*'s source that has a counterpart in *S* (estimated from the data)
and ``lambda`` the pair's likelihood ratio (the product of the fields' Bayes factors)::

    P(r -> s) = rho * lambda(r, s) / ((1 - pi) + rho * sum over s' of lambda(r, s'))

where ``rho = pi / n_S`` is the prior that a given record of *S* is the counterpart. When
the sources are known to hold the same people (FEBRL4's two files; two copies of one list),
``pi`` can be given instead of estimated: with ``pi``
near 1, a record's best candidate is its counterpart unless a rival is about as likely. A pair
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
#: A share known to be complete (every record has its counterpart) is taken as this: the
#: chance that a record's counterpart is none of its candidates is then all but nil.
_KNOWN_MAX = 1 - 1e-6


def competing_probability(
    log_lr: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    source: np.ndarray,
    iterations: int = 10,
    open_records: np.ndarray | None = None,
    known_share: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's match probability given the competing candidates (0 for pairs within
    one source), and the estimated share ``pi[a, b]`` of source ``a``'s records that have a
    counterpart in source ``b``.

    ``log_lr`` is the pair's log2 likelihood ratio (match weight without the prior);
    ``source`` holds each record's source index (0..2). ``open_records[a, b]``, when given,
    is how many records of source ``a`` may still have a counterpart in ``b`` (the second
    pass, ``matching.residual``, competes among the records the first left open); by
    default every record may. ``known_share[a, b]``, where not NaN, is the share itself,
    known rather than estimated (see ``LinkageSettings.coverage``).
    """
    known = np.full(9, np.nan) if known_share is None else np.asarray(known_share).ravel()
    fixed = ~np.isnan(known)
    known = np.clip(np.nan_to_num(known), 1e-4, _KNOWN_MAX)
    if open_records is None:
        sizes = np.bincount(source.astype(np.int64), minlength=3).astype(float)
        open_records = np.repeat(sizes[:, None], 3, axis=1)
    chooser_size = np.maximum(np.asarray(open_records, dtype=float).ravel(), 1)  # cell a*3+b
    target_size = np.maximum(np.asarray(open_records, dtype=float).T.ravel(), 1)
    # A pair whose evidence is against a match (likelihood ratio under 1) has a probability
    # under rho (about one in a hundred thousand) and adds as little to its rivals' sums:
    # leaving those out changes no decision and saves most of the work.
    across = np.flatnonzero((source[left] != source[right]) & (log_lr > 0))
    chooser = np.concatenate([left[across], right[across]]).astype(np.int64)
    target = np.concatenate([right[across], left[across]]).astype(np.int64)
    target_source = source[target].astype(np.int64)
    # Directed pairs grouped by (chooser, target source), once for all iterations.
    order = np.argsort(chooser * 3 + target_source, kind="stable")
    chooser, target_source = chooser[order], target_source[order]
    lr = np.concatenate([log_lr[across], log_lr[across]])[order]
    cell = source[chooser].astype(np.int64) * 3 + target_source  # (chooser source, target)
    group = chooser * 3 + target_source
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else group
    group_of = np.cumsum(np.r_[False, group[1:] != group[:-1]]) if len(group) else group
    pi = np.where(fixed, known, 0.5)
    probability = np.zeros(len(chooser))
    log_size = np.log2(target_size)
    for _ in range(iterations):
        share = pi[cell]
        value = np.clip(lr + (np.log2(pi) - log_size)[cell], -_LOG_CAP, _LOG_CAP)
        if len(value) == 0:
            break
        top = np.maximum.reduceat(value, starts)[group_of]
        shifted = np.exp2(value - top)
        total = np.add.reduceat(shifted, starts)[group_of]
        probability = shifted / ((1 - share) * np.exp2(-top) + total)
        expected = np.bincount(cell, weights=probability, minlength=9)
        previous = pi
        pi = np.where(fixed, known, np.clip(expected / chooser_size, 1e-4, 0.999))
        if np.abs(pi - previous).max() < 1e-4:
            break
    directed = np.empty(len(probability))
    directed[order] = probability
    half = len(across)
    out = np.zeros(len(left))
    out[across] = np.maximum(directed[:half], directed[half:])
    return out, pi.reshape(3, 3)
