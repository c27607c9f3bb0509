"""Comparisons: for each candidate pair and field, an agreement level.

Each comparison turns the two records' features into a small integer level per pair: ``-1``
is the null level (a value is missing on either side: no evidence either way), ``0`` the
"else" level (clear disagreement), higher levels stronger agreement. Strings are scored with
RapidFuzz ``process.cpdist`` on aligned numpy arrays with native scorers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from matching.features import Features

NULL = -1


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # label per level 0..k-1 ("else" first)
    compute: Callable[[Features, np.ndarray, np.ndarray], np.ndarray]
    tf_level: int | None = None  # the level whose weight is adjusted by name frequency
    word_tf_level: int | None = None  # the level adjusted by the shared word's frequency
    #: Near-agreement levels adjusted by how rare the names are (see ``score``).
    fuzzy_tf_levels: tuple[int, ...] = ()
    #: Features field whose exact agreement is the top level; its u is then computed from
    #: value frequencies (the chance two random records share a value) instead of sampled.
    exact_on: str | None = None


class NameLevel(IntEnum):
    ELSE = 0
    ONE_WORD = 1  # one word in common, or nearly
    SIMILAR_70 = 2
    SIMILAR_84_OR_SOUND = 3  # similarity >= 84, or the same phonetic key
    SIMILAR_92 = 4
    EXACT = 5


class BirthLevel(IntEnum):
    ELSE = 0
    WITHIN_WEEK = 1  # within 7 days; or, with only an age on one side, the year within one
    DIGIT_ERROR = 2  # one digit wrong or two neighbouring digits swapped
    YEAR_OFF = 3  # the year off by one, day and month the same
    DAY_MONTH_SWAPPED = 4
    EXACT = 5


class SexLevel(IntEnum):
    DIFFER = 0
    SAME = 1


class NikLevel(IntEnum):
    ELSE = 0
    DATE_TYPO = 1  # one wrong digit or a transposition in the birth-date part only
    EXACT = 2


class NikFitLevel(IntEnum):
    CONTRADICTS = 0  # the birth date and sex one record's NIK encodes do not fit the other
    FITS = 1


class FamilyLevel(IntEnum):
    DIFFER = 0
    SAME_MOTHER = 1
    SAME_CARD = 2


class PlaceLevel(IntEnum):
    OTHER_KECAMATAN = 0
    SAME_KECAMATAN = 1
    SAME_DESA = 2


def _missing(f: Features, name: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    null = f.null(name)
    return null[left] | null[right]


def _strings(f: Features, name: str, index: np.ndarray) -> np.ndarray:
    """Object array of the picked strings ("" for null), sharing the Python strings."""
    picked = getattr(f, name)[index]
    picked[f.null(name)[index]] = ""
    return picked


def name_similarity(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """0-100: order-free similarity of folded names; a subset match needs two shared words."""
    a, b = _strings(f, "name_sorted", left), _strings(f, "name_sorted", right)
    if len(a) == 0:
        return np.zeros(0)
    sort = process.cpdist(a, b, scorer=fuzz.ratio, workers=-1)
    subset = process.cpdist(a, b, scorer=fuzz.token_set_ratio, workers=-1)
    words = np.minimum(f.name_words[left], f.name_words[right])
    return np.where(words >= 2, np.maximum(sort, subset * 0.97), sort)


#: Two words this close (Jaro-Winkler) are taken for one word misspelt: COCHRANE / COCHARNE.
WORD_SIMILARITY = 0.9


def _word_pairs(f: Features, left: np.ndarray, right: np.ndarray):  # type: ignore[no-untyped-def]
    """The four pairings of the two names' first and last words, each with the agreement
    (Jaro-Winkler >= WORD_SIMILARITY) and the larger share of records holding either word."""
    shares = {"first": f.first_share, "last": f.last_share}
    for a, b in (("first", "first"), ("last", "last"), ("first", "last"), ("last", "first")):
        x, y = _strings(f, f"{a}_word", left), _strings(f, f"{b}_word", right)
        similar = process.cpdist(x, y, scorer=JaroWinkler.normalized_similarity, workers=-1)
        known = ~(f.null(f"{a}_word")[left] | f.null(f"{b}_word")[right])
        yield (similar >= WORD_SIMILARITY) & known, np.maximum(shares[a][left], shares[b][right])


def _by_name_pair(
    f: Features,
    left: np.ndarray,
    right: np.ndarray,
    compute: Callable[[Features, np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """``compute`` of pairs whose result depends on the two names alone (in either order),
    run once per distinct pair of names: a person's records in three sources, and their
    family's, put the same two names in many candidate pairs (about five per distinct pair
    in a generated kab/kota)."""
    if len(left) == 0:
        return compute(f, left, right)
    codes = f.codes("name").astype(np.int64) + 1  # 0: no name
    a, b = codes[left], codes[right]
    key = np.minimum(a, b) * (int(codes.max()) + 1) + np.maximum(a, b)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return compute(f, left[first], right[first])[inverse]


def _shared_word_frequency(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    out = np.ones(len(left))
    for agree, share in _word_pairs(f, left, right):
        out = np.where(agree, np.minimum(out, share), out)
    return out


def shared_word_frequency(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For pairs whose names agree on a word, the share of records holding the rarest such
    word (the chance a stranger would agree on it); 1 where no word agrees."""
    return _by_name_pair(f, left, right, _shared_word_frequency)


def _same(f: Features, name: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Both records have feature ``name`` and it is equal."""
    codes = f.codes(name)
    return (codes[left] == codes[right]) & (codes[left] >= 0)


def _name(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    codes = f.codes("name_sorted")
    a, b = codes[left], codes[right]
    level = np.where((a < 0) | (b < 0), NULL, NameLevel.EXACT)
    inexact = np.flatnonzero((a != b) & (a >= 0) & (b >= 0))
    level[inexact] = _by_name_pair(f, left[inexact], right[inexact], _name_levels)
    return level


def _name_levels(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    exact = _same(f, "name_sorted", left, right)
    phonetic = _same(f, "phonetic", left, right)
    score = np.full(len(left), 100.0)
    inexact = np.flatnonzero(~exact)
    score[inexact] = name_similarity(f, left[inexact], right[inexact])
    level = np.select(
        [exact, score >= 92, (score >= 84) | phonetic, score >= 70],
        [NameLevel.EXACT, NameLevel.SIMILAR_92, NameLevel.SIMILAR_84_OR_SOUND,
         NameLevel.SIMILAR_70],
        default=NameLevel.ELSE,
    )  # fmt: skip
    # One word in common, or nearly (dropped or replaced names, a misspelt word): weak
    # evidence in general, and its weight follows how rare the shared word is.
    rest = np.flatnonzero(level == NameLevel.ELSE)
    partial = np.zeros(len(rest), dtype=bool)
    for agree, _ in _word_pairs(f, left[rest], right[rest]):
        partial |= agree
    level[rest[partial]] = NameLevel.ONE_WORD
    return np.where(_missing(f, "name_sorted", left, right), NULL, level)


def _date_digits(f: Features) -> np.ndarray:
    """The eight digits of each record's birth date as YYYYMMDD (zeros where missing)."""
    number = np.nan_to_num(f.year * 10_000 + f.month * 100 + f.day).astype(np.int64)
    return ((number[:, None] // 10 ** np.arange(7, -1, -1)) % 10).astype(np.int8)


def _one_digit_or_transposed(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Dates written as YYYYMMDD that differ in one digit or in two neighbouring digits
    swapped: the keying errors of a clerk copying a date (1935 / 1953, 0112 / 1012)."""
    digits = f.cached("date_digits", _date_digits)
    a, b = digits[left], digits[right]
    differ = a != b
    count = differ.sum(axis=1)
    swapped = (a[:, :-1] == b[:, 1:]) & (a[:, 1:] == b[:, :-1]) & differ[:, :-1] & differ[:, 1:]
    return (count == 1) | ((count == 2) & swapped.any(axis=1))


def _birth_date(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a, b = f.birth[left], f.birth[right]
    missing = np.isnat(a) | np.isnat(b)
    ya, yb = f.year[left], f.year[right]
    ma, mb = f.month[left], f.month[right]
    da, db = f.day[left], f.day[right]
    exact = a == b
    swapped = (ya == yb) & (ma == db) & (da == mb)
    year_off = (np.abs(ya - yb) == 1) & (ma == mb) & (da == db)
    days = np.abs((a - b).astype("timedelta64[D]").astype(np.int64))
    close = days <= 7
    level = np.select(
        [exact, swapped, year_off, close],
        [BirthLevel.EXACT, BirthLevel.DAY_MONTH_SWAPPED, BirthLevel.YEAR_OFF,
         BirthLevel.WITHIN_WEEK],
        default=BirthLevel.ELSE,
    )  # fmt: skip
    # Keying errors, among dates not already placed higher.
    rest = np.flatnonzero((level <= BirthLevel.WITHIN_WEEK) & ~missing)
    level[rest[_one_digit_or_transposed(f, left[rest], right[rest])]] = BirthLevel.DIGIT_ERROR
    # Only a reported age on one side: compare birth years.
    age_only = missing & ~(np.isnan(ya) | np.isnan(yb))
    by_year = np.where(np.abs(ya - yb) <= 1, BirthLevel.WITHIN_WEEK, BirthLevel.ELSE)
    level = np.where(missing, np.where(age_only, by_year, NULL), level)
    return level


def _sex(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    level = _same(f, "sex", left, right).astype(np.int64)
    return np.where(_missing(f, "sex", left, right), NULL, level)


def _nik(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Exact; one wrong digit or a transposition in the birth-date part; else.

    NIKs of two different people born on the same day often differ in one digit of the
    region or the serial (neighbouring kecamatan, serials 0001/0002), so near-misses there
    are no evidence beyond what the birth date and sex comparisons already count
    (docs/domain.md). A near-miss in the date part, with region and serial intact, is a typo.
    """
    missing = _missing(f, "nik", left, right)
    a, b = f.nik_digits[left], f.nik_digits[right]
    differ = a != b
    count = differ.sum(axis=1)
    in_date_only = ~differ[:, :6].any(axis=1) & ~differ[:, 12:].any(axis=1)
    adjacent = differ[:, :-1] & differ[:, 1:]
    swapped = (a[:, :-1] == b[:, 1:]) & (a[:, 1:] == b[:, :-1])
    transposed = (count == 2) & (adjacent & swapped).any(axis=1)
    level = np.select(
        [count == 0, (transposed | (count == 1)) & in_date_only],
        [NikLevel.EXACT, NikLevel.DATE_TYPO],
        NikLevel.ELSE,
    )
    return np.where(missing, NULL, level)


def _nik_vs_record(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Does the birth date and sex one record's NIK encodes fit the other record?

    Only where the birth dates cannot be compared directly (one is missing): otherwise this
    would count the same evidence twice.
    """
    results = []
    for x, y in ((left, right), (right, left)):
        has = (f.nik_birth[x] >= 0) & ~np.isnan(f.month[y])
        fits = (f.nik_birth[x] == (f.month[y] * 100 + f.day[y])) & (
            f.nik_yy[x] == np.mod(f.year[y], 100)
        )
        fits &= f.nik_sex[x] == f.sex[y]
        results.append((has, fits))
    (has_a, fits_a), (has_b, fits_b) = results
    any_has = has_a | has_b
    all_fit = np.where(has_a, fits_a, True) & np.where(has_b, fits_b, True)
    dates_compared = ~(np.isnat(f.birth[left]) | np.isnat(f.birth[right]))
    return np.where(any_has & ~dates_compared, all_fit.astype(np.int64), NULL)


def _family(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Same family card, or (registry rows) a similar mother's name.

    One comparison for both: they are evidence of the same *family* and are strongly
    correlated (twins share both), so counting them separately would count it twice.
    """
    same_card = _same(f, "kk", left, right)
    card_known = ~_missing(f, "kk", left, right)
    mother_known = ~_missing(f, "mother", left, right)
    both = np.flatnonzero(mother_known)
    same_mother = np.zeros(len(left), dtype=bool)
    if len(both):
        a, b = _strings(f, "mother", left[both]), _strings(f, "mother", right[both])
        same_mother[both] = process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=-1) >= 85
    level = np.select(
        [same_card, same_mother],
        [FamilyLevel.SAME_CARD, FamilyLevel.SAME_MOTHER],
        default=FamilyLevel.DIFFER,
    )
    return np.where(card_known | mother_known, level, NULL)


def _place(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    desa = _same(f, "desa", left, right)
    kec = _same(f, "kec", left, right)
    level = np.select(
        [desa, kec],
        [PlaceLevel.SAME_DESA, PlaceLevel.SAME_KECAMATAN],
        default=PlaceLevel.OTHER_KECAMATAN,
    )
    return np.where(_missing(f, "kec", left, right), NULL, level)


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "name",
        ("else", "one word", ">=70", ">=84 or sound", ">=92", "exact"),
        _name,
        tf_level=NameLevel.EXACT,
        word_tf_level=NameLevel.ONE_WORD,
        fuzzy_tf_levels=(NameLevel.SIMILAR_84_OR_SOUND, NameLevel.SIMILAR_92),
        exact_on="name_sorted",
    ),
    Comparison(
        "birth_date",
        (
            "else",
            "within 7 days / year by age",
            "one digit or two swapped",
            "year off by one",
            "day-month swapped",
            "exact",
        ),
        _birth_date,
        exact_on="birth",
    ),
    Comparison("sex", ("differ", "same"), _sex),
    Comparison(
        "nik",
        ("else", "one digit or transposition in the date part", "exact"),
        _nik,
        exact_on="nik",
    ),  # fmt: skip
    Comparison("nik_vs_record", ("contradicts", "fits"), _nik_vs_record),
    Comparison("family", ("differ", "same mother", "same family card"), _family, exact_on="kk"),
    Comparison(
        "place", ("other kecamatan", "same kecamatan", "same desa"), _place, exact_on="desa"
    ),  # fmt: skip
)


#: Each comparison's levels by name; its labels are in the same order.
LEVELS: dict[str, type[IntEnum]] = {
    "name": NameLevel, "birth_date": BirthLevel, "sex": SexLevel, "nik": NikLevel,
    "nik_vs_record": NikFitLevel, "family": FamilyLevel, "place": PlaceLevel,
}  # fmt: skip
assert all(len(LEVELS[c.name]) == len(c.levels) for c in COMPARISONS)


def compare(f: Features, left: np.ndarray, right: np.ndarray, chunk: int = 1_000_000) -> np.ndarray:
    """Levels of every comparison: an int8 matrix, one column per comparison.

    Works through the pairs in chunks so temporary arrays stay small whatever the pair count.
    """
    out = np.empty((len(left), len(COMPARISONS)), dtype=np.int8)
    for start in range(0, len(left), chunk):
        part = slice(start, start + chunk)
        for column, comparison in enumerate(COMPARISONS):
            out[part, column] = comparison.compute(f, left[part], right[part])
    return out
