"""Rules on scored pairs that override the model's probability: pairs that may never be
linked (``cannot_link``) and civil-registry rows of one person registered twice, joined
whatever their probability (``double_registration``)."""

from __future__ import annotations

import numpy as np

from matching.comparisons import (
    NULL,
    BirthLevel,
    FamilyLevel,
    NameLevel,
    NikLevel,
    PlaceLevel,
    SexLevel,
)
from matching.features import SOURCES
from matching.fellegi_sunter import FIELD_INDEX
from matching.scored_pairs import ScoredPairs


def cannot_link(source: np.ndarray, pairs: ScoredPairs) -> np.ndarray:
    """Pairs that may not be linked whatever their score.

    * Two rows of one source that carry different usable NIKs are two registrations. They
      are one person (a double registration) only if their names agree closely: family
      members share a family card, a desa and, for twins, a birth date, and twins' names
      often sound alike (HASAN and HUSIN), which together can outweigh everything else.
    * Two rows whose NIKs differ and whose birth dates differ disagree on both things that
      set one person apart from a namesake in the same family (a father and the son named
      after him share a name, a family card and a desa).
    * One NIK on two rows whose names have nothing in common and who live in different
      desa is one NIK used by two people (docs/domain.md), reported as a NIK conflict. In one
      desa the same NIK with a garbled name (SITI / SIYI, YOSEF PRAYITNA / YOESF P) is
      one person written badly.
    """
    nik = pairs.levels[:, FIELD_INDEX["nik"]]
    name = pairs.levels[:, FIELD_INDEX["name"]]
    birth = pairs.levels[:, FIELD_INDEX["birth_date"]]
    place = pairs.levels[:, FIELD_INDEX["place"]]
    same_source = source[pairs.left] == source[pairs.right]
    different_niks = (nik != NULL) & (nik < NikLevel.EXACT)
    return (
        (same_source & different_niks & (name < NameLevel.SIMILAR_92))
        | ((nik == NikLevel.ELSE) & (birth == BirthLevel.ELSE))
        | ((nik == NikLevel.EXACT) & (name == NameLevel.ELSE) & (place < PlaceLevel.SAME_DESA))
    )


def double_registration(source: np.ndarray, pairs: ScoredPairs) -> np.ndarray:
    """Two civil-registry rows of one person registered twice: the same birth date and sex,
    the same mother, and names that agree (>= 92), or at least resemble each other (>= 70)
    when the two rows are on different family cards.

    A second registration has another NIK, family card and often kecamatan, so the model
    alone scores it near the review band; the mother's name is what tells it from a
    stranger of the same name born the same day, and a second registration is often made
    under a variant of the name. Twins share the family card, so on one card the names
    must agree closely (HASAN and HUSIN stay two people). The trade-off: adult twins on
    separate cards with resembling names would be joined.
    """
    registry = SOURCES.index("dukcapil")
    both = (source[pairs.left] == registry) & (source[pairs.right] == registry)
    levels = pairs.levels
    name = levels[:, FIELD_INDEX["name"]]
    family = levels[:, FIELD_INDEX["family"]]
    return (
        both
        & (levels[:, FIELD_INDEX["birth_date"]] == BirthLevel.EXACT)
        & (levels[:, FIELD_INDEX["sex"]] == SexLevel.SAME)
        & (
            ((name >= NameLevel.SIMILAR_92) & (family >= FamilyLevel.SAME_MOTHER))
            | ((name >= NameLevel.SIMILAR_70) & (family == FamilyLevel.SAME_MOTHER))
        )
    )
