"""Blocking: which pairs of records are compared at all.

Several rules, each a key per record (some rules give a record two keys); two records are a
candidate pair when they share a key under any rule. The union of the rules is what gets
compared, and each pair remembers which rules found it (a bit mask).

A block of more than ``max_block`` records (the SITI AMINAH born on 1 January problem) would
cost quadratic work and carries little evidence: it is skipped for that rule and reported,
so an operator sees what was capped. Other rules still reach those records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.features import Features

DEFAULT_MAX_BLOCK = 200
#: A name (sound) shared by at most this many records is rare enough to compare on alone.
RARE_NAME = 10


def _series(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="object")


def _join(*parts: pd.Series) -> pd.Series:
    """One integer key from several parts (null if any part is null).

    Each part is factorised and the codes are combined arithmetically, which is an order of
    magnitude faster than joining strings over millions of records.
    """
    combined = np.zeros(len(parts[0]), dtype=np.int64)
    missing = np.zeros(len(parts[0]), dtype=bool)
    for part in parts:
        codes, uniques = pd.factorize(part, use_na_sentinel=True)
        missing |= codes < 0
        combined = combined * (len(uniques) + 1) + codes
    return pd.Series(combined, index=parts[0].index).where(~missing).astype("Int64")


def _first_phonetic(f: Features) -> pd.Series:
    from matching.phonetic import word_key

    codes, uniques = pd.factorize(_series(f.first_word), use_na_sentinel=True)
    keyed = np.array([word_key(w) for w in uniques] + [None], dtype=object)
    return pd.Series(keyed[codes], dtype=object)


def _no_birth_date(f: Features) -> np.ndarray:
    return np.isnat(f.birth)


def _nik_region_serial(f: Features) -> list[pd.Series]:
    nik = _series(f.nik).astype("string")
    return [_join(nik.str.slice(0, 6), nik.str.slice(12, 16), _series(f.phonetic))]


def _birth_date_sex_prefix(f: Features) -> list[pd.Series]:
    """Birth date, sex and the first two letters of one name word: a key per word.

    Birth date and sex alone make blocks of a dozen strangers per day in a kab/kota of
    300,000 people; sharing the start of any one word as well removes most of them while
    keeping the same person whose other words were misspelt (MICHAELA / MICHAFLA), dropped,
    replaced or reordered. One letter was not enough: S (SITI, SRI, SUSANTI) and M
    (MUHAMMAD) start so many words that the blocks grew with the population (6.1M pairs at
    1.27M rows, against 3.1M with two letters, at the same accuracy).
    """
    birth = pd.Series(f.birth)
    # Records of unknown sex still block with each other on the date alone.
    date_sex = _join(birth, _series(f.sex).fillna("?"))
    codes, names = pd.factorize(_series(f.name_sorted), use_na_sentinel=True)
    per_name = pd.Series([sorted({w[:2] for w in str(name).split()}) for name in names])
    initials = per_name.iloc[codes[codes >= 0]].set_axis(np.flatnonzero(codes >= 0)).explode()
    return [_join(date_sex.reindex(initials.index), initials)]


def _phonetic_year(f: Features) -> list[pd.Series]:
    """Same name sound and birth year: survives a wrong day or month. A reported age gives
    the year up to one, so also the year before."""
    phonetic = _series(f.phonetic)
    year = pd.Series(f.year)
    known = pd.Series(f.year_known)
    exact = _join(phonetic, year.astype("Int64"))
    before = _join(phonetic, (year - 1).astype("Int64")).where(~known)
    return [exact, before]


def _rare_name_sound(f: Features) -> list[pd.Series]:
    """Same name sound, whatever the dates: for the birth date that is missing or wrong.
    Only rare names (see ``RARE_NAME``): a common name alone says little and costs much."""
    return [_series(f.phonetic)]


def _phonetic_month_day(f: Features) -> list[pd.Series]:
    """Same name sound, day and month: survives a wrong birth year."""
    month = pd.Series(f.month).astype("Int64")
    day = pd.Series(f.day).astype("Int64")
    return [_join(_series(f.phonetic), month, day)]


def _family_card(f: Features) -> list[pd.Series]:
    return [_join(_series(f.kk), _first_phonetic(f))]


def _name_kecamatan(f: Features) -> list[pd.Series]:
    return [_join(_series(f.name_sorted), _series(f.kec))]


def _nik(f: Features) -> list[pd.Series]:
    return [_series(f.nik)]


@dataclass(frozen=True)
class BlockingRule:
    name: str
    keys: Callable[[Features], list[pd.Series]]
    description: str
    max_block: int | None = None  # this rule's own cap on a block (else the linker's)
    #: Records of which a pair must hold at least one (None: any pair in a block).
    one_of: Callable[[Features], np.ndarray] | None = None


RULES: tuple[BlockingRule, ...] = (
    BlockingRule("nik", _nik, "same NIK"),
    BlockingRule(
        "nik_region_serial",
        _nik_region_serial,
        "same NIK region, serial and name sound (a typo in the NIK's birth-date part), where"
        " one of the two has no birth date (otherwise the birth-date rules find the pair)",
        one_of=_no_birth_date,
    ),
    BlockingRule(
        "birth_date_sex_prefix",
        _birth_date_sex_prefix,
        "same birth date and sex, and one name word starting with the same two letters",
    ),
    BlockingRule("phonetic_year", _phonetic_year, "same name sound and birth year"),
    BlockingRule("phonetic_month_day", _phonetic_month_day, "same name sound, day and month"),
    BlockingRule("family_card", _family_card, "same family card and first-name sound"),
    BlockingRule("name_kecamatan", _name_kecamatan, "same folded name in the same kecamatan"),
    BlockingRule(
        "rare_name_sound",
        _rare_name_sound,
        f"same name sound, for names at most {RARE_NAME} records share (blocks above are"
        " reported as capped)",
        max_block=RARE_NAME,
    ),
)


@dataclass
class RuleReport:
    rule: str
    blocks: int
    pairs: int
    capped_blocks: int
    capped_records: int


@dataclass
class Candidates:
    left: np.ndarray  # int64, left < right
    right: np.ndarray
    rules: np.ndarray  # uint16 bit mask of the rules that found the pair
    reports: list[RuleReport] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.left)


def _pairs_for_keys(
    keys: pd.Series, max_block: int, one_of: np.ndarray | None = None
) -> tuple[np.ndarray, RuleReport]:
    """Every pair of records sharing a key, encoded ``low << 32 | high``, with the report.

    Sorting by key lays each block out contiguously, so the pairs are generated with array
    arithmetic: each record is paired with the records after it in its block.
    """
    keys = keys.dropna()
    if keys.empty:
        return np.zeros(0, dtype=np.int64), RuleReport("", 0, 0, 0, 0)
    codes, _ = pd.factorize(keys)
    rows = keys.index.to_numpy(dtype=np.int64)
    order = np.lexsort((rows, codes))
    codes, rows = codes[order], rows[order]
    # A record with one key twice is in the block once.
    keep = np.r_[True, (codes[1:] != codes[:-1]) | (rows[1:] != rows[:-1])]
    codes, rows = codes[keep], rows[keep]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    size_of = np.repeat(sizes, sizes)
    used = (size_of > 1) & (size_of <= max_block)
    position = np.arange(len(codes))
    later = np.where(used, np.repeat(starts + sizes, sizes) - position - 1, 0)
    first = np.repeat(position, later)
    step = np.arange(len(first)) - np.repeat(np.cumsum(later) - later, later) + 1
    left, right = rows[first], rows[first + step]
    if one_of is not None:
        chosen = one_of[left] | one_of[right]
        left, right = left[chosen], right[chosen]
    encoded = np.minimum(left, right) * (1 << 32) + np.maximum(left, right)
    capped = sizes > max_block
    report = RuleReport(
        "", int(((sizes > 1) & ~capped).sum()), len(encoded), int(capped.sum()),
        len(np.unique(rows[size_of > max_block])),
    )  # fmt: skip
    return encoded, report


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort beats numpy's hashing unique on pair codes)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def candidate_pairs(
    features: Features,
    rules: tuple[BlockingRule, ...] = RULES,
    max_block: int = DEFAULT_MAX_BLOCK,
) -> Candidates:
    """The union of the pairs each rule finds, with a report per rule."""
    encoded_parts: list[np.ndarray] = []
    bit_parts: list[np.ndarray] = []
    reports = []
    for bit, rule in enumerate(rules):
        keys = pd.concat(rule.keys(features))
        one_of = rule.one_of(features) if rule.one_of else None
        encoded, report = _pairs_for_keys(keys, rule.max_block or max_block, one_of)
        encoded = _distinct(encoded)
        report.rule = rule.name
        report.pairs = len(encoded)
        reports.append(report)
        encoded_parts.append(encoded)
        bit_parts.append(np.full(len(encoded), 1 << bit, dtype=np.uint16))
    if not encoded_parts:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty, np.zeros(0, dtype=np.uint16), reports)
    encoded = np.concatenate(encoded_parts)
    bits = np.concatenate(bit_parts)
    order = np.argsort(encoded, kind="stable")
    encoded, bits = encoded[order], bits[order]
    start = np.flatnonzero(np.r_[True, encoded[1:] != encoded[:-1]]) if len(encoded) else order
    unique = encoded[start]
    masks = np.bitwise_or.reduceat(bits, start) if len(bits) else bits
    return Candidates(unique >> 32, unique & 0xFFFFFFFF, masks.astype(np.uint16), reports)
