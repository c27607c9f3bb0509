"""NIK and family-card numbers, and the identity problems planted in the civil registry.

NIK = kecamatan of first registration (6) + birth date DDMMYY (+40 to the day for women) +
serial from 0001, unique within its first 12 digits. KK = 6-digit region + issue date DDMMYY
(no +40) + serial, unique. Planted here:

* ``nik_birthdate_mismatch``: the NIK keeps the date it was issued with, the birth date was
  corrected later (year off by one, day and month swapped, or a few weeks off);
* ``nik_conflict``: a second person was issued an existing NIK. The pair is two people of the
  same sex born on the same day with NIKs from the same kecamatan, the realistic case;
* ``dukcapil_double_registration``: a person registered a second time elsewhere in the
  kab/kota with a new NIK and family card, sometimes under a variant of the name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from synthetic import places, variation
from synthetic.formatting import ymd
from synthetic.population import Population, completed_years
from synthetic.rates import Rates


@dataclass(frozen=True)
class Identity:
    """Identifiers of every person and family, plus the planted identity problems."""

    nik: np.ndarray  # per person, 16-digit text (what the registry holds)
    nik_date: np.ndarray  # per person, the date encoded in the NIK
    kk: np.ndarray  # per family, 16-digit text
    doubles: pd.DataFrame  # second registrations: pid, nik, kk, desa, rt, rw, address, name
    mismatch: np.ndarray  # pids whose NIK date differs from their birth date
    conflict: np.ndarray  # pids issued someone else's NIK
    conflict_with: np.ndarray  # the pid whose NIK they were issued


def serials(keys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A serial from 1 for each key, unique within equal keys, in random order."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((rng.random(n), keys))
    sorted_keys = keys[order]
    start = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n) - first + 1
    if out.max() > 9999:
        raise ValueError("more than 9999 identifiers share a region and date")
    return out


def _date_key(dates: np.ndarray, day_offset: np.ndarray | int = 0) -> np.ndarray:
    year, month, day = ymd(dates)
    return (day + day_offset) * 10_000 + month * 100 + year % 100


def _digits(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype(str).astype(object)


def nik_numbers(
    region6: np.ndarray, dates: np.ndarray, sex: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """16-digit NIK numbers (int64) for the given first-registration regions, dates and sexes."""
    prefix = region6.astype(np.int64) * 1_000_000 + _date_key(dates, np.where(sex == 2, 40, 0))
    return prefix * 10_000 + serials(prefix, rng)


def kk_numbers(region6: np.ndarray, issued: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """16-digit family-card numbers (int64)."""
    prefix = region6.astype(np.int64) * 1_000_000 + _date_key(issued)
    return prefix * 10_000 + serials(prefix, rng)


def _pick(rng: np.random.Generator, candidates: np.ndarray, rate: float) -> np.ndarray:
    """round(rate * len) of the candidates (at least one when there are any), sorted."""
    if len(candidates) == 0 or rate <= 0:
        return np.zeros(0, dtype=int)
    k = min(len(candidates), max(1, int(round(rate * len(candidates)))))
    return np.sort(rng.choice(candidates, size=k, replace=False))


def _conflict_pairs(rng, persons: pd.DataFrame, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) pids: B gets A's birth date and NIK region, then A's NIK."""
    adults = persons["registered"].to_numpy() & (persons["age"].to_numpy() >= 17)
    cand = np.flatnonzero(adults)
    if len(cand) < 4:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    order = cand[np.lexsort((persons["birth"].to_numpy()[cand], persons["sex"].to_numpy()[cand]))]
    first = np.arange(0, len(order) - 1, 2)
    a, b = order[first], order[first + 1]
    fam, sex = persons["family"].to_numpy(), persons["sex"].to_numpy()
    ok = (fam[a] != fam[b]) & (sex[a] == sex[b])
    chosen = _pick(rng, np.flatnonzero(ok), rate * len(cand) / max(ok.sum(), 1))
    return a[chosen], b[chosen]


def _shifted_dates(rng: np.random.Generator, birth: np.ndarray) -> np.ndarray:
    """NIK dates that differ from the birth date the way corrected records do."""
    out = birth.copy()
    u = rng.random((len(birth), 3))
    for i, value in enumerate(birth):
        d = date.fromisoformat(str(value))
        if u[i, 0] < 0.3 and d.day <= 12 and d.day != d.month:
            new = date(d.year, d.day, d.month)
        elif u[i, 0] < 0.7:
            step = 1 if u[i, 1] < 0.5 else -1
            try:
                new = d.replace(year=d.year + step)
            except ValueError:  # 29 February
                new = d.replace(year=d.year + step, day=28)
        else:
            new = d + timedelta(days=int(1 + u[i, 2] * 60) * (1 if u[i, 1] < 0.5 else -1))
        out[i] = np.datetime64(new, "D")
    return out


def assign_identifiers(
    rng: np.random.Generator, region: places.Region, population: Population, rates: Rates
) -> tuple[Population, Identity]:
    """Give everyone a NIK and every family a KK number, planting the identity problems.

    Returns the population with the conflict pairs' birth dates aligned, and the identities.
    """
    persons = population.persons.copy()
    families = population.families
    n = len(persons)

    a, b = _conflict_pairs(rng, persons, rates.nik_conflict)
    birth = persons["birth"].to_numpy().astype("datetime64[D]")
    region6 = persons["nik_region"].to_numpy().copy()
    birth[b] = birth[a]
    region6[b] = region6[a]
    persons["birth"] = birth
    persons["age"] = completed_years(birth, population.snapshot)

    taken = np.zeros(n, dtype=bool)
    taken[a] = taken[b] = True
    mismatch, nik_date = _mismatched_nik_dates(rng, persons, birth, taken, rates)
    taken[mismatch] = True
    double_pids, new_desa, new_region = _second_registrations(rng, region, persons, families,
                                                              taken, rates)  # fmt: skip

    sex = persons["sex"].to_numpy()
    all_regions = np.concatenate([region6, new_region])
    all_dates = np.concatenate([nik_date, birth[double_pids]])
    all_sex = np.concatenate([sex, sex[double_pids]])
    numbers = nik_numbers(all_regions, all_dates, all_sex, rng)
    numbers[b] = numbers[a]

    kk_region, issued = _family_cards(rng, region, population, birth)
    snap = np.datetime64(population.snapshot, "D")
    double_issued = snap - rng.integers(30, 5 * 365, len(double_pids))
    kk_all = kk_numbers(
        np.concatenate([kk_region, new_region]), np.concatenate([issued, double_issued]), rng
    )

    rt, rw = places.rt_rw(region, rng, new_desa)
    doubles = pd.DataFrame(
        {
            "pid": double_pids,
            "nik": _digits(numbers[n:]),
            "kk": _digits(kk_all[len(families) :]),
            "desa": new_desa,
            "rt": rt,
            "rw": rw,
            "address": places.addresses(region, rng, new_desa),
            "name": variation.vary_names(
                rng,
                persons["name"].to_numpy()[double_pids],
                persons["name_bare"].to_numpy()[double_pids],
                sex[double_pids],
                variation.DOUBLE_REGISTRATION_NOISE,
            ),
        }
    )
    identity = Identity(
        nik=_digits(numbers[:n]),
        nik_date=nik_date,
        kk=_digits(kk_all[: len(families)]),
        doubles=doubles,
        mismatch=mismatch,
        conflict=b,
        conflict_with=a,
    )
    return replace(population, persons=persons), identity


def _mismatched_nik_dates(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    birth: np.ndarray,
    taken: np.ndarray,
    rates: Rates,
) -> tuple[np.ndarray, np.ndarray]:
    """The pids whose NIK keeps a date other than their birth date, and every NIK's date."""
    registered = persons["registered"].to_numpy()
    mismatch = _pick(rng, np.flatnonzero(registered & ~taken), rates.nik_birthdate_mismatch)
    nik_date = birth.copy()
    nik_date[mismatch] = _shifted_dates(rng, birth[mismatch])
    return mismatch, nik_date


def _second_registrations(
    rng: np.random.Generator,
    region: places.Region,
    persons: pd.DataFrame,
    families: pd.DataFrame,
    taken: np.ndarray,
    rates: Rates,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registered living adults registered again elsewhere in the kab/kota: their pids, the
    desa of the second registration and its kecamatan code."""
    registered = persons["registered"].to_numpy()
    adult_alive = registered & persons["alive"].to_numpy() & (persons["age"].to_numpy() >= 17)
    double_pids = _pick(rng, np.flatnonzero(adult_alive & ~taken), rates.double_registration)
    fam_of = persons["family"].to_numpy()
    home = families["desa"].to_numpy()[fam_of[double_pids]]
    new_desa = places.other_desa(region, rng, home, other_kec_share=0.6)
    kec6 = region.kec["kec6"].to_numpy()
    new_region = kec6[region.desa["kec_idx"].to_numpy()[new_desa]]
    return double_pids, new_desa, new_region


def _family_cards(
    rng: np.random.Generator, region: places.Region, population: Population, birth: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Region code and issue date of each family card: issued in the family's kecamatan
    (unregistered families: where they came from) after the head came of age and after the
    family moved."""
    families = population.families
    snap = np.datetime64(population.snapshot, "D")
    kec6 = region.kec["kec6"].to_numpy()
    fam_kec = kec6[region.desa["kec_idx"].to_numpy()[families["desa"].to_numpy()]]
    kk_region = np.where(families["registered"].to_numpy(), fam_kec, families["old_kec6"])
    head_birth = birth[np.flatnonzero(population.persons["rel"].to_numpy() == 1)]
    earliest = np.maximum(head_birth + np.timedelta64(17 * 365, "D"), snap - 20 * 365)
    moved = families["origin"].to_numpy() > 0
    earliest = np.where(moved, np.maximum(earliest, families["move_date"].to_numpy()), earliest)
    span = np.maximum((snap - 1 - earliest).astype(int), 1)
    issued = (earliest + (rng.random(len(families)) * span).astype(int)).astype("datetime64[D]")
    return kk_region, issued
