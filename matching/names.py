"""Indonesian personal names: title stripping, Muhammad variants, spelling folding.

Two forms come out of here:

* ``normalise_names`` gives the *normalised* name: upper case, titles removed (and returned
  separately, so they can be kept for display), abbreviations and spellings of Muhammad written
  as ``MUHAMMAD``, punctuation removed, spaces collapsed. Spellings are kept as registered.
* ``fold_spelling`` gives the *comparison key*: the normalised name with the old and new
  spellings (oe/u, dj/j, tj/c, j/y, ch/kh/h, sj/sy, nj/ny, th/t, ph/f, dh/d, y/i) and doubled
  letters folded together, so ``DJOKO SOEHARTO`` and ``JOKO SUHARTO`` compare equal.

Both work on the distinct values of a Series only, so repeated names cost nothing.
"""

from __future__ import annotations

import re

import pandas as pd

#: Honorific, religious and nobility titles that precede a name (written without dots).
PREFIX_TITLES = frozenset(
    "H HJ KH DR DRS DRA DRG IR PROF R RA RM RR TGK T CUT DT TB HAJI HAJJAH".split()
)
#: Academic titles that follow a name (written without dots and spaces).
SUFFIX_TITLES = frozenset(
    """SPD SH SE SKOM ST SSOS SAG AMD MM MPD MSI SKED SGZ SPT SIP SEI SPSI SIKOM SFARM MH MT
    MKOM MAG SKEP SKM SPDI SHI SSI SSTP AMKEP AMDKEB AMKEB APT MKES SPOG SPA SPB SPPD
    MBA PHD BSC SPSIK SAP SHUT STP SPI""".split()
)
#: Spellings and abbreviations of Muhammad (docs/domain.md), written without dots.
MUHAMMAD_VARIANTS = frozenset(
    """MUHAMMAD MUHAMAD MOHAMMAD MOHAMAD MOCHAMMAD MOCHAMAD MOHAMMED MUHAMMED MOHAMED
    MUCHAMMAD MUCHAMAD M MOH MUH MHD MOCH MUCH MUHD MOHD""".split()
)

_SEPARATORS = re.compile(r"[^A-Z' ]+")

# Old -> new spelling and other variation, applied in this order to build the comparison key.
_FOLDS: list[tuple[str, str]] = [
    ("OE", "U"),
    ("DJ", "J"),
    ("TJ", "C"),
    ("SJ", "SY"),
    ("NJ", "NY"),
    ("CH", "H"),
    ("KH", "H"),
    ("J", "Y"),
    ("TH", "T"),
    ("PH", "F"),
    ("DH", "D"),
    ("Y", "I"),
]
_DOUBLED = re.compile(r"([A-Z])\1+")


_PLAIN = re.compile(r"[A-Z]+(?: [A-Z]+)*")
_SPECIAL_WORDS = PREFIX_TITLES | SUFFIX_TITLES | MUHAMMAD_VARIANTS


def _normalise_one(raw: str) -> tuple[str, str]:
    # Most names are already plain upper-case words with nothing to strip or rewrite.
    if _PLAIN.fullmatch(raw) and _SPECIAL_WORDS.isdisjoint(raw.split(" ")):
        return raw, ""
    text = raw.upper().replace("`", "'")
    # Everything after the first comma is a list of academic titles ("BUDI, S.PD., M.M.").
    head, _, tail = text.partition(",")
    # Split so that dotted groups ("S.PD.", "H.") can be recognised whole.
    merged: list[str] = []
    for word in head.replace(".", ". ").split():
        if merged and merged[-1].endswith(".") and word.endswith("."):
            candidate = merged[-1] + word
            if candidate.replace(".", "") in SUFFIX_TITLES:
                merged[-1] = candidate
                continue
        merged.append(word)
    start, end = 0, len(merged)
    while start < end - 1 and merged[start].replace(".", "") in PREFIX_TITLES:
        start += 1
    while end - 1 > start and merged[end - 1].replace(".", "") in SUFFIX_TITLES:
        end -= 1
    titles = merged[:start] + merged[end:] + [t.strip() for t in tail.split(",") if t.strip()]
    words = []
    for word in merged[start:end]:
        bare = _SEPARATORS.sub("", word)
        if not bare.replace("'", ""):
            continue
        words.append("MUHAMMAD" if bare.replace("'", "") in MUHAMMAD_VARIANTS else bare)
    return " ".join(words), " ".join(titles)


def normalise_names(raw: pd.Series) -> pd.DataFrame:
    """Normalised name and stripped titles for each raw name.

    Returns columns ``name_norm`` (null where the raw name has no letters) and ``name_titles``
    (null where there were none).
    """
    codes, uniques = pd.factorize(raw.astype("string"), use_na_sentinel=True)
    pairs = [_normalise_one(str(value)) for value in uniques]
    norm = pd.array([p[0] or pd.NA for p in pairs] + [pd.NA], dtype="string")
    titles = pd.array([p[1] or pd.NA for p in pairs] + [pd.NA], dtype="string")
    # factorize marks nulls with -1, which indexes the trailing NA added above.
    return pd.DataFrame({"name_norm": norm[codes], "name_titles": titles[codes]}, index=raw.index)


def _fold_one(name: str) -> str:
    key = name.replace("'", "")
    for old, new in _FOLDS:
        key = key.replace(old, new)
    return _DOUBLED.sub(r"\1", key)


def fold_spelling(name_norm: pd.Series) -> pd.Series:
    """Comparison key of normalised names: old/new spellings and doubled letters folded."""
    codes, uniques = pd.factorize(name_norm.astype("string"), use_na_sentinel=True)
    folded = pd.array([_fold_one(str(v)) for v in uniques] + [pd.NA], dtype="string")
    return pd.Series(folded[codes], index=name_norm.index, dtype="string")
