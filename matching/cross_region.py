"""The cross-region pass: residents seen in one kab/kota and registered in another.

Each region is linked on its own, so a voter or a BPS household member who lives in one
kab/kota but is registered (Disdukcapil) in another ends up as a resident without a
civil-registry record in the region where they were seen. This pass takes those residents
(the *orphans*, a few percent of the rows) and looks for their registry record in the other
regions on strong keys only:

* ``nik``: the same NIK, with names that share at least a word (one NIK on two people who
  have nothing in common is a NIK conflict, not a move);
* ``nik_near``: a NIK one wrong digit or one transposition away, with names that agree
  closely (>= 92), the same birth date and sex;
* ``name_birth_date``: the same folded name, birth date and sex when one side has no NIK,
  and only if that name and date belong to one registry record in all the regions.

Every region is never compared with every other. Keys are computed for the orphans; the
registry is streamed in chunks, and a registry record is kept only when one of its keys is
among the orphans' (a hash join), so the work grows with the registry's size, not with the
number of region pairs. NIK near-matches use deletion keys: a NIK with one digit removed, 16
per NIK; two NIKs one substitution or one adjacent transposition apart share one. The kept
pairs are compared with the engine's comparisons (``matching.comparisons``).

Resident IDs are not changed: the pass returns one link per orphan resident to the registry
resident it belongs to, and an orphan with two equally good registry residents is left
unlinked (``ambiguous``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.comparisons import BirthLevel, NameLevel, SexLevel, compare
from matching.features import build_features
from matching.fellegi_sunter import FIELD_INDEX
from matching.names import fold_spelling

METHODS = ("nik", "nik_near", "name_birth_date")  # strongest first
COLUMNS = ("resident_id", "region", "registry_resident_id", "registry_region", "method")
_POWERS = 10 ** np.arange(16, -1, -1, dtype=np.int64)  # 10^16 .. 10^0


@dataclass
class CrossRegionResult:
    links: pd.DataFrame  # COLUMNS, one row per linked orphan resident
    orphans: int  # orphan residents considered
    registry_rows: int  # registry records streamed
    candidates: int  # registry records sharing a key with an orphan
    ambiguous: int  # orphans left unlinked because two registry residents fit equally


def _nik_numbers(nik: pd.Series) -> np.ndarray:
    """The NIK as an int64 (-1 where it is not 16 digits)."""
    text = nik.astype("string")
    valid = text.str.fullmatch(r"\d{16}").fillna(False).to_numpy(dtype=bool)
    out = np.full(len(text), -1, dtype=np.int64)
    out[valid] = text[valid].astype("int64").to_numpy()
    return out


def _deletion_keys(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, key) for each NIK with each of its 16 digits removed."""
    rows = np.flatnonzero(numbers >= 0)
    values = numbers[rows]
    keys = []
    for i in range(16):  # remove the digit at position i (weight 10^(15 - i))
        high = values // _POWERS[i]  # the digits before it
        low = values % _POWERS[i + 1]  # the digits after it
        keys.append(high * _POWERS[i + 1] + low)
    return np.tile(rows, 16), np.concatenate(keys)


def _name_birth(records: pd.DataFrame) -> pd.Series:
    """Folded name with its words sorted, the birth date and the sex, as one key."""
    folded = fold_spelling(records["name_norm"])
    words = folded.str.split().map(lambda w: " ".join(sorted(w)) if isinstance(w, list) else None)
    key = words.astype("string") + "|" + records["birth_date"].dt.strftime("%Y%m%d")
    return (key + "|" + records["sex"].astype("string")).reset_index(drop=True)


@dataclass
class _Keys:
    nik: np.ndarray
    deletion_rows: np.ndarray
    deletion_keys: np.ndarray
    name_birth: pd.Series


def _keys(records: pd.DataFrame) -> _Keys:
    nik = _nik_numbers(records["nik"])
    rows, keys = _deletion_keys(nik)
    return _Keys(nik, rows, keys, _name_birth(records))


def _near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NIK pairs (int64) one substitution or one adjacent transposition apart."""
    da = (a[:, None] // _POWERS[1:][None, :]) % 10
    db = (b[:, None] // _POWERS[1:][None, :]) % 10
    differ = da != db
    count = differ.sum(axis=1)
    swapped = (da[:, :-1] == db[:, 1:]) & (da[:, 1:] == db[:, :-1]) & differ[:, :-1]
    return (count == 1) | ((count == 2) & swapped.any(axis=1))


def link_across_regions(
    orphans: pd.DataFrame, registry_chunks: Iterable[pd.DataFrame]
) -> CrossRegionResult:
    """Link orphan residents to registry residents of other regions.

    ``orphans``: canonical records (``connectors.schema``) of residents without a registry
    record, with ``resident_id`` and ``region``. ``registry_chunks``: the civil-registry
    records of all regions, in chunks of the same shape.
    """
    orphans = orphans.reset_index(drop=True)
    ok = _keys(orphans)
    registry, per_name, streamed = _registry_sharing_keys(orphans, ok, registry_chunks)
    n_orphans = int(orphans["resident_id"].nunique())
    if registry.empty or orphans.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
        return CrossRegionResult(empty, n_orphans, streamed, 0, 0)

    rk = _keys(registry)
    o, r = _candidate_pairs(orphans, ok, registry, rk)
    rank = _method_ranks(orphans, ok, registry, rk, per_name, o, r)
    links, ambiguous = _unambiguous_links(orphans, registry, o, r, rank)
    return CrossRegionResult(links, n_orphans, streamed, len(registry), ambiguous)


def _registry_sharing_keys(
    orphans: pd.DataFrame, ok: _Keys, registry_chunks: Iterable[pd.DataFrame]
) -> tuple[pd.DataFrame, pd.Series, int]:
    """The registry records sharing a key with an orphan (a hash join over the streamed
    chunks), how many registry records hold each of the orphans' name-and-birth keys, and
    the number of registry records streamed."""
    nik_set = np.unique(ok.nik[ok.nik >= 0])
    deletion_set = np.unique(ok.deletion_keys)
    name_set = set(ok.name_birth.dropna())
    kept, name_counts, streamed = [], [], 0
    for chunk in registry_chunks:
        chunk = chunk.reset_index(drop=True)
        streamed += len(chunk)
        rk = _keys(chunk)
        hit = np.isin(rk.nik, nik_set) & (rk.nik >= 0)
        hit[rk.deletion_rows[np.isin(rk.deletion_keys, deletion_set)]] = True
        named = rk.name_birth.isin(name_set).to_numpy()
        name_counts.append(rk.name_birth[named].value_counts())
        kept.append(chunk[hit | named])
    registry = (
        pd.concat(kept, ignore_index=True) if kept else orphans.iloc[0:0].reset_index(drop=True)
    )
    per_name = (
        pd.concat(name_counts).groupby(level=0).sum() if name_counts else pd.Series(dtype=int)
    )
    return registry, per_name, streamed


def _candidate_pairs(
    orphans: pd.DataFrame, ok: _Keys, registry: pd.DataFrame, rk: _Keys
) -> tuple[np.ndarray, np.ndarray]:
    """(orphan row, registry row) pairs sharing a key, the registry row in another region."""
    pairs = []
    for left, right in (
        (pd.Series(ok.nik).where(ok.nik >= 0), pd.Series(rk.nik).where(rk.nik >= 0)),
        (pd.Series(ok.deletion_keys, index=ok.deletion_rows),
         pd.Series(rk.deletion_keys, index=rk.deletion_rows)),
        (ok.name_birth, rk.name_birth),
    ):  # fmt: skip
        a = pd.DataFrame({"key": left.to_numpy(), "o": left.index.to_numpy()}).dropna()
        b = pd.DataFrame({"key": right.to_numpy(), "r": right.index.to_numpy()}).dropna()
        pairs.append(a.merge(b, on="key")[["o", "r"]])
    candidates = pd.concat(pairs).drop_duplicates()
    o, r = candidates["o"].to_numpy(), candidates["r"].to_numpy()
    other_region = orphans["region"].to_numpy()[o] != registry["region"].to_numpy()[r]
    return o[other_region], r[other_region]


def _method_ranks(
    orphans: pd.DataFrame,
    ok: _Keys,
    registry: pd.DataFrame,
    rk: _Keys,
    per_name: pd.Series,
    o: np.ndarray,
    r: np.ndarray,
) -> np.ndarray:
    """Per candidate pair, the strongest method that accepts it (its index in ``METHODS``),
    -1 when none does."""
    both = pd.concat([orphans, registry], ignore_index=True)
    levels = compare(build_features(both), o, r + len(orphans))
    name = levels[:, FIELD_INDEX["name"]]
    birth = levels[:, FIELD_INDEX["birth_date"]]
    sex = levels[:, FIELD_INDEX["sex"]]
    nik_o, nik_r = ok.nik[o], rk.nik[r]
    known = (nik_o >= 0) & (nik_r >= 0)
    same_nik = known & (nik_o == nik_r)
    near = known & ~same_nik & _near(np.where(known, nik_o, 0), np.where(known, nik_r, 0))
    key = ok.name_birth.to_numpy()[o]
    unique_name = pd.Series(key).map(per_name).fillna(0).to_numpy() == 1
    return np.select(
        [
            same_nik & (name >= NameLevel.ONE_WORD),
            near
            & (name >= NameLevel.SIMILAR_92)
            & (birth == BirthLevel.EXACT)
            & (sex == SexLevel.SAME),
            ~known
            & (name == NameLevel.EXACT)
            & (birth == BirthLevel.EXACT)
            & (sex == SexLevel.SAME)
            & unique_name,
        ],
        [0, 1, 2],
        default=-1,
    )


def _unambiguous_links(
    orphans: pd.DataFrame, registry: pd.DataFrame, o: np.ndarray, r: np.ndarray, rank: np.ndarray
) -> tuple[pd.DataFrame, int]:
    """One link per orphan resident to the registry resident its strongest method finds
    (``COLUMNS``), and the number of orphans left unlinked because two fit equally."""
    accepted = pd.DataFrame(
        {
            "resident_id": orphans["resident_id"].to_numpy()[o],
            "region": orphans["region"].to_numpy()[o],
            "registry_resident_id": registry["resident_id"].to_numpy()[r],
            "registry_region": registry["region"].to_numpy()[r],
            "rank": rank,
        }
    )
    accepted = accepted[accepted["rank"] >= 0]
    best = accepted.groupby("resident_id")["rank"].transform("min")
    accepted = accepted[accepted["rank"] == best].drop_duplicates(
        ["resident_id", "registry_resident_id"]
    )
    fits = accepted.groupby("resident_id")["registry_resident_id"].transform("nunique")
    ambiguous = int(accepted.loc[fits > 1, "resident_id"].nunique())
    links = accepted[fits == 1].assign(method=lambda t: np.array(METHODS)[t["rank"]])
    links = links[list(COLUMNS)].sort_values(["region", "resident_id"]).astype("string")
    return links.reset_index(drop=True), ambiguous
