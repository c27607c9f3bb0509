"""The KPU voter list (DPT): eligible residents by kelurahan and polling station (TPS).

Eligibility (docs/domain.md), judged on the registry as of the snapshot date: alive, 17 or older or
ever married, not serving TNI/POLRI. Most eligible registered persons are listed; planted on top
are the list's typical faults: the dead still listed, unmarried under-17s, TNI/POLRI members,
voters unknown to the registry, the same voter twice in another TPS, mistyped or Excel-mangled
NIKs, and desa/kecamatan names spelled KPU's own way (consistently per region).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from synthetic import places, variation
from synthetic.formatting import (
    as_text,
    excel_decimal,
    excel_scientific,
    format_dates,
    pad3,
)
from synthetic.identifiers import Identity
from synthetic.population import Population
from synthetic.rates import Rates
from synthetic.truth import PLANT_PREFIX, Extract, finish

COLUMNS = [
    "NO", "NKK", "NIK", "NAMA", "TEMPAT_LAHIR", "TANGGAL_LAHIR", "STATUS_PERKAWINAN",
    "JENIS_KELAMIN", "ALAMAT", "RT", "RW", "DISABILITAS", "KTP_EL", "KETERANGAN", "KECAMATAN",
    "KELURAHAN", "TPS",
]  # fmt: skip
TPS_SIZE = 280  # voters per polling station (the 2024 maximum was 300)
_MARITAL = np.array(["", "B", "S", "P", "P"], dtype=object)


def file_name(region: places.Region, snapshot: date, kpu_format: str) -> str:
    return f"kpu_dpt_{region.kab.compact_code}_{snapshot:%Y%m%d}.{kpu_format}"


def eligible(persons: pd.DataFrame) -> np.ndarray:
    """May vote on the snapshot date: alive, 17+ or ever married, not TNI/POLRI."""
    adult = (persons["age"].to_numpy() >= 17) | (persons["marital"].to_numpy() != 1)
    serving = np.isin(persons["occupation"].to_numpy(), [6, 7])
    return persons["alive"].to_numpy() & adult & ~serving


def _pick_share(rng: np.random.Generator, mask: np.ndarray, count: int) -> np.ndarray:
    idx = np.flatnonzero(mask)
    count = min(len(idx), count)
    out = np.zeros(len(mask), dtype=bool)
    out[rng.choice(idx, size=count, replace=False)] = True
    return out


def mistype(nik: str, u: np.ndarray) -> str:
    """One wrong digit or two neighbouring digits swapped; always differs from ``nik``."""
    if u[0] < 0.4:
        for shift in range(15):
            i = (int(u[1] * 15) + shift) % 15
            if nik[i] != nik[i + 1]:
                return nik[:i] + nik[i + 1] + nik[i] + nik[i + 2 :]
    i = int(u[1] * 16)
    digit = str((int(nik[i]) + 1 + int(u[2] * 9)) % 10)
    return nik[:i] + digit + nik[i + 1 :]


def _spellings(
    rng: np.random.Generator, names: np.ndarray, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """KPU's spelling of each region name, and which ones differ from Kemendagri."""
    n = len(names)
    differs = rng.random(n) < rate
    u = rng.random((n, 4))
    out = names.astype(object).copy()
    for i in np.flatnonzero(differs):
        out[i] = variation.misspell_place(str(names[i]), u[i])
    return out, differs


@dataclass(frozen=True)
class _Selection:
    """Who is on the list: the persons listed (pids) and the planted reasons for some of them."""

    voters: np.ndarray  # pids, each once
    missing: np.ndarray  # pids of eligible registered persons left off the list
    underage: np.ndarray  # per person: an unmarried under-17 planted on the list
    serving: np.ndarray  # per person: a serving TNI/POLRI member planted on the list


@dataclass(frozen=True)
class _Stations:
    """The listed voters in list order, with their family, desa and polling station."""

    voters: np.ndarray
    fam: np.ndarray
    desa: np.ndarray
    tps: np.ndarray
    n_tps: np.ndarray  # per desa


def build(
    rng: np.random.Generator,
    region: places.Region,
    population: Population,
    identity: Identity,
    rates: Rates,
    kpu_format: str,
) -> Extract:
    """The voter list with its lineage and planted problems."""
    persons = population.persons
    chosen = _select_voters(rng, persons, rates)
    stations = _polling_stations(region, population, chosen.voters)
    dup_rows, dup_desa, dup_tps = _second_listings(rng, region, rates, stations)
    pid = np.concatenate([stations.voters, stations.voters[dup_rows]])
    is_dup = np.r_[np.zeros(len(stations.voters), bool), np.ones(len(dup_rows), bool)]
    all_fam = np.concatenate([stations.fam, stations.fam[dup_rows]])
    all_desa = np.concatenate([stations.desa, dup_desa])
    all_tps = np.concatenate([stations.tps, dup_tps])
    p = persons.iloc[pid]
    names = variation.vary_names(
        rng, p["name"].to_numpy(), p["name_bare"].to_numpy(), p["sex"].to_numpy(),
        variation.KPU_NOISE,
    )  # fmt: skip
    kel_names, kel_differs, kec_names, kec_differs = _region_spellings(rng, region, rates, all_desa)
    kec_of_desa = region.desa["kec_idx"].to_numpy()[all_desa]
    disability, ktp_el, keterangan = _listing_marks(rng, p["age"].to_numpy())

    families = population.families
    work = pd.DataFrame(
        {
            "pid": pid,
            "NKK": identity.kk[all_fam],
            "NIK": identity.nik[pid],
            "NAMA": names,
            "TEMPAT_LAHIR": p["birth_place"].to_numpy(),
            "TANGGAL_LAHIR": format_dates(p["birth"].to_numpy(), "dmy", "|"),
            "STATUS_PERKAWINAN": _MARITAL[p["marital"].to_numpy()],
            "JENIS_KELAMIN": np.where(p["sex"].to_numpy() == 1, "L", "P").astype(object),
            "ALAMAT": families["address"].to_numpy()[all_fam],
            "RT": pad3(families["rt"].to_numpy()[all_fam]),
            "RW": pad3(families["rw"].to_numpy()[all_fam]),
            "DISABILITAS": as_text(disability),
            "KTP_EL": ktp_el.astype(object),
            "KETERANGAN": keterangan.astype(object),
            "KECAMATAN": kec_names[kec_of_desa],
            "KELURAHAN": kel_names[all_desa],
            "TPS": pad3(all_tps),
            PLANT_PREFIX + "voter_deceased": ~p["alive"].to_numpy(),
            PLANT_PREFIX + "voter_underage": chosen.underage[pid],
            PLANT_PREFIX + "voter_duplicate": is_dup,
            PLANT_PREFIX + "voter_not_in_registry": ~p["registered"].to_numpy(),
            PLANT_PREFIX + "voter_ineligible_occupation": chosen.serving[pid],
            PLANT_PREFIX + "kelurahan_misspelled": kel_differs[all_desa],
            PLANT_PREFIX + "kecamatan_misspelled": kec_differs[kec_of_desa],
        }
    )
    _plant_nik_errors(rng, work, rates)
    work = _in_list_order(work, kec_of_desa, all_desa, all_tps, is_dup)
    name = file_name(region, population.snapshot, kpu_format)
    return finish(name, work, COLUMNS, {"eligible_missing_from_voter_list": chosen.missing})


def _select_voters(rng: np.random.Generator, persons: pd.DataFrame, rates: Rates) -> _Selection:
    """Most eligible registered persons, plus the planted ineligible and unknown voters."""
    n = len(persons)
    registered = persons["registered"].to_numpy()
    alive = persons["alive"].to_numpy()
    age = persons["age"].to_numpy()
    marital = persons["marital"].to_numpy()
    ok = eligible(persons)
    adult_or_married = (age >= 17) | (marital != 1)

    listed = ok & registered & (rng.random(n) < rates.eligible_listed)
    missing = np.flatnonzero(ok & registered & ~listed)
    not_in_registry = ok & ~registered & (rng.random(n) < rates.unregistered_listed)
    deceased = registered & ~alive & adult_or_married & (rng.random(n) < rates.deceased_listed)
    serving = registered & alive & np.isin(persons["occupation"].to_numpy(), [6, 7])
    serving &= (age >= 17) & (rng.random(n) < rates.tni_polri_listed)
    young = registered & alive & (marital == 1) & (age >= 14) & (age < 17)
    n_underage = max(1, int(round(rates.underage_listed * listed.sum())))
    underage = _pick_share(rng, young, n_underage)
    voters = np.flatnonzero(listed | not_in_registry | deceased | serving | underage)
    return _Selection(voters=voters, missing=missing, underage=underage, serving=serving)


def _polling_stations(
    region: places.Region, population: Population, voters: np.ndarray
) -> _Stations:
    """Voters of a desa in neighbourhood order, cut into TPS of ~280."""
    families = population.families
    fam = population.persons["family"].to_numpy()[voters]
    desa = families["desa"].to_numpy()[fam]
    rt = families["rt"].to_numpy()[fam]
    rw = families["rw"].to_numpy()[fam]
    order = np.lexsort((population.persons["slot"].to_numpy()[voters], fam, rt, rw, desa))
    voters, fam, desa = (a[order] for a in (voters, fam, desa))
    start = np.r_[True, desa[1:] != desa[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(desa)), 0))
    rank = np.arange(len(desa)) - first
    desa_size = np.bincount(desa, minlength=len(region.desa))
    n_tps = np.maximum(1, np.ceil(desa_size / TPS_SIZE)).astype(int)
    tps = 1 + (rank * n_tps[desa]) // np.maximum(desa_size[desa], 1)
    return _Stations(voters=voters, fam=fam, desa=desa, tps=tps, n_tps=n_tps)


def _second_listings(
    rng: np.random.Generator, region: places.Region, rates: Rates, stations: _Stations
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same voter a second time, in another TPS (same desa when it has several): the rows
    listed twice, and the desa and TPS of their second listing."""
    n_voters = len(stations.voters)
    n_dup = max(1, int(round(rates.voter_duplicate * n_voters))) if n_voters else 0
    dup_rows = np.sort(rng.choice(n_voters, size=min(n_dup, n_voters), replace=False))
    n_tps = stations.n_tps
    dup_desa = stations.desa[dup_rows].copy()
    single = n_tps[dup_desa] == 1
    dup_desa[single] = places.other_desa(region, rng, dup_desa[single], 0.3)
    dup_tps = 1 + (rng.random(len(dup_rows)) * n_tps[dup_desa]).astype(int)
    same = dup_tps == stations.tps[dup_rows]
    dup_tps[same] = dup_tps[same] % n_tps[dup_desa[same]] + 1
    return dup_rows, dup_desa, dup_tps


def _region_spellings(
    rng: np.random.Generator, region: places.Region, rates: Rates, used_desa: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """KPU's kelurahan and kecamatan names and which differ from Kemendagri's; at least one
    kelurahan on the list is spelled differently."""
    kel_names, kel_differs = _spellings(
        rng, region.desa["desa_name"].to_numpy(), rates.desa_name_differs
    )
    used = np.unique(used_desa)
    if len(used) and not kel_differs[used].any():
        i = used[int(rng.integers(0, len(used)))]
        kel_differs[i] = True
        kel_names[i] = variation.misspell_place(str(kel_names[i]), rng.random(4))
    kec_names, kec_differs = _spellings(
        rng, region.kec["kec_name"].to_numpy(), rates.kec_name_differs
    )
    return kel_names, kel_differs, kec_names, kec_differs


def _listing_marks(
    rng: np.random.Generator, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DISABILITAS (0 none, 1-6), KTP_EL (B: not yet, S: has one) and KETERANGAN (B: new
    voter, U: changed) of each row."""
    u = rng.random((len(age), 4))
    disability = np.where(
        u[:, 0] < 0.015 + 0.03 * (age >= 65),
        np.array([1, 2, 3, 4, 5, 6])[np.minimum((u[:, 1] * 6).astype(int), 5)],
        0,
    )
    keterangan = np.where((age < 19) & (u[:, 2] < 0.85), "B", np.where(u[:, 2] < 0.02, "U", ""))
    ktp_el = np.where(u[:, 3] < np.where(age < 18, 0.3, 0.03), "B", "S")
    return disability, ktp_el, keterangan


def _in_list_order(
    work: pd.DataFrame,
    kec_of_desa: np.ndarray,
    desa: np.ndarray,
    tps: np.ndarray,
    is_dup: np.ndarray,
) -> pd.DataFrame:
    """Rows by kecamatan, kelurahan and TPS (second listings after the first ones), numbered
    from 1 within each TPS."""
    work["_kec"] = kec_of_desa
    work["_desa"] = desa
    work["_tps"] = tps
    work["_dup"] = is_dup
    work = work.sort_values(["_kec", "_desa", "_tps", "_dup"], kind="stable")
    work = work.reset_index(drop=True)
    no = work.groupby(["_desa", "_tps"], sort=False).cumcount().to_numpy() + 1
    work["NO"] = as_text(no)
    return work


def _plant_nik_errors(rng: np.random.Generator, work: pd.DataFrame, rates: Rates) -> None:
    """Mistype NIKs in some rows and let Excel mangle NIK (and sometimes NKK) in others."""
    m = len(work)
    if m == 0:
        work[PLANT_PREFIX + "nik_mistyped"] = False
        work[PLANT_PREFIX + "nik_excel_mangled"] = False
        return
    n_typo = max(1, int(round(rates.nik_mistyped * m)))
    n_excel = max(1, int(round(rates.nik_excel_mangled * m)))
    chosen = rng.choice(m, size=min(m, n_typo + n_excel), replace=False)
    typo_rows, excel_rows = np.sort(chosen[:n_typo]), np.sort(chosen[n_typo:])
    nik = work["NIK"].to_numpy().copy()
    nkk = work["NKK"].to_numpy().copy()
    u = rng.random((len(typo_rows), 3))
    for j, i in enumerate(typo_rows):
        nik[i] = mistype(str(nik[i]), u[j])
    u = rng.random((len(excel_rows), 2))
    for j, i in enumerate(excel_rows):
        mangle = excel_scientific if u[j, 0] < 0.5 else excel_decimal
        nik[i] = mangle(str(nik[i]))
        if u[j, 1] < 0.5:
            nkk[i] = mangle(str(nkk[i]))
    work["NIK"] = nik
    work["NKK"] = nkk
    typo_flag = np.zeros(m, dtype=bool)
    typo_flag[typo_rows] = True
    excel_flag = np.zeros(m, dtype=bool)
    excel_flag[excel_rows] = True
    work[PLANT_PREFIX + "nik_mistyped"] = typo_flag
    work[PLANT_PREFIX + "nik_excel_mangled"] = excel_flag
