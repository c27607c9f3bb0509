"""Per-record features for linkage, computed once and vectorised.

From the canonical records (connectors/schema.py) this derives what blocking and comparisons
need: the folded name and its words, a phonetic key, date parts, the NIK decoded into region,
birth date and sex, an age estimate for rows without a birth date, and name frequencies for
the term-frequency adjustment.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from connectors.schema import Source
from matching.names import fold_spelling
from matching.phonetic import word_key

#: The sources in their canonical order (``connectors.schema.Source``).
SOURCES = tuple(s.value for s in Source)


@dataclass
class Features:
    """Aligned numpy arrays, one entry per record (object arrays hold None for null)."""

    n: int
    source: np.ndarray  # int8 index into SOURCES
    name: np.ndarray  # folded name, words in written order
    name_sorted: np.ndarray  # folded name, words sorted
    first_word: np.ndarray
    last_word: np.ndarray
    phonetic: np.ndarray  # phonetic key of the whole name, words sorted
    name_words: np.ndarray  # number of words in the name (0 when missing)
    name_frequency: np.ndarray  # share of records with this folded sorted name (float)
    name_chance: np.ndarray  # chance a stranger has this name (see ``_name_chance``)
    first_share: np.ndarray  # share of named records with the first word anywhere in the name
    last_share: np.ndarray  # the same for the last word
    birth: np.ndarray  # datetime64[D], NaT when missing
    year: np.ndarray  # float, nan when missing (from birth date, else from reported age)
    year_known: np.ndarray  # bool: year comes from a birth date, not an age
    month: np.ndarray
    day: np.ndarray
    sex: np.ndarray  # object: "M"/"F"/None
    nik: np.ndarray
    nik_digits: np.ndarray  # uint8 matrix n x 16 (zeros where no NIK)
    nik_birth: np.ndarray  # (month*100+day) encoded in the NIK, -1 when no NIK
    nik_yy: np.ndarray  # two-digit year in the NIK, -1 when no NIK
    nik_sex: np.ndarray
    kk: np.ndarray
    kec: np.ndarray
    desa: np.ndarray
    mother: np.ndarray
    _nulls: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _codes: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _derived: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def codes(self, name: str) -> np.ndarray:
        """Integer code per record for feature ``name`` (equal values, equal codes; -1 for
        missing), computed once: comparing codes is far cheaper than comparing strings."""
        codes = self._codes.get(name)
        if codes is None:
            codes = self._codes[name] = pd.factorize(getattr(self, name))[0]
        return codes

    def cached(self, name: str, compute: Callable[[Features], np.ndarray]) -> np.ndarray:
        """A derived per-record array, computed on first use and kept."""
        value = self._derived.get(name)
        if value is None:
            value = self._derived[name] = compute(self)
        return value

    def null(self, name: str) -> np.ndarray:
        """Boolean mask of the records missing feature ``name`` (computed once)."""
        mask = self._nulls.get(name)
        if mask is None:
            mask = self._nulls[name] = np.asarray(pd.isna(getattr(self, name)))
        return mask


def _objects(series: pd.Series) -> np.ndarray:
    return series.astype(object).where(series.notna(), None).to_numpy()


def _digits(nik: pd.Series) -> np.ndarray:
    text = nik.fillna("0" * 16).astype(str).str.pad(16, fillchar="0").str.slice(0, 16)
    raw = np.frombuffer("".join(text).encode("ascii", "replace"), dtype=np.uint8)
    return raw.reshape(-1, 16) - ord("0")


def _shares_of_words(words_of: list[list[str]], codes: np.ndarray) -> dict[str, float]:
    """Per word, the share of named records whose name contains it: the chance that a
    random record agrees on that word. ``words_of`` are the words of each distinct name,
    ``codes`` each record's name."""
    records_per_name = np.bincount(codes[codes >= 0], minlength=len(words_of))
    per_word: Counter[str] = Counter()
    for words, count in zip(words_of, records_per_name.tolist(), strict=True):
        for word in set(words):
            per_word[word] += count
    named = max(int((codes >= 0).sum()), 1)
    return {word: count / named for word, count in per_word.items()}


def _name_chance(
    words_of: list[list[str]], codes: np.ndarray, shares: dict[str, float], counts: np.ndarray
) -> np.ndarray:
    """Per record, the chance that a stranger has the same (sorted, folded) name; ``counts``
    are the records holding each record's name.

    Counted from the data, that is the share of records with the name; but a name held by
    only the pair being compared (or one more record) says nothing about how rare it is
    beyond the size of the data. So the records of the pair are left out of the count
    (two of them), and the chance is never put below what the name's words give when
    drawn independently (the product of their shares): JACQUELINE ABBONDANDOLA is far
    rarer than one in the number of records; SITI AMINAH's own count is large and rules.
    """
    product = np.array([math.prod(shares[w] for w in set(words)) for words in words_of] + [0.0])
    named = max(int((codes >= 0).sum()), 1)
    return np.maximum((counts - 2) / named, product[codes])


def _take(values: list, codes: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """Per record, the value of its code (None for code -1): an object array."""
    table = np.empty(len(values) + 1, dtype=object)
    table[: len(values)] = values
    table[-1] = None
    return table[codes]


def _nik_fields(digits: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, ...]:
    """From the NIK digits (16-digit NIKs or none, as the canonical schema holds them): the
    birth month and day encoded (month * 100 + day), the two-digit year and the sex (women
    have 40 added to the day), with -1 / None where there is no NIK."""
    d = digits.astype(np.int64)
    raw_day = d[:, 6] * 10 + d[:, 7]
    female = raw_day > 40
    month_day = (d[:, 8] * 10 + d[:, 9]) * 100 + raw_day - 40 * female
    yy = d[:, 10] * 10 + d[:, 11]
    sex = np.where(female, "F", "M").astype(object)
    sex[~known] = None
    return np.where(known, month_day, -1), np.where(known, yy, -1), sex


def build_features(records: pd.DataFrame) -> Features:
    """Features of ``records`` (canonical schema, any index; order is kept)."""
    records = records.reset_index(drop=True)
    # Names repeat: everything about a name is computed once per distinct name, and records
    # only carry codes into those tables.
    raw_codes, raw_names = pd.factorize(records["name_norm"].astype("string"), use_na_sentinel=True)
    fold_codes, distinct = pd.factorize(fold_spelling(pd.Series(raw_names, dtype="string")))
    codes = np.where(raw_codes >= 0, fold_codes[raw_codes], -1)
    words_of = [str(name).split() for name in distinct]
    sorted_of = [" ".join(sorted(w)) for w in words_of]
    sorted_codes, sorted_distinct = pd.factorize(pd.Series(sorted_of, dtype=object))
    record_sorted = np.where(codes >= 0, sorted_codes[codes], -1)
    named = max(int((codes >= 0).sum()), 1)
    per_sorted = np.bincount(record_sorted[record_sorted >= 0], minlength=len(sorted_distinct))
    counts = np.where(record_sorted >= 0, per_sorted[record_sorted], 0).astype(float)
    shares = _shares_of_words(words_of, codes)
    first = [w[0] if w else None for w in words_of]
    last = [w[-1] if w else None for w in words_of]

    birth = records["birth_date"]
    snap = records["snapshot_date"]
    age = records["age_reported"].astype("Float64")
    year_from_age = (snap.dt.year - age).astype(float)
    year = birth.dt.year.astype(float).where(birth.notna(), year_from_age.to_numpy())
    digits = _digits(records["nik"])
    nik_birth, nik_yy, nik_sex = _nik_fields(digits, records["nik"].notna().to_numpy())
    source_index = records["source"].map({s: i for i, s in enumerate(SOURCES)})
    features = Features(
        n=len(records),
        source=source_index.to_numpy(dtype=np.int8),
        name=_take(list(distinct), codes),
        name_sorted=_take(sorted_of, codes),
        first_word=_take(first, codes),
        last_word=_take(last, codes),
        phonetic=_take([" ".join(sorted(word_key(x) for x in w)) for w in words_of], codes),
        name_words=np.append([len(w) for w in words_of], 0)[codes].astype(np.int64),
        name_frequency=counts / named,
        name_chance=_name_chance(words_of, codes, shares, counts),
        first_share=np.append([shares.get(w, 0.0) if w else 0.0 for w in first], 0.0)[codes],
        last_share=np.append([shares.get(w, 0.0) if w else 0.0 for w in last], 0.0)[codes],
        birth=birth.to_numpy(dtype="datetime64[D]"),
        year=year.to_numpy(dtype=float),
        year_known=birth.notna().to_numpy(),
        month=birth.dt.month.astype(float).to_numpy(),
        day=birth.dt.day.astype(float).to_numpy(),
        sex=_objects(records["sex"]),
        nik=_objects(records["nik"]),
        nik_digits=digits,
        nik_birth=nik_birth,
        nik_yy=nik_yy,
        nik_sex=nik_sex,
        kk=_objects(records["kk"]),
        kec=_objects(records["kec_code"]),
        desa=_objects(records["desa_code"]),
        mother=_objects(fold_spelling(records["mother_name"])),
    )
    # The name codes are known already: equal names, equal codes; -1 for none.
    features._codes["name"] = codes
    features._codes["name_sorted"] = record_sorted
    return features
