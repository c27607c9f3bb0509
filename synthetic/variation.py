"""How other agencies copy a registered name or a region name.

KPU mostly copies the registry spelling with a few typos, Muhammad variants and titles dropped
or added; BPS writes what an enumerator heard (more typos, old and new spellings swapped, middle
names dropped, abbreviations). KPU also spells some desa and kecamatan names its own way.

Random choices are drawn as arrays up front; the Python loops only touch the rows a variation
was drawn for (a few percent) and the distinct names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic import pools
from synthetic.names import modern_spelling, old_spelling

_PREFIX_TITLES = frozenset({"H.", "HJ.", "DRS.", "DRA.", "IR.", "DR."})
_MUHAMMAD_WORDS = frozenset(pools.MUHAMMAD_SPELLINGS + pools.MUHAMMAD_ABBREVIATIONS)
_MUHAMMAD_FORMS = pools.MUHAMMAD_SPELLINGS + pools.MUHAMMAD_ABBREVIATIONS
_OLD_MARKS = ("OE", "DJ", "TJ", "NJ", "SJ", "CH")
_VOWELS = "AIUEO"
_NEIGHBOURS = {
    "A": "SQ", "B": "VN", "C": "XV", "D": "SF", "E": "WR", "F": "DG", "G": "FH", "H": "GJ",
    "I": "UO", "J": "HK", "K": "JL", "L": "K", "M": "N", "N": "BM", "O": "IP", "P": "O",
    "R": "ET", "S": "AD", "T": "RY", "U": "YI", "V": "CB", "W": "QE", "Y": "TU", "Z": "X",
}  # fmt: skip


@dataclass(frozen=True)
class NameNoise:
    """Rates (per row) of each change a source makes to a registered name."""

    drop_titles: float  # of titled names
    add_hajj_title: float
    muhammad_variant: float  # of names with a Muhammad word
    spelling_swap: float
    drop_middle: float  # of names with 3+ words
    first_two_only: float  # of names with 3+ words
    abbreviate: float  # of names with 2+ words
    typo: float


KPU_NOISE = NameNoise(0.35, 0.003, 0.2, 0.01, 0.005, 0.0, 0.01, 0.015)
BPS_NOISE = NameNoise(0.8, 0.0, 0.3, 0.06, 0.05, 0.05, 0.03, 0.04)
DOUBLE_REGISTRATION_NOISE = NameNoise(0.3, 0.02, 0.4, 0.1, 0.05, 0.0, 0.05, 0.2)


def _split(name: str) -> tuple[list[str], list[str], str]:
    """Prefix titles, name words, and the suffix text (``, S.PD.``)."""
    head, comma, tail = name.partition(",")
    tokens = head.split()
    k = 0
    while k < len(tokens) - 1 and tokens[k] in _PREFIX_TITLES:
        k += 1
    return tokens[:k], tokens[k:], (comma + tail) if comma else ""


def _join(prefix: list[str], words: list[str], suffix: str) -> str:
    return " ".join(prefix + words) + suffix


def typo(word: str, u: np.ndarray) -> str:
    """One keyboard or hearing slip in ``word``: substitution, deletion, doubling or swap."""
    if len(word) < 3:
        return word
    i = 1 + int(u[0] * (len(word) - 1))
    op = int(u[1] * 4)
    ch = word[i]
    if op == 0:
        pool = _VOWELS.replace(ch, "") if ch in _VOWELS else _NEIGHBOURS.get(ch, "N")
        return word[:i] + pool[int(u[2] * len(pool))] + word[i + 1 :]
    if op == 1 and len(word) > 3:
        return word[:i] + word[i + 1 :]
    if op == 2:
        return word[:i] + ch + word[i:]
    j = min(i, len(word) - 2)
    if word[j] == word[j + 1]:
        return word[:i] + word[i + 1 :]
    return word[:j] + word[j + 1] + word[j] + word[j + 2 :]


def _change(name: str, kind: str, u: np.ndarray, sex: int) -> str:
    prefix, words, suffix = _split(name)
    if not words:
        return name
    if kind == "add_hajj_title":
        if not prefix:
            prefix = [pools.HAJJ_PREFIX.get(sex, "H.")]
    elif kind == "muhammad_variant":
        for k, w in enumerate(words):
            if w in _MUHAMMAD_WORDS:
                options = [f for f in _MUHAMMAD_FORMS if f != w]
                words[k] = options[int(u[0] * len(options))]
                break
    elif kind == "spelling_swap":
        text = " ".join(words)
        if any(mark in text for mark in _OLD_MARKS):
            words = modern_spelling(text).split()
        else:
            k = int(u[0] * len(words))
            words[k] = old_spelling(words[k], 1 if u[1] < 0.7 else 2)
    elif kind == "drop_middle" and len(words) >= 3:
        del words[1 + int(u[0] * (len(words) - 2))]
    elif kind == "first_two_only" and len(words) >= 3:
        words = words[:2]
    elif kind == "abbreviate" and len(words) >= 2:
        k = 1 + int(u[0] * (len(words) - 1))
        if not words[k].endswith("."):
            words[k] = words[k][0] + "."
    elif kind == "typo":
        candidates = [k for k, w in enumerate(words) if len(w) >= 3 and not w.endswith(".")]
        if candidates:
            k = candidates[int(u[0] * len(candidates))]
            words[k] = typo(words[k], u[1:])
    return _join(prefix, words, suffix)


_MUHAMMAD_PATTERN = (
    "(?:^| )(?:" + "|".join(w.replace(".", r"\.") for w in sorted(_MUHAMMAD_WORDS)) + ")(?: |$)"
)


def _word_counts(bare: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(number of words, has a Muhammad word) of names without titles."""
    text = pd.Series(bare, dtype=object)
    n_words = text.str.count(" ").to_numpy() + 1
    muhammad = text.str.contains(_MUHAMMAD_PATTERN, regex=True).to_numpy(dtype=bool)
    return n_words, muhammad


def vary_names(
    rng: np.random.Generator,
    registered: np.ndarray,
    bare: np.ndarray,
    sex: np.ndarray,
    noise: NameNoise,
) -> np.ndarray:
    """A source's copy of each registered name (object array, same order)."""
    n = len(registered)
    titled = registered != bare
    out = np.where(titled & (rng.random(n) < noise.drop_titles), bare, registered).astype(object)
    n_words, muhammad = _word_counts(bare)
    applicable = {
        "add_hajj_title": ~titled,
        "muhammad_variant": muhammad,
        "spelling_swap": np.ones(n, dtype=bool),
        "drop_middle": n_words >= 3,
        "first_two_only": n_words >= 3,
        "abbreviate": n_words >= 2,
        "typo": np.ones(n, dtype=bool),
    }
    for kind, mask in applicable.items():
        rate = getattr(noise, kind)
        if rate <= 0:
            continue
        rows = np.flatnonzero(mask & (rng.random(n) < rate))
        u = rng.random((len(rows), 4))
        for j, i in enumerate(rows):
            out[i] = _change(str(out[i]), kind, u[j], int(sex[i]))
    return out


_CLUSTERS = ("GR", "BR", "KR", "PR", "TR", "DR", "GL", "KL", "PL", "BL", "SR")
_SPLIT_AFTER = ("SUNGAI", "TANJUNG", "BANUA", "MUARA", "KAMPUNG", "PASAR", "BATU", "BUKIT",
                "KUALA", "TELUK", "LUBUK", "PADANG", "SIDO", "SUKA", "KARANG", "TANAH")  # fmt: skip
_VOWEL_SWAP = {"A": "E", "E": "A", "I": "E", "U": "O", "O": "U"}


def misspell_place(name: str, u: np.ndarray) -> str:
    """Another agency's spelling of a region name (BUKIT INTAN -> BUKITINTAN, GROGOL ->
    GEROGOL, a vowel change, a split or doubled letter). Always differs from ``name``."""
    options: list[str] = []
    if " " in name:
        spaces = [i for i, c in enumerate(name) if c == " "]
        i = spaces[int(u[0] * len(spaces))]
        options.append(name[:i] + name[i + 1 :])
    for cluster in _CLUSTERS:
        i = name.find(cluster)
        if i >= 0:
            options.append(name[: i + 1] + "E" + name[i + 1 :])
            break
    for word in _SPLIT_AFTER:
        if name.startswith(word) and len(name) > len(word) + 2 and name[len(word)] != " ":
            options.append(word + " " + name[len(word) :])
    vowels = [i for i, c in enumerate(name) if c in _VOWEL_SWAP and 0 < i < len(name) - 1]
    if vowels:
        i = vowels[int(u[1] * len(vowels))]
        options.append(name[:i] + _VOWEL_SWAP[name[i]] + name[i + 1 :])
    letters = [i for i, c in enumerate(name) if c.isalpha() and c not in _VOWELS and i > 0]
    if letters:
        i = letters[int(u[2] * len(letters))]
        options.append(name[: i + 1] + name[i:])
    options = [o for o in options if o != name]
    if not options:
        return name + "A"
    return options[int(u[3] * len(options))]
