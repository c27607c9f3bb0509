"""Linkage quality without a truth file: the statistics of a clerical sample of pairs.

A region's candidate pairs (every pair the engine scored, every pair of records one resident
holds, and each record left without a counterpart in another source with its best loose
candidate) are split into strata by source pair, by whether the pair is linked (one resident)
and by the engine's match probability (``BANDS``). A stratified random sample of them is
labelled by reviewers (match / no match / unsure), and from the labels:

* precision of a source pair: the share of its linked pairs that are one person,
  ``sum_h N_h p_h / sum_h N_h`` over its linked strata;
* recall: the share of its pairs that are one person which padu linked,
  ``T_linked / (T_linked + T_unlinked)``, ``T = sum_h N_h p_h`` (a stratified ratio),

where ``N_h`` is a stratum's size and ``p_h`` its share of matches, estimated by the labelled
items' share (Horvitz-Thompson: each labelled item stands for ``N_h / n_h`` pairs; unsure
labels are left out, so the labelled items are a random subsample of the stratum).

The 95% interval is a Wilson interval around the stratified estimate, with the effective
sample size of the estimate (``n_eff = p(1-p) / var``, Kish's design effect) in place of n,
so it keeps Wilson's behaviour near 0 and 1 (no bound beyond them, exactly 1 at an estimate of
1) and the stratified variance. In a stratum whose labels all agree, the variance is that of
the share with half a match and half a non-match added (``(y + 1/2) / (n + 1)``, the
Jeffreys posterior mean): such a stratum still says how little 20 labels tell about 20,000
pairs instead of contributing no variance, which would give a zero-width interval to a sample
with no error found. The finite population correction ``1 - n/N`` is applied, so a stratum
labelled entirely is known exactly. Recall's variance is that of the ratio, by
linearisation. Simulated on populations like padu's (tests/test_quality_stats.py), the
interval covers the true value in 95-99% of samples: slightly conservative where strata are
small or their labels all agree.

Pure: no I/O. ``connectors.warehouse.quality_sample`` draws and stores the sample with
``allocate`` and ``band_of``, and estimates with ``estimate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

Z95 = 1.959963984540054
#: Estimates this close to 0 or 1 are 0 or 1 (sums of floating-point shares).
_EXACT = 1e-12
#: Probability bands, as ``(name, low, high)``: ``low <= p < high``; ``THRESHOLD`` stands for
#: the engine's match probability (a pair at or above it is linked by the model).
THRESHOLD = "threshold"
BANDS: tuple[tuple[str, float | str, float | str], ...] = (
    ("<0.05", 0.0, 0.05),
    ("0.05-0.5", 0.05, 0.5),
    ("0.5-threshold", 0.5, THRESHOLD),
    ("threshold-0.99", THRESHOLD, 0.99),
    (">=0.99", 0.99, math.inf),
)
#: A linked pair the engine did not score itself (linked through a third record).
NOT_COMPARED = "not compared"
#: The stratum of records without a counterpart of the other source in their resident.
UNLINKED_RECORD = "unlinked record: best loose candidate"
#: A prior guess of the share of matches, for the allocation, where no probability is known.
GUESS = {NOT_COMPARED: 0.9, UNLINKED_RECORD: 0.2}


def band_of(probability: np.ndarray, threshold: float) -> np.ndarray:
    """Each probability's band name (``BANDS``); ``NOT_COMPARED`` where it is NaN."""
    p = np.asarray(probability, dtype=float)
    out = np.full(len(p), NOT_COMPARED, dtype=object)
    for name, low, high in BANDS:
        lo = threshold if low == THRESHOLD else float(low)
        hi = threshold if high == THRESHOLD else float(high)
        out[(p >= lo) & (p < hi)] = name
    return out


def allocate(population: np.ndarray, guess: np.ndarray, size: int, minimum: int = 3) -> np.ndarray:
    """Items to draw from each stratum: ``minimum`` (or the whole stratum, if smaller) from
    every non-empty stratum, the rest by Neyman allocation, in proportion to
    ``N_h * sqrt(g_h (1 - g_h))`` with ``g_h`` the guessed share of matches (clipped to
    0.01-0.99), never more than a stratum holds. Sums to ``min(size, sum N_h)``."""
    n_pop = np.asarray(population, dtype=np.int64)
    g = np.clip(np.asarray(guess, dtype=float), 0.01, 0.99)
    want = np.minimum(n_pop, minimum)
    total = min(int(size), int(n_pop.sum()))
    if want.sum() > total:
        # Fewer items than strata can have their minimum: the largest strata first.
        want = np.zeros_like(n_pop)
        order = np.argsort(-n_pop, kind="stable")
        for i in order:
            if want.sum() >= total:
                break
            want[i] = min(n_pop[i], minimum, total - want.sum())
        return want
    weight = n_pop * np.sqrt(g * (1 - g))
    while want.sum() < total:
        room = n_pop - want
        open_ = room > 0
        left = total - int(want.sum())
        share = np.where(open_, weight, 0.0)
        if share.sum() == 0:
            share = open_.astype(float)
        extra = np.floor(left * share / share.sum()).astype(np.int64)
        extra = np.minimum(extra, room)
        if extra.sum() == 0:
            # Hand out the remainder one by one, largest weight first.
            for i in np.argsort(-share, kind="stable")[:left]:
                if room[i] > 0:
                    extra[i] = 1
        want += extra
    return want


def wilson(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` from ``n`` (possibly effective)
    observations."""
    if n <= 0 or math.isnan(p):
        return (0.0, 1.0) if not math.isnan(p) else (math.nan, math.nan)
    p = min(max(p, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At p = 0 or 1 the bound is exactly 0 or 1 (the arithmetic may miss it by a rounding).
    low = 0.0 if p <= _EXACT else max(0.0, centre - half)
    high = 1.0 if p >= 1 - _EXACT else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    effective_n: float


def _strata(population: np.ndarray, labelled: np.ndarray, matches: np.ndarray) -> tuple:
    N = np.asarray(population, dtype=float)
    n = np.asarray(labelled, dtype=float)
    y = np.asarray(matches, dtype=float)
    seen = n > 0
    p = np.where(seen, y / np.where(seen, n, 1), 0.0)
    adjusted = (y + 0.5) / (n + 1)
    fpc = np.where(seen, 1 - n / np.where(N > 0, N, 1), 0.0)
    # Where the labels disagree, the stratum's own variance; where they all agree, that of
    # the adjusted share.
    mixed = seen & (y > 0) & (y < n)
    spread = np.where(mixed, p * (1 - p) * n / np.where(mixed, n - 1, 1), adjusted * (1 - adjusted))
    unit_var = np.where(seen, spread * fpc / np.where(seen, n, 1), 0.0)
    return N, n, y, seen, p, adjusted, unit_var


def _interval(estimate: float, adjusted: float, variance: float, labels: float) -> Interval:
    if math.isnan(estimate):
        return Interval(math.nan, math.nan, math.nan, 0.0)
    if variance <= 0:
        # Every stratum labelled in full: the value is known.
        return Interval(estimate, estimate, estimate, labels)
    n_eff = adjusted * (1 - adjusted) / variance
    low, high = wilson(estimate, n_eff)
    return Interval(estimate, low, high, n_eff)


def stratified_share(population: np.ndarray, labelled: np.ndarray, matches: np.ndarray) -> Interval:
    """The share of matches in the union of the strata (``N_h`` pairs each, ``n_h``
    labelled of which ``y_h`` matches), with its 95% interval. Strata without a label are
    left out (the share is of the labelled strata). Used for precision."""
    N, n, y, seen, p, adjusted, unit_var = _strata(population, labelled, matches)
    total = N[seen].sum()
    if total == 0:
        return Interval(math.nan, math.nan, math.nan, 0.0)
    w = np.where(seen, N / total, 0.0)
    estimate = float((w * p).sum())
    variance = float((w * w * unit_var).sum())
    return _interval(estimate, float((w * adjusted).sum()), variance, float(n.sum()))


def stratified_recall(
    population: np.ndarray, labelled: np.ndarray, matches: np.ndarray, linked: np.ndarray
) -> Interval:
    """The share of all matches that fall in the ``linked`` strata, ``T_L / (T_L + T_U)``
    with ``T = sum N_h p_h``, and its 95% interval (variance by linearisation of the ratio).
    Strata without a label are left out. ``nan`` when no match was labelled anywhere."""
    N, n, y, seen, p, adjusted, unit_var = _strata(population, labelled, matches)
    is_linked = np.asarray(linked, dtype=bool)
    totals = np.where(seen, N * p, 0.0)
    t_all = totals.sum()
    if t_all == 0:
        return Interval(math.nan, math.nan, math.nan, 0.0)
    estimate = float(totals[is_linked].sum() / t_all)
    adj_totals = np.where(seen, N * adjusted, 0.0)
    r = float(adj_totals[is_linked].sum() / adj_totals.sum())
    # d R = ((1 - R) d T_L - R d T_U) / T
    coef = np.where(is_linked, 1 - r, -r)
    variance = float((coef * coef * N * N * unit_var).sum() / adj_totals.sum() ** 2)
    # The labels behind the ratio: those of strata where matches were found.
    labels = float(n[seen & (y > 0)].sum()) or float(n.sum())
    return _interval(estimate, r, variance, labels)


#: Columns ``estimate`` reads: one row per stratum.
STRATUM_COLUMNS = ("source_pair", "linked", "population", "labelled", "matches", "unsure")


def estimate(strata: pd.DataFrame) -> pd.DataFrame:
    """Precision and recall with 95% intervals per source pair, from one row per stratum
    (``STRATUM_COLUMNS``: its size, the items labelled match or no_match, the matches among
    them and the items labelled unsure).

    Columns: ``source_pair``, ``precision``, ``precision_low``, ``precision_high``,
    ``recall``, ``recall_low``, ``recall_high``, ``labelled``, ``matches``, ``unsure``,
    ``strata``, ``strata_unlabelled`` (strata with pairs but no label yet: left out),
    ``linked_pairs`` and ``estimated_matches`` (design-weighted)."""
    rows = []
    order = {p: i for i, p in enumerate(SOURCE_PAIRS)}
    ranked = sorted(strata["source_pair"].unique(), key=lambda p: (order.get(p, len(order)), p))
    for pair in ranked:
        group = strata[strata["source_pair"] == pair]
        linked = group["linked"].to_numpy(dtype=bool)
        N = group["population"].to_numpy(dtype=float)
        n = group["labelled"].to_numpy(dtype=float)
        y = group["matches"].to_numpy(dtype=float)
        precision = stratified_share(N[linked], n[linked], y[linked])
        recall = stratified_recall(N, n, y, linked)
        seen = n > 0
        rows.append(
            {
                "source_pair": pair,
                "precision": precision.estimate,
                "precision_low": precision.low,
                "precision_high": precision.high,
                "recall": recall.estimate,
                "recall_low": recall.low,
                "recall_high": recall.high,
                "labelled": int(n.sum()),
                "matches": int(y.sum()),
                "unsure": int(group["unsure"].sum()),
                "strata": int((N > 0).sum()),
                "strata_unlabelled": int(((N > 0) & ~seen).sum()),
                "linked_pairs": int(N[linked].sum()),
                "estimated_matches": float(np.where(seen, N * y / np.where(seen, n, 1), 0.0).sum()),
            }
        )
    columns = [
        "source_pair", "precision", "precision_low", "precision_high", "recall", "recall_low",
        "recall_high", "labelled", "matches", "unsure", "strata", "strata_unlabelled",
        "linked_pairs", "estimated_matches",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


# -- the sampling frame ---------------------------------------------------------------------

#: Source pairs in a fixed order: across sources first, then within one source (duplicates).
SOURCE_ORDER = ("dukcapil", "kpu", "bps")
SOURCE_PAIRS = (
    "dukcapil-kpu", "dukcapil-bps", "kpu-bps", "dukcapil-dukcapil", "kpu-kpu", "bps-bps",
)  # fmt: skip


def source_pair(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``"dukcapil-kpu"`` etc. of aligned source names, in ``SOURCE_ORDER`` whatever the
    order of the two."""
    a, b = _rank(left), _rank(right)
    names = np.array([*SOURCE_ORDER, "other"], dtype=object)
    return names[np.minimum(a, b)] + "-" + names[np.maximum(a, b)]


def _rank(sources: np.ndarray) -> np.ndarray:
    """Each source's place in ``SOURCE_ORDER`` (after them: any other)."""
    rank = {s: i for i, s in enumerate(SOURCE_ORDER)}
    return pd.Series(sources, dtype=object).map(rank).fillna(len(rank)).to_numpy(dtype=int)


def stratum_name(pair: str, linked: bool | None, band: str) -> str:
    """``dukcapil-kpu | linked | >=0.99``; the unlinked-record stratum has no linked part."""
    if band == UNLINKED_RECORD:
        return f"{pair} | {band}"
    return f"{pair} | {'linked' if linked else 'not linked'} | {band}"


@dataclass(frozen=True)
class Frame:
    """Every unit a sample can draw, by stratum.

    ``pairs``: one row per pair of record positions (``left`` before ``right`` in
    ``SOURCE_ORDER``): ``source_pair``, ``linked``, ``probability`` (NaN where the engine
    did not score the pair), ``stratum``. ``records``: one row per record of the later
    source of a pair of sources (``kpu`` for dukcapil-kpu, ``bps`` for the others) holding no
    record of the earlier source in its resident: ``record``, ``other_source``,
    ``source_pair``, ``stratum``. ``strata``: ``stratum``, ``source_pair``, ``linked``
    (``False`` for the unlinked-record strata), ``band``, ``population``, ``guess``
    (the share of matches expected, for the allocation)."""

    pairs: pd.DataFrame
    records: pd.DataFrame
    strata: pd.DataFrame


def build_frame(
    sources: np.ndarray,
    resident: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    threshold: float,
) -> Frame:
    """The sampling frame of a region from its records' ``sources`` and published
    ``resident`` (aligned, one per record position) and the engine's scored pairs
    (``left``, ``right`` positions with their ``probability``).

    Pairs are the scored pairs (linked or not, by whether both records are in one resident)
    and every pair of records of one resident that the engine did not score (linked through a
    third record: band ``NOT_COMPARED``). A pair scored twice (the engine's second pass)
    keeps its higher probability."""
    sources = np.asarray(sources, dtype=object)
    resident = pd.Series(resident, dtype="string").to_numpy(dtype=object, na_value=None)
    # A record without a published resident is a resident of its own.
    resident = np.array(
        [r if r is not None else f"\0{i}" for i, r in enumerate(resident)], dtype=object
    )
    lo = np.minimum(left, right).astype(np.int64)
    hi = np.maximum(left, right).astype(np.int64)
    scored = pd.DataFrame({"a": lo, "b": hi, "probability": np.asarray(probability, float)})
    scored = scored[scored["a"] != scored["b"]]
    scored = scored.sort_values("probability", ascending=False).drop_duplicates(["a", "b"])
    members = pd.DataFrame({"a": np.arange(len(resident)), "resident": resident})
    together = members.merge(members.rename(columns={"a": "b"}), on="resident")
    together = together.loc[together["a"] < together["b"], ["a", "b"]]
    pairs = scored.merge(together.assign(_linked=True), on=["a", "b"], how="outer")
    pairs["linked"] = pairs.pop("_linked").notna()
    a, b = pairs["a"].to_numpy(dtype=np.int64), pairs["b"].to_numpy(dtype=np.int64)
    rank = _rank(sources)
    swap = rank[b] < rank[a]
    pairs["left"] = np.where(swap, b, a)
    pairs["right"] = np.where(swap, a, b)
    pairs["source_pair"] = source_pair(sources[a], sources[b])
    pairs["band"] = band_of(pairs["probability"].to_numpy(dtype=float), threshold)
    pairs = pairs[["left", "right", "source_pair", "linked", "probability", "band"]]
    pairs = pairs.reset_index(drop=True)

    # Records of the later source with no record of the earlier one in their resident.
    unlinked = []
    held = pd.DataFrame({"resident": resident, "source": sources})
    for pair in SOURCE_PAIRS:
        first, second = pair.split("-")
        if first == second:
            continue
        has_first = set(held.loc[held["source"] == first, "resident"])
        mine = np.flatnonzero((sources == second) & ~held["resident"].isin(has_first).to_numpy())
        if not (sources == first).any():
            continue  # no record of the other source at all: nothing could be missed
        unlinked.append(pd.DataFrame({"record": mine, "other_source": first, "source_pair": pair}))
    records = (
        pd.concat(unlinked, ignore_index=True)
        if unlinked
        else pd.DataFrame({"record": [], "other_source": [], "source_pair": []})
    )
    records["record"] = records["record"].astype(np.int64)
    records["band"] = UNLINKED_RECORD

    linked_text = np.where(pairs["linked"].to_numpy(dtype=bool), "linked", "not linked")
    pairs["stratum"] = pairs["source_pair"] + " | " + linked_text + " | " + pairs["band"]
    records["stratum"] = [stratum_name(p, None, UNLINKED_RECORD) for p in records["source_pair"]]
    by_pair = pairs.groupby("stratum", sort=False).agg(
        source_pair=("source_pair", "first"), linked=("linked", "first"),
        band=("band", "first"), population=("left", "size"),
        guess=("probability", "mean"),
    )  # fmt: skip
    by_pair["guess"] = by_pair["guess"].fillna(by_pair["band"].map(GUESS)).fillna(0.5)
    by_record = records.groupby("stratum", sort=False).agg(
        source_pair=("source_pair", "first"), band=("band", "first"),
        population=("record", "size"),
    )  # fmt: skip
    by_record["linked"] = False
    by_record["guess"] = GUESS[UNLINKED_RECORD]
    strata = pd.concat([by_pair, by_record]).reset_index()
    order = {p: i for i, p in enumerate(SOURCE_PAIRS)}
    strata = strata.assign(
        _o=strata["source_pair"].map(order).fillna(len(order)), _l=~strata["linked"]
    ).sort_values(["_o", "_l", "stratum"])
    strata = strata.drop(columns=["_o", "_l"]).reset_index(drop=True)
    return Frame(pairs, records, strata[["stratum", "source_pair", "linked", "band",
                                         "population", "guess"]])  # fmt: skip


@dataclass(frozen=True)
class Drawn:
    """A drawn sample: rows of ``Frame.pairs`` and ``Frame.records`` with their stratum, and
    the strata with ``sampled`` (n_h) and ``inclusion`` (n_h / N_h)."""

    pairs: pd.DataFrame
    records: pd.DataFrame
    strata: pd.DataFrame


def draw(frame: Frame, size: int, seed: int) -> Drawn:
    """A stratified random sample of ``size`` units (``allocate``), without replacement."""
    rng = np.random.default_rng(seed)
    strata = frame.strata.copy()
    strata["sampled"] = allocate(strata["population"].to_numpy(), strata["guess"].to_numpy(), size)
    strata["inclusion"] = strata["sampled"] / strata["population"]
    want = dict(zip(strata["stratum"], strata["sampled"], strict=True))

    def pick(units: pd.DataFrame) -> pd.DataFrame:
        chosen = []
        for stratum, rows in units.groupby("stratum", sort=True):
            k = int(want.get(str(stratum), 0))
            if k:
                chosen.append(rows.iloc[np.sort(rng.choice(len(rows), size=k, replace=False))])
        return pd.concat(chosen, ignore_index=True) if chosen else units.iloc[:0]

    return Drawn(pick(frame.pairs), pick(frame.records), strata)


def loose_candidates(
    records: pd.DataFrame, wanted: np.ndarray, other: np.ndarray, frame: Frame
) -> np.ndarray:
    """For each record position in ``wanted``, its best loose candidate among the records
    of source ``other`` (aligned): of the same sex (or sex unknown), born within a year (or
    birth date unknown), not already a pair of the frame with it, with the most similar name
    (the better of word-order-free and word-subset similarity, after folding old and new
    spellings). -1 where no record qualifies."""
    from rapidfuzz import fuzz, process

    from matching.names import fold_spelling

    names = fold_spelling(records["name_norm"].astype("string")).fillna("").to_numpy(dtype=str)
    source = records["source"].astype("string").to_numpy(dtype=object)
    sex = pd.factorize(records["sex"].astype("string"))[0]  # -1 when unknown
    year = pd.to_datetime(records["birth_date"]).dt.year.to_numpy(dtype=float, na_value=np.nan)
    paired = frame.pairs[["left", "right"]].to_numpy()
    out = np.full(len(wanted), -1, dtype=np.int64)
    for i, (w, o) in enumerate(zip(wanted, other, strict=True)):
        ok = source == o
        if sex[w] >= 0:
            ok &= (sex == sex[w]) | (sex < 0)
        if not np.isnan(year[w]):
            ok &= np.isnan(year) | (np.abs(year - year[w]) <= 1)
        taken = paired[(paired[:, 0] == w) | (paired[:, 1] == w)].ravel()
        ok[taken] = False
        ok[w] = False
        candidates = np.flatnonzero(ok)
        if len(candidates) == 0:
            continue
        by_sort = process.cdist([names[w]], names[candidates], scorer=fuzz.token_sort_ratio)[0]
        by_set = process.cdist([names[w]], names[candidates], scorer=fuzz.token_set_ratio)[0]
        out[i] = candidates[int(np.argmax(np.maximum(by_sort, by_set)))]
    return out
