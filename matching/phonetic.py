"""An Indonesian phonetic key: Soundex after folding old spellings.

Published work on Indonesian name matching uses a modified Soundex on names whose old
spellings were first normalised (``matching.names.fold_spelling``); no maintained library
does it, so padu owns it. Each word keeps its first letter; the rest become digit classes
(labials 1, sibilants and velars 2, dentals 3, L 4, nasals 5, R 6), vowels and H/W/Y drop
out, repeats collapse, and the code is cut to four characters.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

_CLASSES = str.maketrans(
    "BPFVCGJKQSXZDTLMNR",
    "111122222222334556",
)
_SILENT = set("AEIOUHWY")


@lru_cache(maxsize=200_000)
def word_key(word: str) -> str:
    if not word:
        return ""
    first, rest = word[0], word[1:].replace("NG", "N").replace("NY", "N")
    code = []
    previous = first.translate(_CLASSES)
    for letter in rest:
        if letter in _SILENT:
            previous = ""
            continue
        digit = letter.translate(_CLASSES)
        if digit != previous and digit.isdigit():
            code.append(digit)
        previous = digit
    return (first + "".join(code))[:4]


def phonetic_words(folded: pd.Series) -> pd.Series:
    """Space-separated phonetic code of each word of folded names (null stays null)."""
    codes, uniques = pd.factorize(folded.astype("string"), use_na_sentinel=True)
    keyed = [" ".join(word_key(w) for w in str(v).split()) for v in uniques]
    values = pd.array([*keyed, pd.NA], dtype="string")
    return pd.Series(values[codes], index=folded.index, dtype="string")
