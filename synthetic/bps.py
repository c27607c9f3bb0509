"""The BPS Regsosek-style roster: families enumerated where they actually live.

Most living persons are enumerated; whole families and single members are missed now and then.
Some families live in another desa (or kecamatan) than their family card says. BPS codes come
from the crosswalk. Names are what the enumerator heard; NIKs are missing (placeholders) when no
card was shown; birth dates are sometimes left empty or written wrongly, while the reported age
is always filled and true.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from synthetic import places, variation
from synthetic.formatting import as_text, format_dates, pad4, ymd
from synthetic.identifiers import Identity
from synthetic.population import Population
from synthetic.rates import Rates
from synthetic.truth import PLANT_PREFIX, Extract, finish

COLUMNS = [
    "R101", "R102", "R103", "R104", "R105", "R109", "R110", "R401", "R402", "R403", "R404",
    "R405", "R406", "R407", "R408",
]  # fmt: skip
#: Disdukcapil STAT_HBKEL -> BPS R404 relation to the family head.
RELATION = np.array([0, 1, 2, 2, 3, 4, 5, 6, 6, 8, 7, 8])
PLACEHOLDER_REFUSED = "9999999999999994"
PLACEHOLDER_CHILD = "9999999999999995"
PLACEHOLDER_ADULT = "9999999999999996"
PLACEHOLDER_FOREIGN = "9999999999999999"


def file_name(region: places.Region, snapshot: date) -> str:
    return f"bps_regsosek_{region.kab.bps_code}_{snapshot:%Y%m%d}.csv"


def _wrong_dates(rng: np.random.Generator, birth: np.ndarray) -> np.ndarray:
    """Day and month swapped when that makes another valid date, else the year off by one."""
    year, month, day = ymd(birth)
    swap = (day <= 12) & (day != month) & (rng.random(len(birth)) < 0.6)
    step = np.where(rng.random(len(birth)) < 0.5, 1, -1)
    out = []
    for y, m, d, s, sw in zip(year, month, day, step, swap, strict=True):
        if sw:
            out.append(f"{y:04d}-{d:02d}-{m:02d}")
        else:
            out.append(f"{y + s:04d}-{m:02d}-{min(d, 28) if m == 2 else d:02d}")
    return np.array(out, dtype="datetime64[D]")


@dataclass(frozen=True)
class _Visits:
    """Per family: where the enumerator found it (desa, RT, RW), whether at all, and whether it
    refused to show its cards."""

    desa: np.ndarray
    rt: np.ndarray
    rw: np.ndarray
    found: np.ndarray
    refused: np.ndarray


@dataclass(frozen=True)
class _Numbering:
    """The enumerated persons (pids) in roster order, with the roster's numbers."""

    rows: np.ndarray
    family: np.ndarray
    desa: np.ndarray
    sls: np.ndarray  # R105, an RT of the desa
    building: np.ndarray  # R109, within the SLS
    family_in_building: np.ndarray  # R110
    member_no: np.ndarray  # R401, within the family
    new_family: np.ndarray  # first row of a family


def build(
    rng: np.random.Generator,
    region: places.Region,
    population: Population,
    identity: Identity,
    rates: Rates,
) -> Extract:
    """The roster with its lineage and planted problems."""
    persons = population.persons
    home = population.families["desa"].to_numpy()
    visits = _visit_families(rng, region, population.families, rates)
    enumerated = _enumerated(rng, persons, visits.found, rates)
    roster = _number_roster(rng, persons, enumerated, visits)
    rows, f, desa = roster.rows, roster.family, roster.desa
    p = persons.iloc[rows]

    # When the head has died, the first member enumerated (usually the spouse) heads the family.
    relation = RELATION[p["rel"].to_numpy()]
    relation[roster.new_family & (relation != 1)] = 1
    age = p["age"].to_numpy()
    registered = p["registered"].to_numpy()
    u = rng.random((len(rows), 5))
    nik = _reported_niks(identity.nik[rows], registered, age, visits.refused[f], u, rates)
    birth = p["birth"].to_numpy().astype("datetime64[D]")
    missing = u[:, 2] < rates.birthdate_missing * np.where(age >= 60, 1.8, 0.9)
    off = ~missing & (u[:, 3] < rates.birthdate_off)
    written = birth.copy()
    written[off] = _wrong_dates(rng, birth[off])
    r406 = format_dates(written, "dmy", "/")
    r406[missing] = ""

    names = variation.vary_names(
        rng, p["name"].to_numpy(), p["name_bare"].to_numpy(), p["sex"].to_numpy(),
        variation.BPS_NOISE,
    )  # fmt: skip
    work = pd.DataFrame(
        {
            "pid": rows,
            **_area_codes(region, desa),
            "R105": pad4(roster.sls),
            "R109": as_text(roster.building),
            "R110": as_text(roster.family_in_building),
            "R401": as_text(roster.member_no),
            "R402": names,
            "R403": nik,
            "R404": as_text(relation),
            "R405": as_text(p["sex"].to_numpy()),
            "R406": r406,
            "R407": as_text(age),
            "R408": as_text(p["marital"].to_numpy()),
            PLANT_PREFIX + "domicile_differs": registered & (desa != home[f]),
            PLANT_PREFIX + "bps_nik_placeholder": np.isin(
                nik,
                [PLACEHOLDER_REFUSED, PLACEHOLDER_CHILD, PLACEHOLDER_ADULT, PLACEHOLDER_FOREIGN],
            ),  # fmt: skip
            PLANT_PREFIX + "bps_birthdate_missing": missing,
            PLANT_PREFIX + "bps_birthdate_differs": off & (written != birth),
        }
    )
    bps_order = np.argsort(np.argsort(region.desa["desa_bps_code"].to_numpy(), kind="stable"))
    work["_code"] = bps_order[desa]
    work = work.sort_values("_code", kind="stable").reset_index(drop=True)
    return finish(file_name(region, population.snapshot), work, COLUMNS)


def _visit_families(
    rng: np.random.Generator, region: places.Region, families: pd.DataFrame, rates: Rates
) -> _Visits:
    """Where each family lives (some registered families elsewhere than their card says) and
    whether it was found and showed its cards."""
    n_fam = len(families)
    home = families["desa"].to_numpy()
    lives = home.copy()
    fam_registered = families["registered"].to_numpy()
    away = np.flatnonzero(fam_registered & (rng.random(n_fam) < rates.family_lives_elsewhere))
    lives[away] = places.other_desa(region, rng, home[away], rates.elsewhere_other_kec)
    rt, rw = families["rt"].to_numpy().copy(), families["rw"].to_numpy().copy()
    rt[away], rw[away] = places.rt_rw(region, rng, lives[away])
    found = rng.random(n_fam) >= rates.family_not_enumerated
    refused = rng.random(n_fam) < rates.nik_refused_family
    return _Visits(desa=lives, rt=rt, rw=rw, found=found, refused=refused)


def _enumerated(
    rng: np.random.Generator, persons: pd.DataFrame, found: np.ndarray, rates: Rates
) -> np.ndarray:
    """Pids of the living members of found families; a few members other than the head are
    missed."""
    rel = persons["rel"].to_numpy()
    member = persons["alive"].to_numpy() & found[persons["family"].to_numpy()]
    member &= (rel == 1) | (rng.random(len(persons)) >= rates.person_not_enumerated)
    return np.flatnonzero(member)


def _number_roster(
    rng: np.random.Generator, persons: pd.DataFrame, rows: np.ndarray, visits: _Visits
) -> _Numbering:
    """SLS = an RT of the desa; buildings and families numbered within it, in the order the
    enumerator visited them."""
    n_fam = len(visits.found)
    p = persons.iloc[rows]
    f = persons["family"].to_numpy()[rows]
    desa = visits.desa[f]
    sls_key = desa.astype(np.int64) * 1_000_000 + visits.rw[f] * 1000 + visits.rt[f]
    fam_order = rng.permutation(n_fam)  # visiting order of families
    order = np.lexsort((p["slot"].to_numpy(), f, fam_order[f], sls_key))
    rows, f, desa, sls_key = rows[order], f[order], desa[order], sls_key[order]
    sls = _rank_within(desa, sls_key)
    new_family = np.r_[True, f[1:] != f[:-1]]
    new_sls = np.r_[True, sls_key[1:] != sls_key[:-1]]
    shares = rng.random(n_fam) < 0.08  # family shares the building of the previous one
    new_building = new_family & (new_sls | ~shares[f])
    return _Numbering(
        rows=rows,
        family=f,
        desa=desa,
        sls=sls,
        building=_count_within(new_sls, new_building),
        family_in_building=_count_within(new_building, new_family),
        member_no=_count_within(new_family, np.ones(len(rows), dtype=bool)),
        new_family=new_family,
    )


def _reported_niks(
    nik: np.ndarray,
    registered: np.ndarray,
    age: np.ndarray,
    refused: np.ndarray,
    u: np.ndarray,
    rates: Rates,
) -> np.ndarray:
    """R403: the NIK when a card was shown, else the placeholder that says why not."""
    no_card = np.where(registered, u[:, 0] < rates.nik_not_shown,
                       u[:, 0] < rates.nik_unknown_unregistered)  # fmt: skip
    nik = np.where(no_card, np.where(age < 17, PLACEHOLDER_CHILD, PLACEHOLDER_ADULT), nik)
    nik = np.where(refused, PLACEHOLDER_REFUSED, nik)
    foreign = ~registered & (u[:, 1] < rates.nik_foreign)  # e.g. a foreign spouse
    return np.where(foreign, PLACEHOLDER_FOREIGN, nik).astype(object)


def _area_codes(region: places.Region, desa: np.ndarray) -> dict[str, np.ndarray]:
    """R101-R104 (province, kab/kota, kecamatan, desa) from the desa's BPS code."""
    bps_code = region.desa["desa_bps_code"].str
    return {
        k: bps_code.slice(a, b).to_numpy(dtype=object)[desa]
        for k, a, b in (("R101", 0, 2), ("R102", 2, 4), ("R103", 4, 7), ("R104", 7, 10))
    }


def _count_within(group_start: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Running count of ``counted`` rows, restarting where ``group_start`` is true."""
    total = np.cumsum(counted)
    base = np.maximum.accumulate(np.where(group_start, total - counted, 0))
    return total - base


def _rank_within(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """1-based rank of each distinct ``key`` within its ``group`` (rows sorted by key)."""
    new_group = np.r_[True, group[1:] != group[:-1]]
    new_key = np.r_[True, key[1:] != key[:-1]]
    return _count_within(new_group, new_key)
