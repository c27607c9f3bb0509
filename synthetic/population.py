"""The true population: families (KK) and persons with demography, names and registry status.

One row per real person. Everything the three extracts show is derived from this table, so the
ground truth (which person a row is) is known by construction.

Families: a head, usually a spouse, 0-5 children spaced a few years apart (twins now and then;
grown children mostly moved out), sometimes a grandparent, another relative or a helper. The
resulting age pyramid is young, as Indonesia's is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from synthetic import names, places, pools
from synthetic.rates import Rates

# Member slots, in family order: head, spouse, children (5), grandparent, relative, helper.
_SLOT_HEAD, _SLOT_SPOUSE, _SLOT_CHILD, _SLOT_GRANDPARENT, _SLOT_RELATIVE, _SLOT_HELPER = (
    0, 1, 2, 7, 8, 9,
)  # fmt: skip
DAYS_PER_YEAR = 365.2425

# Occupation codes (SIAK JENIS_PKRJN) and weights for adults, by sex.
_JOBS = np.array([1, 2, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15, 16, 18, 19, 88, 89])
_JOB_WEIGHTS = {
    1: [
        0.05,
        0,
        0,
        0.045,
        0.008,
        0.007,
        0.06,
        0.22,
        0.01,
        0.03,
        0.03,
        0.18,
        0.01,
        0.02,
        0.12,
        0.17,
        0.02,
    ],
    2: [0.06, 0.45, 0, 0.04, 0.0005, 0.0015, 0.07, 0.1, 0, 0, 0, 0.1, 0.005, 0.03, 0.03, 0.1, 0.01],
}
# Education (PDDK_AKH 1..10) for adults by cohort: born before 1970 / after.
_EDU_WEIGHTS = {
    "old": [0.12, 0.2, 0.35, 0.12, 0.14, 0.01, 0.02, 0.035, 0.004, 0.001],
    "young": [0.02, 0.05, 0.2, 0.2, 0.35, 0.01, 0.04, 0.11, 0.018, 0.002],
}


@dataclass(frozen=True)
class Population:
    """Persons (one row each) and families (one row per family card)."""

    persons: pd.DataFrame
    families: pd.DataFrame
    snapshot: date


def completed_years(birth: np.ndarray, on: date) -> np.ndarray:
    """Age in completed years on ``on`` for datetime64[D] birth dates."""
    year = birth.astype("datetime64[Y]").astype(int) + 1970
    month = birth.astype("datetime64[M]").astype(int) % 12 + 1
    day = (birth - birth.astype("datetime64[M]")).astype(int) + 1
    before = (month > on.month) | ((month == on.month) & (day > on.day))
    return on.year - year - before.astype(int)


def _choice(
    rng: np.random.Generator, codes: ArrayLike, weights: ArrayLike, size: int
) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return np.asarray(codes)[rng.choice(len(p), size=size, p=p / p.sum())]


def _members(rng: np.random.Generator, n_fam: int) -> pd.DataFrame:
    """Members of ``n_fam`` families: family, slot, rel (STAT_HBKEL), sex, age (years, float),
    marital (STAT_KWN), child_order."""
    ftype = rng.choice(3, n_fam, p=[0.76, 0.13, 0.11])  # couple, female head, lone male
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
    head_marital[female_head] = _choice(rng, [4, 3, 1], [0.7, 0.22, 0.08], female_head.sum())
    head_marital[young] = _choice(rng, [1, 3], [0.9, 0.1], young.sum())
    head_marital[old] = _choice(rng, [4, 3], [0.75, 0.25], old.sum())
    # A few couples have the wife as head of the family card (her husband is "suami").
    wife_heads = couple & (rng.random(n_fam) < 0.02)
    head_sex = np.where(female_head | wife_heads, 2, 1)
    spouse_age = np.clip(head_age - rng.normal(4.5, 4.0, n_fam), 15.2, head_age + 8)
    spouse_age = np.where(wife_heads, head_age + np.abs(rng.normal(4.5, 4.0, n_fam)), spouse_age)
    mother_age = np.where(couple & ~wife_heads, spouse_age, head_age)
    mother_age = np.where(lone, head_age - 4, mother_age)

    n_children = rng.choice(6, n_fam, p=[0.10, 0.19, 0.30, 0.21, 0.12, 0.08])
    n_children[young | (female_head & (head_marital == 1))] = 0
    child_age = np.full((n_fam, 5), np.nan)
    age = mother_age - (19 + rng.gamma(2.0, 2.5, n_fam))
    for k in range(5):
        ok = (k < n_children) & (age >= 0)
        child_age[ok, k] = age[ok]
        twin = rng.random(n_fam) < 0.012
        age = age - np.where(twin, 0.0, 1.2 + rng.gamma(2.0, 1.3, n_fam))
    stay = np.select([child_age < 20, child_age < 25, child_age < 30], [1.0, 0.6, 0.25], 0.08)
    child_age[rng.random((n_fam, 5)) >= stay] = np.nan

    fam = np.arange(n_fam)
    parts: list[pd.DataFrame] = []

    def add(
        mask: np.ndarray,
        slot: int,
        rel: ArrayLike,
        sex: ArrayLike,
        age_: ArrayLike,
        marital: ArrayLike,
        order: int = 0,
    ) -> None:
        """Append the members selected by ``mask``; scalars apply to all of them."""
        idx = np.flatnonzero(mask)
        cols = {}
        for key, value in (("slot", slot), ("rel", rel), ("sex", sex), ("age", age_),
                           ("marital", marital), ("child_order", order)):  # fmt: skip
            cols[key] = np.broadcast_to(np.asarray(value), (n_fam,))[idx]
        parts.append(pd.DataFrame({"family": fam[idx], **cols}))

    add(np.ones(n_fam, bool), _SLOT_HEAD, 1, head_sex, head_age, head_marital)
    add(couple, _SLOT_SPOUSE, np.where(wife_heads, 2, 3), 3 - head_sex, spouse_age, 2)
    for k in range(5):
        has = ~np.isnan(child_age[:, k])
        a = child_age[:, k]
        sex = np.where(rng.random(n_fam) < 0.51, 1, 2)
        u = rng.random(n_fam)
        p_married = np.select([a < 15, a < 17, a < 20, a < 25], [0, 0.01, 0.03, 0.08], 0.2)
        marital = np.where(u < p_married, np.where(u < p_married * 0.7, 2, 3), 1)
        add(has, _SLOT_CHILD + k, 4, sex, a, marital, k + 1)
    gp = (head_age < 62) & (rng.random(n_fam) < 0.09)
    in_law = couple & (rng.random(n_fam) < 0.4)
    gp_age = np.clip(np.where(in_law, spouse_age, head_age) + 22 + rng.gamma(2, 3, n_fam), 40, 100)
    add(gp, _SLOT_GRANDPARENT, np.where(in_law, 8, 7), np.where(rng.random(n_fam) < 0.7, 2, 1),
        gp_age, np.where(rng.random(n_fam) < 0.85, 4, 2))  # fmt: skip
    rel_age = np.clip(3 + rng.gamma(2, 7, n_fam), 0.1, 70)
    rel_marital = np.where((rel_age >= 20) & (rng.random(n_fam) < 0.4), 2, 1)
    add(rng.random(n_fam) < 0.025, _SLOT_RELATIVE, 9, np.where(rng.random(n_fam) < 0.5, 1, 2),
        rel_age, rel_marital)  # fmt: skip
    helper_age = np.clip(18 + rng.gamma(2, 6, n_fam), 18, 60)
    add((head_age > 30) & (rng.random(n_fam) < 0.004), _SLOT_HELPER, 10,
        np.where(rng.random(n_fam) < 0.85, 2, 1), helper_age,
        _choice(rng, [1, 2, 3], [0.6, 0.3, 0.1], n_fam))  # fmt: skip
    members = pd.concat(parts, ignore_index=True)
    order = np.lexsort((members["slot"].to_numpy(), members["family"].to_numpy()))
    return members.iloc[order].reset_index(drop=True)


def _occupation(rng: np.random.Generator, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    n = len(age)
    job = np.ones(n, dtype=int)
    for code in (1, 2):
        m = sex == code
        job[m] = _choice(rng, _JOBS, _JOB_WEIGHTS[code], m.sum())
    u = rng.random(n)
    job = np.where(age < 5, 1, job)
    job = np.where((age >= 5) & (age < 18), np.where(u < 0.95, 3, 1), job)
    job = np.where((age >= 18) & (age < 23) & (u < 0.45), 3, job)
    retired = (age >= 58) & np.isin(job, [5, 6, 7])
    job = np.where(retired, 4, job)
    job = np.where((age >= 60) & (u < 0.25), 4, job)
    return np.where((age >= 65) & (u >= 0.25) & (u < 0.6), 1, job)


def _education(
    rng: np.random.Generator, age: np.ndarray, birth_year: np.ndarray, job: np.ndarray
) -> np.ndarray:
    n = len(age)
    edu = np.where(
        birth_year < 1970,
        _choice(rng, np.arange(1, 11), _EDU_WEIGHTS["old"], n),
        _choice(rng, np.arange(1, 11), _EDU_WEIGHTS["young"], n),
    )
    edu = np.where(np.isin(job, [5, 6, 7]), np.maximum(edu, 5), edu)
    edu = np.where(job == 5, np.where(rng.random(n) < 0.6, np.maximum(edu, 8), edu), edu)
    child = np.select([age < 5, age < 13, age < 16, age < 19], [1, 2, 3, 4], 0)
    return np.where(child > 0, child, edu)


def build_population(
    rng: np.random.Generator, region: places.Region, people: int, snapshot: date, rates: Rates
) -> Population:
    """Draw ``people`` persons in families living in ``region``."""
    n_fam = max(4, int(people / 3.0) + 8)
    members = _members(rng, n_fam)
    while len(members) < people:
        n_fam *= 2
        members = _members(rng, n_fam)
    members = members.iloc[:people].copy()
    n_fam = int(members["family"].iloc[-1]) + 1 if people else 0
    n = len(members)

    snap = np.datetime64(snapshot, "D")
    birth = snap - np.floor(members["age"].to_numpy() * DAYS_PER_YEAR).astype(int) - 1
    birth = birth.astype("datetime64[D]")
    age = completed_years(birth, snapshot)
    birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
    fam_idx = members["family"].to_numpy()
    rel = members["rel"].to_numpy()
    sex = members["sex"].to_numpy()

    # Families: where they live, religion, customs, registration, NIK origin.
    desa = places.pick_desa(region, rng, n_fam)
    rt, rw = places.rt_rw(region, rng, desa)
    fam_religion = _choice(rng, np.arange(1, 8), region.religion_probs, n_fam)
    balinese = rng.random(n_fam) < region.balinese_share
    fam_religion = np.where(balinese, 4, fam_religion)
    fam_registered = rng.random(n_fam) >= rates.unregistered_family
    u = rng.random(n_fam)
    origin = np.where(u < rates.family_moved_within_kab, 1, 0)
    origin = np.where(u > 1 - rates.family_moved_from_outside, 2, origin)
    origin = np.where(fam_registered, origin, 2)
    kec_idx = region.desa["kec_idx"].to_numpy()[desa]
    kec6 = region.kec["kec6"].to_numpy()
    n_kec = len(kec6)
    shift = rng.integers(1, max(n_kec, 2), n_fam)
    old_kec_idx = (kec_idx + shift) % n_kec
    far = rng.integers(0, len(region.other_kec6), n_fam)
    old_kec6 = np.where(origin == 2, region.other_kec6[far], kec6[old_kec_idx])
    old_kec6 = np.where(origin == 0, kec6[kec_idx], old_kec6)
    head_birth = birth[np.flatnonzero(rel == 1)]
    earliest = np.maximum(head_birth + np.timedelta64(18 * 365, "D"), snap - 25 * 365)
    span = np.maximum((snap - 60 - earliest).astype(int), 1)
    move_date = earliest + (rng.random(n_fam) * span).astype(int)
    surname_pool = pools.name_pools().later[1]
    surname = np.where(
        (rng.random(n_fam) < 0.12) & ~balinese,
        surname_pool.words[surname_pool.sample(rng, n_fam)],
        "",
    ).astype(object)
    families = pd.DataFrame(
        {
            "family": np.arange(n_fam),
            "desa": desa,
            "rt": rt,
            "rw": rw,
            "address": places.addresses(region, rng, desa),
            "religion": fam_religion,
            "balinese": balinese,
            "registered": fam_registered,
            "origin": origin,
            "old_kec6": old_kec6,
            "move_date": move_date,
        }
    )

    # Persons.
    helper = rel == 10
    religion = np.where(helper, _choice(rng, np.arange(1, 8), region.religion_probs, n),
                        fam_religion[fam_idx])  # fmt: skip
    occupation = _occupation(rng, age, sex)
    education = _education(rng, age, birth_year, occupation)
    carries_surname = (rel == 4) | ((rel == 1) & (sex == 1)) | ((rel == 7) & (sex == 1))
    inputs = names.NameInputs(
        sex=sex,
        birth_year=birth_year,
        muslim=religion == 1,
        balinese=balinese[fam_idx] & ~helper,
        birth_order=members["child_order"].to_numpy(),
        surname=np.where(carries_surname, surname[fam_idx], "").astype(object),
        education=education,
        age=age,
    )
    bare, registered_name = names.build_names(rng, inputs)
    mother = _mother_names(rng, members, bare, inputs, n_fam)

    nik_region = np.where(birth < move_date[fam_idx], old_kec6[fam_idx], kec6[kec_idx[fam_idx]])
    helper_idx = np.flatnonzero(helper)
    nik_region[helper_idx] = region.other_kec6[rng.integers(0, len(region.other_kec6),
                                                            len(helper_idx))]  # fmt: skip
    birth_place = _birth_places(rng, region, nik_region, kec6, kec_idx[fam_idx])

    registered = fam_registered[fam_idx].copy()
    infant = age < 1
    registered &= ~(infant & (rng.random(n) < rates.unregistered_infant))
    registered &= ~(~infant & (rng.random(n) < rates.unregistered_other) & (rel != 1))
    registered[np.flatnonzero(rel == 1)] |= fam_registered  # a registered family has its head

    persons = pd.DataFrame(
        {
            "pid": np.arange(n),
            "family": fam_idx,
            "slot": members["slot"].to_numpy(),
            "rel": rel,
            "sex": sex,
            "birth": birth,
            "age": age,
            "marital": members["marital"].to_numpy(),
            "religion": religion,
            "occupation": occupation,
            "education": education,
            "name_bare": bare,
            "name": registered_name,
            "mother_name": mother,
            "birth_place": birth_place,
            "nik_region": nik_region.astype(np.int64),
            "registered": registered,
        }
    )
    persons["alive"], persons["marital"] = _deaths(rng, persons, rates)
    return Population(persons=persons, families=families, snapshot=snapshot)


def _mother_names(
    rng: np.random.Generator,
    members: pd.DataFrame,
    bare: np.ndarray,
    inputs: names.NameInputs,
    n_fam: int,
) -> np.ndarray:
    """NAMA_LGKP_IBU: the mother in the family when she is there, else a generated name that is
    the same for siblings (the family's absent mother) or for each adult (their own mother)."""
    n = len(members)
    fam = members["family"].to_numpy()
    rel = members["rel"].to_numpy()
    sex = members["sex"].to_numpy()
    mothers_of_adults = names.NameInputs(
        sex=np.full(n, 2),
        birth_year=inputs.birth_year - 26,
        muslim=inputs.muslim,
        balinese=inputs.balinese,
        birth_order=np.zeros(n, dtype=int),
        surname=np.full(n, "", dtype=object),
        education=np.zeros(n, dtype=int),
        age=inputs.age + 26,
    )
    generated, _ = names.build_names(rng, mothers_of_adults, titles=False)
    mother = generated.copy()
    # Children: the female head or spouse, else one absent-mother name per family.
    female_parent = np.full(n_fam, -1)
    is_mother = ((rel == 1) | (rel == 3)) & (sex == 2)
    female_parent[fam[is_mother]] = np.flatnonzero(is_mother)
    first_child = np.full(n_fam, -1)
    child = np.flatnonzero(rel == 4)
    first_child[fam[child][::-1]] = child[::-1]
    child_mother = np.where(female_parent[fam] >= 0, bare[female_parent[fam]], None)
    absent = generated[np.where(first_child[fam] >= 0, first_child[fam], 0)]
    mother = np.where(rel == 4, np.where(child_mother != None, child_mother, absent), mother)  # noqa: E711
    # Head and spouse: a grandmother living with them is their mother.
    for gp_rel, parent_rel in ((7, 1), (8, 3)):
        gp = np.flatnonzero((rel == gp_rel) & (sex == 2))
        gp_of_family = np.full(n_fam, -1)
        gp_of_family[fam[gp]] = gp
        target = (rel == parent_rel) & (gp_of_family[fam] >= 0)
        mother[target] = bare[gp_of_family[fam[target]]]
    return mother.astype(object)


def _birth_places(
    rng: np.random.Generator,
    region: places.Region,
    nik_region: np.ndarray,
    kec6: np.ndarray,
    home_kec_idx: np.ndarray,
) -> np.ndarray:
    """TMPT_LHR: the kab/kota or kecamatan name, a big city, or the place the NIK came from."""
    n = len(nik_region)
    kec_names = region.kec["kec_name"].to_numpy().astype(object)
    kec_of = {int(code): i for i, code in enumerate(kec6)}
    u = rng.random(n)
    cities = np.array(pools.BIG_CITIES, dtype=object)
    out = np.where(u < 0.55, region.place_name, kec_names[home_kec_idx]).astype(object)
    out = np.where(u > 0.92, cities[rng.integers(0, len(cities), n)], out).astype(object)
    local_old = np.array([kec_of.get(int(r), -1) for r in np.unique(nik_region)])
    old_idx = local_old[np.searchsorted(np.unique(nik_region), nik_region)]
    moved_within = (old_idx >= 0) & (old_idx != home_kec_idx)
    out = np.where(moved_within & (u < 0.5), kec_names[np.maximum(old_idx, 0)], out)
    outside = old_idx < 0
    if outside.any():
        places_of = dict(zip(region.other_kec6.tolist(), region.other_kec_place.tolist(),
                             strict=True))  # fmt: skip
        idx = np.flatnonzero(outside & (u < 0.85))
        out[idx] = [places_of.get(int(r), "JAKARTA") for r in nik_region[idx]]
    return out.astype(object)


def _deaths(
    rng: np.random.Generator, persons: pd.DataFrame, rates: Rates
) -> tuple[np.ndarray, np.ndarray]:
    """Alive flags and marital status after deaths.

    Deaths fall on registered persons (a death certificate exists), more often on the old; a
    surviving spouse becomes widowed (STAT_KWN 4)."""
    n = len(persons)
    alive = np.ones(n, dtype=bool)
    marital = persons["marital"].to_numpy().copy()
    candidates = np.flatnonzero(persons["registered"].to_numpy())
    n_dead = int(round(rates.deceased * len(candidates)))
    if n_dead == 0:
        return alive, marital
    age = persons["age"].to_numpy()[candidates]
    hazard = np.exp((age - 75) / 9.0) + 0.01 + np.where(age < 2, 0.05, 0)
    keys = np.log(rng.random(len(candidates))) / hazard  # Efraimidis-Spirakis weighted draw
    dead = candidates[np.argpartition(-keys, n_dead - 1)[:n_dead]]
    alive[dead] = False
    # Widowed spouses.
    fam = persons["family"].to_numpy()
    rel = persons["rel"].to_numpy()
    couple_member = np.isin(rel, [1, 2, 3]) & (marital == 2)
    dead_partner_family = np.zeros(int(fam.max()) + 1, dtype=bool)
    dead_partner_family[fam[~alive & couple_member]] = True
    widowed = alive & couple_member & dead_partner_family[fam]
    marital[widowed] = 4
    return alive, marital
