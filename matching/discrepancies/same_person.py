"""Whether two rows of one resident name the same person: name similarity after folding old
and new spellings, and the score from which two names are one person's."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

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
