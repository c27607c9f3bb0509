"""First linkage: exact NIK agreement plus a fuzzy fallback on name and birth date.

The interface is what later engines implement: ``Linker.link(records)`` takes the canonical
records of all sources (one row per source row, any index) and returns, aligned to them, a
cluster number, how each row was linked, and a score. Everything else (resident IDs, the
golden record) is built from that.

Rules, in order:

1. **NIK**: rows sharing a usable NIK are linked to the group's anchor (the first row by
   source authority: dukcapil, kpu, bps), unless their names and birth dates both disagree:
   one NIK used by two clearly different people is a NIK conflict, not a match.
2. **Name + birth date**: a kpu or bps row not yet linked to a civil-registry row is compared
   with the rows born the same day with the same sex; it links to its single best candidate
   if the folded names score >= ``NAME_THRESHOLD`` (best link, so one bad row cannot chain
   unrelated people together).
3. **Name + age**: a row without a birth date (BPS) links to a candidate with the same folded
   name and sex whose age on the snapshot day differs by at most one year, if that candidate
   is unique.
4. **Double registration**: two civil-registry rows with the same birth date and sex, names
   scoring >= ``DUPLICATE_THRESHOLD`` and the same mother's name are one person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matching.names import fold_spelling

SOURCE_PRIORITY = {"dukcapil": 0, "kpu": 1, "bps": 2}
NAME_THRESHOLD = 88.0
NIK_GUARD_THRESHOLD = 60.0
DUPLICATE_THRESHOLD = 95.0

LINK_METHODS = (
    "nik",
    "name_birth_date",
    "name_age",
    "duplicate_registration",
    "anchor",
    "unlinked",
)


@dataclass
class LinkResult:
    """Aligned to the input records: ``cluster`` (0..k-1), ``link_method``, ``link_score``."""

    clusters: pd.DataFrame
    pairs_compared: int


class Linker(Protocol):
    def link(self, records: pd.DataFrame) -> LinkResult: ...


def name_scores(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Similarity 0-100 of aligned folded names.

    Token order does not matter; a name that is the other with words dropped scores high
    only when it keeps at least two words (so ``SITI`` does not match ``SITI AMINAH``).
    """
    if len(left) == 0:
        return np.zeros(0)
    left = np.where(pd.isna(left), "", left).astype(str)
    right = np.where(pd.isna(right), "", right).astype(str)
    sort = process.cpdist(left, right, scorer=fuzz.token_sort_ratio, workers=-1)
    subset = process.cpdist(left, right, scorer=fuzz.token_set_ratio, workers=-1)
    words = np.minimum(np.char.count(left, " "), np.char.count(right, " ")) + 1
    score = np.where(words >= 2, np.maximum(sort, subset * 0.97), sort)
    return np.where((left == "") | (right == ""), 0.0, score)


def default_linker() -> Linker:
    """The linker the pipeline uses."""
    return FirstLinker()


class FirstLinker:
    """Exact NIK plus a fuzzy fallback; see the module docstring for the rules."""

    def link(self, records: pd.DataFrame) -> LinkResult:
        n = len(records)
        frame = pd.DataFrame(
            {
                "priority": records["source"].map(SOURCE_PRIORITY).to_numpy(),
                "source": records["source"].to_numpy(),
                "nik": records["nik"].to_numpy(),
                "key": fold_spelling(records["name_norm"]).to_numpy(),
                "birth_date": records["birth_date"].to_numpy(),
                "sex": records["sex"].to_numpy(),
                "mother": fold_spelling(records["mother_name"]).to_numpy(),
                "age": _age(records).to_numpy(),
            }
        )
        edges: list[pd.DataFrame] = []
        compared = 0

        nik_edges, c = _nik_edges(frame)
        edges.append(nik_edges)
        compared += c
        anchored = _reaches_registry(n, edges, frame)

        fuzzy, c = _name_birth_date_edges(frame, anchored)
        edges.append(fuzzy)
        compared += c
        anchored = _reaches_registry(n, edges, frame)

        by_age, c = _name_age_edges(frame, anchored)
        edges.append(by_age)
        compared += c

        duplicates, c = _duplicate_registration_edges(frame)
        edges.append(duplicates)
        compared += c

        all_edges = pd.concat(edges, ignore_index=True)
        return LinkResult(_clusters(n, all_edges), compared)


def _age(records: pd.DataFrame) -> pd.Series:
    """Age in completed years on the snapshot day, from the birth date or as reported."""
    birth = records["birth_date"]
    snap = records["snapshot_date"]
    years = snap.dt.year - birth.dt.year
    before_birthday = (snap.dt.month < birth.dt.month) | (
        (snap.dt.month == birth.dt.month) & (snap.dt.day < birth.dt.day)
    )
    computed = (years - before_birthday.astype(int)).astype("Int64")
    return computed.fillna(records["age_reported"]).astype("Int64")


def _edge_frame(
    left: np.ndarray, right: np.ndarray, method: str, score: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "left": left.astype(np.int64),
            "right": right.astype(np.int64),
            "method": method,
            "score": score.astype(float),
        }  # fmt: skip
    )


def _nik_edges(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    with_nik = frame[frame["nik"].notna()]
    ordered = with_nik.sort_values(["nik", "priority"], kind="stable")
    anchor = ordered.groupby("nik", sort=False).head(1)
    pairs = (
        ordered[["nik"]]
        .reset_index(names="row")
        .merge(anchor[["nik"]].reset_index(names="anchor"), on="nik")
    )
    pairs = pairs[pairs["row"] != pairs["anchor"]]
    row, anc = pairs["row"].to_numpy(), pairs["anchor"].to_numpy()
    score = name_scores(frame["key"].to_numpy()[row], frame["key"].to_numpy()[anc])
    same_birth = frame["birth_date"].to_numpy()[row] == frame["birth_date"].to_numpy()[anc]
    keep = (score >= NIK_GUARD_THRESHOLD) | same_birth
    return _edge_frame(row[keep], anc[keep], "nik", score[keep]), len(pairs)


def _reaches_registry(n: int, edges: list[pd.DataFrame], frame: pd.DataFrame) -> np.ndarray:
    """For each row, whether its current cluster holds a civil-registry row."""
    labels = _components(n, pd.concat(edges, ignore_index=True))
    registry = frame["source"].to_numpy() == "dukcapil"
    has_registry = np.zeros(labels.max() + 1 if n else 0, dtype=bool)
    np.logical_or.at(has_registry, labels[registry], True)
    return has_registry[labels]


def _best_link(pairs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Keep each query row's single best candidate at or above ``threshold``."""
    pairs = pairs[pairs["score"] >= threshold]
    pairs = pairs.sort_values(["left", "score", "right"], ascending=[True, False, True])
    return pairs.drop_duplicates("left")


def _name_birth_date_edges(frame: pd.DataFrame, anchored: np.ndarray) -> tuple[pd.DataFrame, int]:
    usable = frame["birth_date"].notna() & frame["sex"].notna() & frame["key"].notna()
    queries = frame[usable & ~anchored & (frame["source"] != "dukcapil")]
    targets = frame[usable & ((frame["source"] == "dukcapil") | ~anchored)]
    pairs = (
        queries[["birth_date", "sex", "source"]]
        .reset_index(names="left")
        .merge(
            targets[["birth_date", "sex", "source"]].reset_index(names="right"),
            on=["birth_date", "sex"],
            suffixes=("", "_r"),
        )  # fmt: skip
    )
    pairs = pairs[pairs["source"] != pairs["source_r"]]
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    key = frame["key"].to_numpy()
    pairs = _edge_frame(left, right, "name_birth_date", name_scores(key[left], key[right]))
    return _best_link(pairs, NAME_THRESHOLD), len(pairs)


def _name_age_edges(frame: pd.DataFrame, anchored: np.ndarray) -> tuple[pd.DataFrame, int]:
    usable = frame["key"].notna() & frame["sex"].notna() & frame["age"].notna()
    queries = frame[usable & ~anchored & frame["birth_date"].isna()]
    targets = frame[usable & (frame["source"] == "dukcapil")]
    pairs = queries[["key", "sex", "age"]].reset_index(names="left").merge(
        targets[["key", "sex", "age"]].reset_index(names="right"), on=["key", "sex"],
        suffixes=("", "_r"),
    )  # fmt: skip
    pairs = pairs[(pairs["age"] - pairs["age_r"]).abs() <= 1]
    unique = pairs.groupby("left")["right"].transform("count") == 1
    pairs = pairs[unique]
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    return _edge_frame(left, right, "name_age", np.full(len(pairs), 100.0)), len(pairs)


def _duplicate_registration_edges(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    usable = (frame["source"] == "dukcapil") & frame["birth_date"].notna() & frame["key"].notna()
    rows = frame[usable][["birth_date", "sex", "nik"]].reset_index(names="left")
    pairs = rows.merge(rows.rename(columns={"left": "right"}), on=["birth_date", "sex"])
    different_nik = pairs["nik_x"].fillna("") != pairs["nik_y"].fillna("")
    pairs = pairs[(pairs["left"] < pairs["right"]) & different_nik]
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    key, mother = frame["key"].to_numpy(), frame["mother"].to_numpy()
    score = name_scores(key[left], key[right])
    mother_score = name_scores(mother[left], mother[right])
    keep = (score >= DUPLICATE_THRESHOLD) & (mother_score >= 90)
    # The later row is the duplicate: it is the one attached to the earlier registration.
    return _edge_frame(right[keep], left[keep], "duplicate_registration", score[keep]), len(pairs)


def _components(n: int, edges: pd.DataFrame) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix(
        (np.ones(len(edges)), (edges["left"].to_numpy(), edges["right"].to_numpy())), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _clusters(n: int, edges: pd.DataFrame) -> pd.DataFrame:
    labels = _components(n, edges)
    method = np.full(n, "unlinked", dtype=object)
    score = np.full(n, np.nan)
    in_edge = np.zeros(n, dtype=bool)
    in_edge[edges["left"].to_numpy()] = True
    in_edge[edges["right"].to_numpy()] = True
    method[in_edge] = "anchor"
    # A row's method is that of the edge that attached it (its "left" end); first edge wins.
    first = edges.drop_duplicates("left")
    method[first["left"].to_numpy()] = first["method"].to_numpy()
    score[first["left"].to_numpy()] = first["score"].to_numpy()
    return pd.DataFrame({"cluster": labels, "link_method": method, "link_score": score})
