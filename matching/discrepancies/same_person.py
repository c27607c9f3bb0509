"""Whether two rows of one resident name the same person: name similarity after folding old
and new spellings, the score from which two names are one person's, and how two names of one
person differ (``name_variant``: a transposition, a typo, a dropped word, an initial)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Levenshtein

from matching.names import fold_spelling

#: Two rows of one resident name the same person from this similarity (``name_scores``);
#: registry rows sharing a NIK below it are "clearly different people".
SAME_PERSON_SCORE = 80.0


def name_scores(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Similarity 0-100 of aligned names after folding old and new spellings; the better of
    word-order-free and word-subset comparison, so an abbreviated or dropped word (``RINA L``,
    ``ENDAH IFA``) still scores high."""
    a = fold_spelling(left.astype("string").reset_index(drop=True)).fillna("")
    b = fold_spelling(right.astype("string").reset_index(drop=True)).fillna("")
    if len(a) == 0:
        return np.zeros(0)
    a_text, b_text = a.to_numpy(dtype=str), b.to_numpy(dtype=str)
    by_sort = process.cpdist(a_text, b_text, scorer=fuzz.token_sort_ratio, workers=-1)
    by_set = process.cpdist(a_text, b_text, scorer=fuzz.token_set_ratio, workers=-1)
    return np.maximum(by_sort, by_set)


def _word_change(a: str, b: str) -> str | None:
    """How word ``b`` is word ``a`` written otherwise: ``""`` (the same), ``transposition``,
    ``typo`` (one letter added, lost or changed), ``initial``; None when it is another word."""
    if a == b:
        return ""
    if (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b)):
        return "initial"
    if OSA.distance(a, b) == 1 and min(len(a), len(b)) >= 3:
        return "transposition" if Levenshtein.distance(a, b) == 2 else "typo"
    return None


def _change(a: tuple[str, str], b: tuple[str, str]) -> str | None:
    """``_word_change`` of two (word, folded word) pairs: as written, else as folded (old and
    new spellings, doubled letters)."""
    if a[0] == b[0]:
        return ""
    if a[1] == b[1]:
        return "old/new spelling"
    change = _word_change(a[0], b[0])
    return change if change is not None else _word_change(a[1], b[1])


_RANKS = ("", "old/new spelling", "transposition", "typo", "initial")


def name_variant(left: str | None, right: str | None) -> str | None:
    """How two normalised names of one person differ, or None when they are not one name.

    Two names are one name written otherwise when every word of the name with fewer words is
    a word of the other one, as written or in an old or new spelling, or that word with one
    typo or two adjacent letters swapped (``SITI``/``STII``), or its initial; the other
    name's remaining words were dropped (``MUHAMMAD RIZKY PRATAMA``/``MUHAMAD PRATAMA``).
    At least one word must be a whole word, not an initial. Returns ``"same name"``, or the
    changes joined by ``" + "`` (``"dropped word + typo"``, ``"word order"``).

    This is looser than ``name_scores``: short names lose a quarter of their similarity to
    one swap (``DEWI``/``DWEI`` scores 75), so it is meant for rows that agree on what sets
    a person apart already (the NIK and the birth date).
    """
    if not left or not right:
        return None
    if left == right:
        return "same name"
    words_a, words_b = left.split(), right.split()
    folded = fold_spelling(pd.Series(words_a + words_b, dtype="string")).fillna("")
    a = list(zip(words_a, folded.iloc[: len(words_a)], strict=True))
    b = list(zip(words_b, folded.iloc[len(words_a) :], strict=True))
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    unused = list(long)
    changes: list[str] = []
    whole = 0
    in_order = True
    for position, word in enumerate(short):
        # The closest unused word: the same word first, then a spelling, then a letter off.
        found = None
        for rank in _RANKS:
            found = next((w for w in unused if _change(word, w) == rank), None)
            if found is not None:
                break
        if found is None:
            return None
        in_order &= long.index(found) >= position
        unused.remove(found)
        change = _change(word, found)
        whole += change != "initial"
        if change:
            changes.append(str(change))
    if whole == 0:
        return None
    if unused:
        changes.insert(0, "dropped word" if len(unused) == 1 else "dropped words")
    if not changes or not in_order:
        changes.append("word order")
    return " + ".join(dict.fromkeys(changes))
