"""The region a synthetic population lives in: its desa, kecamatan, streets and RT/RW layout.

Built from the real reference table (``connectors.reference.regions``) so that every generated
code exists in the crosswalk. Desa sizes vary (lognormal weights) as they do in reality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from connectors.reference import regions
from synthetic import pools

#: Religion shares (codes 1-7) by province; the default is the national mix.
_RELIGION_DEFAULT = (0.87, 0.07, 0.03, 0.017, 0.007, 0.0005, 0.0005)
_RELIGION_BY_PROVINCE: dict[str, tuple[float, ...]] = {
    "11": (0.985, 0.01, 0.001, 0.001, 0.003, 0.0, 0.0),
    "13": (0.97, 0.02, 0.008, 0.001, 0.001, 0.0, 0.0),
    "32": (0.97, 0.018, 0.007, 0.001, 0.004, 0.0, 0.0),
    "33": (0.97, 0.017, 0.01, 0.001, 0.002, 0.0, 0.0),
    "35": (0.965, 0.02, 0.008, 0.005, 0.002, 0.0, 0.0),
    "63": (0.97, 0.015, 0.007, 0.005, 0.003, 0.0, 0.0),
    "12": (0.63, 0.27, 0.05, 0.001, 0.03, 0.001, 0.001),
    "51": (0.12, 0.02, 0.01, 0.84, 0.005, 0.001, 0.001),
    "53": (0.09, 0.35, 0.54, 0.005, 0.001, 0.001, 0.005),
    "61": (0.6, 0.12, 0.22, 0.002, 0.05, 0.005, 0.001),
    "71": (0.31, 0.63, 0.05, 0.005, 0.002, 0.001, 0.002),
    "81": (0.5, 0.43, 0.06, 0.005, 0.001, 0.001, 0.003),
}
_PAPUA = ("91", "92", "93", "94", "95", "96", "97")


def place_word(name: str) -> str:
    """A region name as people write it as a birth place (``KAB. TABALONG`` -> ``TABALONG``)."""
    for prefix in ("KABUPATEN ", "KAB. ", "KAB ", "KOTA ADM. ", "KOTA "):
        if name.startswith(prefix):
            return name[len(prefix) :].strip()
    return name.strip()


@dataclass(frozen=True)
class Region:
    """A kab/kota with its desa table and the layout used to place families."""

    kab: regions.Kabupaten
    desa: pd.DataFrame  # desa_of(kab) plus kec_idx, weight, n_rw, n_rt, urban, no_kec, no_kel
    kec: pd.DataFrame  # kec_code, kec_name, kec6 (int), kec_bps_code
    other_kec6: np.ndarray  # 6-digit Kemendagri codes of kecamatan in other kab/kota
    other_kec_place: np.ndarray  # birth-place word for each of other_kec6
    streets: np.ndarray  # object array of street names
    desa_streets: np.ndarray  # (n_desa, 6) indices into streets
    religion_probs: np.ndarray
    balinese_share: float

    @property
    def province(self) -> str:
        return self.kab.kemendagri_code[:2]

    @property
    def place_name(self) -> str:
        return place_word(self.kab.name)


def load_region(code: str, rng: np.random.Generator) -> Region:
    """The region context for a 4-digit Kemendagri kab/kota code."""
    kab = regions.kabupaten(code)
    desa = regions.desa_of(kab).copy()
    if desa.empty:
        raise regions.UnknownRegionError(f"kab/kota {code!r} has no desa in the reference table")
    kec = (
        desa[["kec_code", "kec_name", "kec_bps_code"]]
        .drop_duplicates("kec_code")
        .sort_values("kec_code")
        .reset_index(drop=True)
    )
    kec["kec6"] = kec["kec_code"].str.replace(".", "", regex=False).astype(np.int64)
    desa["kec_idx"] = desa["kec_code"].map(dict(zip(kec["kec_code"], kec.index, strict=True)))
    n = len(desa)
    desa["weight"] = rng.lognormal(0.0, 0.8, n)
    desa["n_rw"] = rng.integers(2, 11, n)
    desa["n_rt"] = rng.integers(3, 9, n)
    parts = desa["desa_code"].str.split(".", expand=True)
    desa["no_kec"] = parts[2].astype(int)
    desa["no_kel"] = parts[3].astype(int)
    desa["urban"] = parts[3].str.startswith("1")

    cw = regions.crosswalk()
    others = cw[
        (cw["level"] == "kecamatan")
        & ~cw["kemendagri_code"].str.startswith(kab.kemendagri_code + ".")
    ]
    others = others.sort_values("kemendagri_code")
    kab_names = dict(
        zip(
            cw.loc[cw["level"] == "kabupaten", "kemendagri_code"],
            cw.loc[cw["level"] == "kabupaten", "name"],
            strict=True,
        )
    )
    other_kec6 = others["kemendagri_code"].str.replace(".", "", regex=False).astype(np.int64)
    other_place = others["kemendagri_code"].str.slice(0, 5).map(kab_names).fillna("JAKARTA")

    streets = np.array(pools.street_pool(), dtype=object)
    desa_streets = rng.integers(0, len(streets), (n, 6))

    province = kab.kemendagri_code[:2]
    religion = _RELIGION_BY_PROVINCE.get(province, _RELIGION_DEFAULT)
    if province in _PAPUA:
        religion = (0.2, 0.65, 0.14, 0.002, 0.002, 0.001, 0.005)
    probs = np.array(religion, dtype=float)
    return Region(
        kab=kab,
        desa=desa.reset_index(drop=True),
        kec=kec,
        other_kec6=other_kec6.to_numpy(),
        other_kec_place=np.array([place_word(p) for p in other_place], dtype=object),
        streets=streets,
        desa_streets=desa_streets,
        religion_probs=probs / probs.sum(),
        balinese_share=0.85 if province == "51" else 0.015,
    )


def pick_desa(region: Region, rng: np.random.Generator, size: int) -> np.ndarray:
    """Desa indices drawn by the desa weights."""
    w = region.desa["weight"].to_numpy()
    return rng.choice(len(w), size=size, p=w / w.sum())


def other_desa(
    region: Region, rng: np.random.Generator, desa: np.ndarray, other_kec_share: float
) -> np.ndarray:
    """For each desa index, a different desa: in another kecamatan with ``other_kec_share``
    (or when the kecamatan has a single desa), otherwise in the same kecamatan."""
    kec_idx = region.desa["kec_idx"].to_numpy()
    n_desa = len(kec_idx)
    out = desa.copy()
    if n_desa < 2:
        return out
    want_other_kec = rng.random(len(desa)) < other_kec_share
    order = np.argsort(kec_idx, kind="stable")
    starts = np.searchsorted(kec_idx[order], np.arange(kec_idx.max() + 2))
    u = rng.random(len(desa))
    for i in range(len(desa)):  # callers pass a few percent of families only
        k = kec_idx[desa[i]]
        same = order[starts[k] : starts[k + 1]]
        if not want_other_kec[i] and len(same) > 1:
            choices = same[same != desa[i]]
        else:
            choices = np.flatnonzero(kec_idx != k)
            if len(choices) == 0:
                choices = same[same != desa[i]]
        out[i] = choices[int(u[i] * len(choices))]
    return out


def rt_rw(region: Region, rng: np.random.Generator, desa: np.ndarray) -> tuple[np.ndarray, ...]:
    """RT and RW numbers inside each given desa."""
    n_rw = region.desa["n_rw"].to_numpy()[desa]
    n_rt = region.desa["n_rt"].to_numpy()[desa]
    rw = 1 + (rng.random(len(desa)) * n_rw).astype(int)
    rt = 1 + (rng.random(len(desa)) * n_rt).astype(int)
    return rt, rw


def addresses(region: Region, rng: np.random.Generator, desa: np.ndarray) -> np.ndarray:
    """Street addresses: ``JL. ... NO. 12``, ``GG. ...``, ``DUSUN ...``, some with commas."""
    n = len(desa)
    street = region.streets[region.desa_streets[desa, rng.integers(0, 6, n)]]
    number = rng.integers(1, 120, n).astype(str).astype(object)
    urban = region.desa["urban"].to_numpy()[desa]
    u = rng.random(n)
    roman = np.array(["I", "II", "III", "IV", "V", "VI"], dtype=object)[rng.integers(0, 6, n)]
    lane = region.streets[region.desa_streets[desa, rng.integers(0, 6, n)]]
    out = np.where(
        u < 0.45,
        "JL. " + street + " NO. " + number,
        np.where(
            u < 0.6,
            "GG. " + street,
            np.where(u < 0.8, "DUSUN " + roman, "JL. " + street),
        ),
    ).astype(object)
    rural_dusun = ~urban & (rng.random(n) < 0.35)
    out = np.where(rural_dusun, "DUSUN " + roman, out).astype(object)
    with_lane = rng.random(n) < 0.05
    return np.where(with_lane, out + ", GG. " + lane, out).astype(object)
