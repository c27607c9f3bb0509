"""Who lives on each family card (KK): the members of a family, their ages, sexes and marital
status, before any names, places or identifiers are drawn.

Families: a head, usually a spouse, 0-5 children spaced a few years apart (twins now and then;
grown children mostly moved out), sometimes a grandparent, another relative or a helper. The
resulting age pyramid is young, as Indonesia's is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

# Member slots, in family order: head, spouse, children (5), grandparent, relative, helper.
_SLOT_HEAD, _SLOT_SPOUSE, _SLOT_CHILD, _SLOT_GRANDPARENT, _SLOT_RELATIVE, _SLOT_HELPER = (
    0, 1, 2, 7, 8, 9,
)  # fmt: skip
_MAX_CHILDREN = 5


def weighted_choice(
    rng: np.random.Generator, codes: ArrayLike, weights: ArrayLike, size: int
) -> np.ndarray:
    """``size`` codes drawn with the given (not necessarily normalised) weights."""
    p = np.asarray(weights, dtype=float)
    return np.asarray(codes)[rng.choice(len(p), size=size, p=p / p.sum())]


@dataclass(frozen=True)
class _Heads:
    """Per family: its type, the head and the head's spouse."""

    couple: np.ndarray
    female_head: np.ndarray
    lone: np.ndarray
    young_lone: np.ndarray
    wife_heads: np.ndarray  # couples whose family card names the wife as head
    age: np.ndarray
    sex: np.ndarray
    marital: np.ndarray
    spouse_age: np.ndarray
    mother_age: np.ndarray  # age of the children's mother (or of the head when alone)


class _Members:
    """Member rows collected slot by slot, one frame per slot."""

    def __init__(self, n_fam: int) -> None:
        self.n_fam = n_fam
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        mask: np.ndarray,
        slot: int,
        rel: ArrayLike,
        sex: ArrayLike,
        age_: ArrayLike,
        marital: ArrayLike,
        order: int = 0,
    ) -> None:
        """Append the members selected by ``mask``; scalars apply to all of them."""
        fam = np.arange(self.n_fam)
        idx = np.flatnonzero(mask)
        cols = {}
        for key, value in (("slot", slot), ("rel", rel), ("sex", sex), ("age", age_),
                           ("marital", marital), ("child_order", order)):  # fmt: skip
            cols[key] = np.broadcast_to(np.asarray(value), (self.n_fam,))[idx]
        self.parts.append(pd.DataFrame({"family": fam[idx], **cols}))

    def frame(self) -> pd.DataFrame:
        """All members, by family and then slot."""
        members = pd.concat(self.parts, ignore_index=True)
        order = np.lexsort((members["slot"].to_numpy(), members["family"].to_numpy()))
        return members.iloc[order].reset_index(drop=True)


def draw_members(rng: np.random.Generator, n_fam: int) -> pd.DataFrame:
    """Members of ``n_fam`` families: family, slot, rel (STAT_HBKEL), sex, age (years, float),
    marital (STAT_KWN), child_order."""
    heads = _draw_heads(rng, n_fam)
    child_age = _draw_child_ages(rng, heads)
    members = _Members(n_fam)
    members.add(np.ones(n_fam, bool), _SLOT_HEAD, 1, heads.sex, heads.age, heads.marital)
    members.add(heads.couple, _SLOT_SPOUSE, np.where(heads.wife_heads, 2, 3), 3 - heads.sex,
                heads.spouse_age, 2)  # fmt: skip
    _add_children(rng, members, child_age)
    _add_grandparents(rng, members, heads)
    _add_relatives_and_helpers(rng, members, heads)
    return members.frame()


def _draw_heads(rng: np.random.Generator, n_fam: int) -> _Heads:
    """Family type (couple, female head, lone male), the head's age and status, the spouse."""
    ftype = rng.choice(3, n_fam, p=[0.76, 0.13, 0.11])
    couple, female_head, lone = ftype == 0, ftype == 1, ftype == 2
    head_age = np.empty(n_fam)
    head_age[couple] = 20 + rng.gamma(3.2, 6.5, couple.sum())
    head_age[female_head] = 30 + rng.gamma(3.0, 9.0, female_head.sum())
    young = lone & (rng.random(n_fam) < 0.55)
    old = lone & ~young
    head_age[young] = 19 + rng.gamma(2.0, 3.5, young.sum())
    head_age[old] = 50 + rng.gamma(2.5, 8.0, old.sum())
    head_age = np.clip(head_age, 18.2, 97)
    head_marital = np.full(n_fam, 2)
    head_marital[female_head] = weighted_choice(rng, [4, 3, 1], [0.7, 0.22, 0.08],
                                                female_head.sum())  # fmt: skip
    head_marital[young] = weighted_choice(rng, [1, 3], [0.9, 0.1], young.sum())
    head_marital[old] = weighted_choice(rng, [4, 3], [0.75, 0.25], old.sum())
    # A few couples have the wife as head of the family card (her husband is "suami").
    wife_heads = couple & (rng.random(n_fam) < 0.02)
    head_sex = np.where(female_head | wife_heads, 2, 1)
    spouse_age = np.clip(head_age - rng.normal(4.5, 4.0, n_fam), 15.2, head_age + 8)
    spouse_age = np.where(wife_heads, head_age + np.abs(rng.normal(4.5, 4.0, n_fam)), spouse_age)
    mother_age = np.where(couple & ~wife_heads, spouse_age, head_age)
    mother_age = np.where(lone, head_age - 4, mother_age)
    return _Heads(
        couple=couple,
        female_head=female_head,
        lone=lone,
        young_lone=young,
        wife_heads=wife_heads,
        age=head_age,
        sex=head_sex,
        marital=head_marital,
        spouse_age=spouse_age,
        mother_age=mother_age,
    )


def _draw_child_ages(rng: np.random.Generator, heads: _Heads) -> np.ndarray:
    """Ages (n_fam x 5, NaN: no such child at home) of the children living with the family."""
    n_fam = len(heads.age)
    n_children = rng.choice(6, n_fam, p=[0.10, 0.19, 0.30, 0.21, 0.12, 0.08])
    n_children[heads.young_lone | (heads.female_head & (heads.marital == 1))] = 0
    child_age = np.full((n_fam, _MAX_CHILDREN), np.nan)
    age = heads.mother_age - (19 + rng.gamma(2.0, 2.5, n_fam))
    for k in range(_MAX_CHILDREN):
        ok = (k < n_children) & (age >= 0)
        child_age[ok, k] = age[ok]
        twin = rng.random(n_fam) < 0.012
        age = age - np.where(twin, 0.0, 1.2 + rng.gamma(2.0, 1.3, n_fam))
    stay = np.select([child_age < 20, child_age < 25, child_age < 30], [1.0, 0.6, 0.25], 0.08)
    child_age[rng.random((n_fam, _MAX_CHILDREN)) >= stay] = np.nan
    return child_age


def _add_children(rng: np.random.Generator, members: _Members, child_age: np.ndarray) -> None:
    """Children in birth order; a few older ones are married already."""
    n_fam = members.n_fam
    for k in range(_MAX_CHILDREN):
        has = ~np.isnan(child_age[:, k])
        a = child_age[:, k]
        sex = np.where(rng.random(n_fam) < 0.51, 1, 2)
        u = rng.random(n_fam)
        p_married = np.select([a < 15, a < 17, a < 20, a < 25], [0, 0.01, 0.03, 0.08], 0.2)
        marital = np.where(u < p_married, np.where(u < p_married * 0.7, 2, 3), 1)
        members.add(has, _SLOT_CHILD + k, 4, sex, a, marital, k + 1)


def _add_grandparents(rng: np.random.Generator, members: _Members, heads: _Heads) -> None:
    """A parent of the head (or, in-law, of the spouse), mostly widowed grandmothers."""
    n_fam = members.n_fam
    gp = (heads.age < 62) & (rng.random(n_fam) < 0.09)
    in_law = heads.couple & (rng.random(n_fam) < 0.4)
    parent_of = np.where(in_law, heads.spouse_age, heads.age)
    gp_age = np.clip(parent_of + 22 + rng.gamma(2, 3, n_fam), 40, 100)
    members.add(gp, _SLOT_GRANDPARENT, np.where(in_law, 8, 7),
                np.where(rng.random(n_fam) < 0.7, 2, 1), gp_age,
                np.where(rng.random(n_fam) < 0.85, 4, 2))  # fmt: skip


def _add_relatives_and_helpers(rng: np.random.Generator, members: _Members, heads: _Heads) -> None:
    """Now and then another relative; rarely a live-in helper (pembantu)."""
    n_fam = members.n_fam
    rel_age = np.clip(3 + rng.gamma(2, 7, n_fam), 0.1, 70)
    rel_marital = np.where((rel_age >= 20) & (rng.random(n_fam) < 0.4), 2, 1)
    members.add(rng.random(n_fam) < 0.025, _SLOT_RELATIVE, 9,
                np.where(rng.random(n_fam) < 0.5, 1, 2), rel_age, rel_marital)  # fmt: skip
    helper_age = np.clip(18 + rng.gamma(2, 6, n_fam), 18, 60)
    members.add((heads.age > 30) & (rng.random(n_fam) < 0.004), _SLOT_HELPER, 10,
                np.where(rng.random(n_fam) < 0.85, 2, 1), helper_age,
                weighted_choice(rng, [1, 2, 3], [0.6, 0.3, 0.1], n_fam))  # fmt: skip
