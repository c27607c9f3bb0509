"""The true population: families (KK) and persons with demography, names and registry status.

One row per real person. Everything the three extracts show is derived from this table, so the
ground truth (which person a row is) is known by construction. Who lives in each family comes
from ``synthetic.households``; this module adds where families live, where their NIKs were
first issued, and each person's religion, work, schooling, names and registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from synthetic import names, occupation, places, pools
from synthetic.households import draw_members, weighted_choice
from synthetic.rates import Rates

DAYS_PER_YEAR = 365.2425


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


@dataclass(frozen=True)
class _FamilyDraws:
    """Per-family arrays the members inherit, and the families table built from them."""

    table: pd.DataFrame
    home_kec_idx: np.ndarray  # kecamatan (index into region.kec) of the family's desa
    religion: np.ndarray
    balinese: np.ndarray
    registered: np.ndarray
    old_kec6: np.ndarray  # kecamatan where the family's NIKs were issued before it moved
    move_date: np.ndarray
    surname: np.ndarray  # family name carried by some members, "" for most families


def build_population(
    rng: np.random.Generator, region: places.Region, people: int, snapshot: date, rates: Rates
) -> Population:
    """Draw ``people`` persons in families living in ``region``."""
    members = _enough_members(rng, people)
    n_fam = int(members["family"].iloc[-1]) + 1 if people else 0
    snap = np.datetime64(snapshot, "D")
    birth = snap - np.floor(members["age"].to_numpy() * DAYS_PER_YEAR).astype(int) - 1
    birth = birth.astype("datetime64[D]")
    head_birth = birth[np.flatnonzero(members["rel"].to_numpy() == 1)]
    families = _draw_families(rng, region, rates, n_fam, head_birth, snap)
    persons = _draw_persons(rng, region, rates, members, birth, snapshot, families)
    persons["alive"], persons["marital"] = _deaths(rng, persons, rates)
    return Population(persons=persons, families=families.table, snapshot=snapshot)


def _enough_members(rng: np.random.Generator, people: int) -> pd.DataFrame:
    """The first ``people`` members of enough families (whole families but for the last)."""
    n_fam = max(4, int(people / 3.0) + 8)
    members = draw_members(rng, n_fam)
    while len(members) < people:
        n_fam *= 2
        members = draw_members(rng, n_fam)
    return members.iloc[:people].copy()


def _draw_families(
    rng: np.random.Generator,
    region: places.Region,
    rates: Rates,
    n_fam: int,
    head_birth: np.ndarray,
    snap: np.datetime64,
) -> _FamilyDraws:
    """Where families live, religion, customs, registration and where their NIKs came from."""
    desa = places.pick_desa(region, rng, n_fam)
    rt, rw = places.rt_rw(region, rng, desa)
    fam_religion = weighted_choice(rng, np.arange(1, 8), region.religion_probs, n_fam)
    balinese = rng.random(n_fam) < region.balinese_share
    fam_religion = np.where(balinese, 4, fam_religion)
    fam_registered = rng.random(n_fam) >= rates.unregistered_family
    kec_idx = region.desa["kec_idx"].to_numpy()[desa]
    origin, old_kec6 = _nik_origins(rng, region, rates, kec_idx, fam_registered)
    earliest = np.maximum(head_birth + np.timedelta64(18 * 365, "D"), snap - 25 * 365)
    span = np.maximum((snap - 60 - earliest).astype(int), 1)
    move_date = earliest + (rng.random(n_fam) * span).astype(int)
    surname_pool = pools.name_pools().later[1]
    surname = np.where(
        (rng.random(n_fam) < 0.12) & ~balinese,
        surname_pool.words[surname_pool.sample(rng, n_fam)],
        "",
    ).astype(object)
    table = pd.DataFrame(
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
    return _FamilyDraws(
        table=table,
        home_kec_idx=kec_idx,
        religion=fam_religion,
        balinese=balinese,
        registered=fam_registered,
        old_kec6=old_kec6,
        move_date=move_date,
        surname=surname,
    )


def _nik_origins(
    rng: np.random.Generator,
    region: places.Region,
    rates: Rates,
    kec_idx: np.ndarray,
    fam_registered: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per family: origin (0 always here, 1 moved within the kab/kota, 2 from outside; every
    unregistered family is from outside) and the kecamatan code its older NIKs carry."""
    n_fam = len(kec_idx)
    u = rng.random(n_fam)
    origin = np.where(u < rates.family_moved_within_kab, 1, 0)
    origin = np.where(u > 1 - rates.family_moved_from_outside, 2, origin)
    origin = np.where(fam_registered, origin, 2)
    kec6 = region.kec["kec6"].to_numpy()
    n_kec = len(kec6)
    shift = rng.integers(1, max(n_kec, 2), n_fam)
    old_kec_idx = (kec_idx + shift) % n_kec
    far = rng.integers(0, len(region.other_kec6), n_fam)
    old_kec6 = np.where(origin == 2, region.other_kec6[far], kec6[old_kec_idx])
    old_kec6 = np.where(origin == 0, kec6[kec_idx], old_kec6)
    return origin, old_kec6


def _draw_persons(
    rng: np.random.Generator,
    region: places.Region,
    rates: Rates,
    members: pd.DataFrame,
    birth: np.ndarray,
    snapshot: date,
    families: _FamilyDraws,
) -> pd.DataFrame:
    """One row per person: demography, names, birth place, NIK region and registration."""
    n = len(members)
    fam_idx = members["family"].to_numpy()
    rel = members["rel"].to_numpy()
    sex = members["sex"].to_numpy()
    age = completed_years(birth, snapshot)
    birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
    helper = rel == 10
    religion = np.where(helper, weighted_choice(rng, np.arange(1, 8), region.religion_probs, n),
                        families.religion[fam_idx])  # fmt: skip
    job = occupation.draw_occupation(rng, age, sex)
    education = occupation.draw_education(rng, age, birth_year, job)
    carries_surname = (rel == 4) | ((rel == 1) & (sex == 1)) | ((rel == 7) & (sex == 1))
    inputs = names.NameInputs(
        sex=sex,
        birth_year=birth_year,
        muslim=religion == 1,
        balinese=families.balinese[fam_idx] & ~helper,
        birth_order=members["child_order"].to_numpy(),
        surname=np.where(carries_surname, families.surname[fam_idx], "").astype(object),
        education=education,
        age=age,
    )
    bare, registered_name = names.build_names(rng, inputs)
    mother = _mother_names(rng, members, bare, inputs, len(families.table))
    nik_region = _nik_regions(rng, region, birth, fam_idx, helper, families)
    kec6 = region.kec["kec6"].to_numpy()
    birth_place = _birth_places(rng, region, nik_region, kec6, families.home_kec_idx[fam_idx])
    registered = _registered(rng, rates, families.registered, fam_idx, rel, age)
    return pd.DataFrame(
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
            "occupation": job,
            "education": education,
            "name_bare": bare,
            "name": registered_name,
            "mother_name": mother,
            "birth_place": birth_place,
            "nik_region": nik_region.astype(np.int64),
            "registered": registered,
        }
    )


def _nik_regions(
    rng: np.random.Generator,
    region: places.Region,
    birth: np.ndarray,
    fam_idx: np.ndarray,
    helper: np.ndarray,
    families: _FamilyDraws,
) -> np.ndarray:
    """Kecamatan code of each person's first registration: the family's older one for those
    born before it moved, the home one after; helpers come from elsewhere."""
    kec6 = region.kec["kec6"].to_numpy()
    home_kec6 = kec6[families.home_kec_idx[fam_idx]]
    nik_region = np.where(birth < families.move_date[fam_idx], families.old_kec6[fam_idx],
                          home_kec6)  # fmt: skip
    helper_idx = np.flatnonzero(helper)
    nik_region[helper_idx] = region.other_kec6[rng.integers(0, len(region.other_kec6),
                                                            len(helper_idx))]  # fmt: skip
    return nik_region


def _registered(
    rng: np.random.Generator,
    rates: Rates,
    fam_registered: np.ndarray,
    fam_idx: np.ndarray,
    rel: np.ndarray,
    age: np.ndarray,
) -> np.ndarray:
    """In the civil registry: members of registered families, but for some infants and a few
    others; a registered family always has its head registered."""
    n = len(fam_idx)
    registered = fam_registered[fam_idx].copy()
    infant = age < 1
    registered &= ~(infant & (rng.random(n) < rates.unregistered_infant))
    registered &= ~(~infant & (rng.random(n) < rates.unregistered_other) & (rel != 1))
    registered[np.flatnonzero(rel == 1)] |= fam_registered
    return registered


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
