"""Registered names: 1-3 words from weighted pools, old spellings, Balinese names, titles.

This is the name as the civil registry holds it. Per-source copies (KPU, BPS) are derived from
it in ``variation.py``. Everything is vectorised over word-index arrays; Python loops run only
over distinct words or over the few percent of people who carry titles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from synthetic import pools

#: New -> old spelling (pre-1972 EYD), applied in this order (NY/SY before Y, J before Y;
#: KH and H before a consonant become CH: KHAIRUL -> CHAIRUL, RAHMAT -> RACHMAT).
OLD_SPELLING_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), old)
    for pattern, old in (
        ("U", "OE"),
        ("J", "DJ"),
        ("C", "TJ"),
        ("NY", "NJ"),
        ("SY", "SJ"),
        ("KH", "CH"),
        ("(?<=[AEIOU])H(?=[BDFGJKLMNPQRSTVWZ])", "CH"),
        ("Y", "J"),
    )
)
_VOWELS = frozenset("AEIOU")
_DOUBLABLE = frozenset("LSMNRDT")


def old_spelling(word: str, variant: int) -> str:
    """An old spelling of ``word``: 0 all rules, 1 the first applicable rule, 2 a doubled
    consonant (HASAN -> HASSAN). Returns ``word`` itself when nothing applies."""
    if word in pools.MUHAMMAD_SPELLINGS or word.endswith("."):
        return word
    if variant == 2:
        for i in range(1, len(word) - 1):
            if word[i] in _DOUBLABLE and word[i - 1] in _VOWELS and word[i + 1] in _VOWELS:
                return word[: i + 1] + word[i:]
        return word
    out = word
    for pattern, old in OLD_SPELLING_RULES:
        out, count = pattern.subn(old, out)
        if count and variant == 1:
            break
    return out


def modern_spelling(name: str) -> str:
    """Modernise an old-spelled name (DJOEKO -> JUKO, TJAHJO -> CAHYO). J -> Y only when the
    name clearly is old-spelled, so that JOKO stays JOKO."""
    old_marks = ("OE", "DJ", "TJ", "NJ", "SJ", "CH")
    if not any(mark in name for mark in old_marks):
        return name
    out = name.replace("OE", "U").replace("TJ", "C").replace("NJ", "NY").replace("SJ", "SY")
    out = out.replace("CH", "H").replace("DJ", "#").replace("J", "Y").replace("#", "J")
    return out


@dataclass(frozen=True)
class NameInputs:
    """Per-person facts that shape a name (all arrays of equal length)."""

    sex: np.ndarray  # 1 male, 2 female
    birth_year: np.ndarray
    muslim: np.ndarray  # bool
    balinese: np.ndarray  # bool
    birth_order: np.ndarray  # 1.. for Balinese order names; 0 = unknown
    surname: np.ndarray  # object: family surname to end the name with, or ""
    education: np.ndarray  # PDDK_AKH code, 0 = unknown (no titles)
    age: np.ndarray  # completed years on the snapshot date


def _join(words: list[np.ndarray]) -> np.ndarray:
    """Join object arrays of words (empty string = absent) with single spaces."""
    out = words[0].copy()
    for more in words[1:]:
        sep = np.where(more == "", "", " ").astype(object)
        out = out + sep + more
    return out


def _sample(pool: pools.WeightedPool, rng: np.random.Generator, size: int) -> np.ndarray:
    return pool.words[pool.sample(rng, size)]


def _by_sex(
    rng: np.random.Generator, pool: dict[int, pools.WeightedPool], sex: np.ndarray
) -> np.ndarray:
    out = np.empty(len(sex), dtype=object)
    for code in (1, 2):
        idx = np.flatnonzero(sex == code)
        out[idx] = _sample(pool[code], rng, len(idx))
    return out


def _old_spell(words: np.ndarray, variant: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """Old-spell the flagged entries, computing each (word, variant) pair once."""
    out = words.copy()
    idx = np.flatnonzero(flagged & (words != ""))
    if len(idx) == 0:
        return out
    keys = np.char.add(words[idx].astype(str), np.char.add("|", variant[idx].astype(str)))
    uniq, inverse = np.unique(keys, return_inverse=True)
    mapped = np.array(
        [old_spelling(k.split("|")[0], int(k.split("|")[1])) for k in uniq], dtype=object
    )
    out[idx] = mapped[inverse]
    return out


def _balinese(rng: np.random.Generator, inputs: NameInputs, idx: np.ndarray) -> list[np.ndarray]:
    """Words of Balinese names for persons ``idx``: I/NI, birth-order name, 1-2 given names."""
    n = len(idx)
    sex = inputs.sex[idx]
    order = inputs.birth_order[idx].copy()
    unknown = order <= 0
    order[unknown] = rng.integers(1, 5, unknown.sum())
    slot = np.minimum(order, 4) - 1
    pick = rng.random(n)
    order_word = np.empty(n, dtype=object)
    for s in range(4):
        for code, table in ((1, pools.BALINESE_ORDER_MALE), (2, pools.BALINESE_ORDER_FEMALE)):
            m = (slot == s) & (sex == code)
            options = np.array(table[s], dtype=object)
            order_word[m] = options[(pick[m] * len(options)).astype(int)]
    prefix = np.where(sex == 1, "I", "NI").astype(object)
    given = np.empty((2, n), dtype=object)
    for code, pool in ((1, pools.BALINESE_GIVEN_MALE), (2, pools.BALINESE_GIVEN_FEMALE)):
        m = sex == code
        arr = np.array(pool, dtype=object)
        given[:, m] = arr[rng.integers(0, len(arr), (2, m.sum()))]
    second = np.where(rng.random(n) < 0.45, given[1], "").astype(object)
    second = np.where(second == given[0], "", second).astype(object)
    return [prefix, order_word, given[0], second]


def _titles(rng: np.random.Generator, inputs: NameInputs, bare: np.ndarray) -> np.ndarray:
    """Add hajj, academic prefix and suffix titles to a few percent of adults."""
    n = len(bare)
    age, edu, sex = inputs.age, inputs.education, inputs.sex
    u = rng.random((n, 4))
    hajj = inputs.muslim & (age >= 40) & (u[:, 0] < 0.07)
    degree = (age >= 24) & (edu >= 7) & (u[:, 1] < 0.3)
    titled = np.flatnonzero(hajj | degree)
    out = bare.copy()
    for i in titled:
        prefixes: list[str] = []
        suffixes: list[str] = []
        s = int(sex[i])
        options: tuple[str, ...]
        if degree[i]:
            old_school = inputs.birth_year[i] < 1975 and edu[i] >= 8 and u[i, 2] < 0.4
            if old_school:
                options = pools.ACADEMIC_PREFIX[s]
                prefixes.append(options[int(u[i, 3] * len(options))])
            elif edu[i] == 7:
                suffixes.append(pools.DIPLOMA_SUFFIX)
            else:
                options = pools.BACHELOR_SUFFIXES
                suffixes.append(options[int(u[i, 3] * len(options))])
                if edu[i] >= 9:
                    options = pools.MASTER_SUFFIXES
                    suffixes.append(options[int(u[i, 2] * len(options))])
        if hajj[i]:
            prefixes.append(pools.HAJJ_PREFIX[s])
        name = " ".join([*prefixes, str(bare[i])])
        if suffixes:
            name = name + ", " + ", ".join(suffixes)
        out[i] = name
    return out


def build_names(
    rng: np.random.Generator, inputs: NameInputs, *, titles: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Registered names: ``(bare, registered)`` object arrays; ``registered`` carries titles."""
    n = len(inputs.sex)
    p_words = np.select(
        [inputs.birth_year < 1960, inputs.birth_year < 1985],
        [0, 1],
        2,
    )
    table = np.array([[0.4, 0.45, 0.15], [0.2, 0.55, 0.25], [0.06, 0.5, 0.44]])
    cum = table.cumsum(axis=1)[p_words]
    n_words = 1 + (rng.random(n)[:, None] > cum).sum(axis=1)
    n_words = np.minimum(n_words, 3)

    w1 = _by_sex(rng, pools.name_pools().first, inputs.sex)
    w2 = _by_sex(rng, pools.name_pools().later, inputs.sex)
    w3 = _by_sex(rng, pools.name_pools().later, inputs.sex)
    muhammad = inputs.muslim & (inputs.sex == 1) & (rng.random(n) < 0.14)
    spelling = rng.choice(len(pools.MUHAMMAD_SPELLINGS), n, p=pools.MUHAMMAD_WEIGHTS)
    w1 = np.where(muhammad, np.array(pools.MUHAMMAD_SPELLINGS, dtype=object)[spelling], w1)
    n_words = np.where(muhammad, np.maximum(n_words, 2), n_words)
    # Older records abbreviate Muhammad (no longer allowed for new registrations).
    abbreviate = muhammad & (inputs.birth_year < 1980) & (rng.random(n) < 0.25)
    abbrev = np.array(pools.MUHAMMAD_ABBREVIATIONS, dtype=object)
    w1 = np.where(abbreviate, abbrev[rng.integers(0, len(abbrev), n)], w1)
    w3 = np.where(w3 == w2, "", w3)
    w2 = np.where(n_words >= 2, w2, "").astype(object)
    w3 = np.where(n_words >= 3, w3, "").astype(object)
    # A family surname replaces the last word (Batak-style or patronymic use).
    has_surname = (inputs.surname != "") & (n_words >= 2)
    w3 = np.where(has_surname & (n_words == 3), inputs.surname, w3)
    w2 = np.where(has_surname & (n_words == 2), inputs.surname, w2)

    old = np.where(inputs.birth_year < 1972, rng.random(n) < 0.55, rng.random(n) < 0.02)
    variant = rng.choice(3, n, p=[0.5, 0.35, 0.15])
    words = [_old_spell(w, variant, old) for w in (w1, w2, w3)]

    bali = np.flatnonzero(inputs.balinese)
    if len(bali):
        bali_words = _balinese(rng, inputs, bali)
        words.append(np.full(n, "", dtype=object))
        for k in range(4):
            words[k][bali] = bali_words[k]
    bare = _join(words)
    registered = _titles(rng, inputs, bare) if titles else bare
    return bare, registered
