"""Region reference: BPS and Kemendagri codes for every province, kab/kota, kecamatan and desa.

The data is BPS's bridging-code table (``region_crosswalk.csv.gz`` beside this module, as
published, about 2023). Both schemes write 10 digits for a desa, so every code handled here
carries its scheme in its shape: Kemendagri codes are dotted (``63.09.01.2001``), BPS codes
are plain digits (``6309010001``).

A few rows of the published table are unusable (a kecamatan with no Kemendagri code, desa
whose Kemendagri code sits under another kecamatan than their BPS parent). They are kept as
published for the BPS -> Kemendagri lookup; the Kemendagri hierarchy is derived from the
Kemendagri codes themselves, which is what the civil registry uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

_KEMENDAGRI_CODE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


class UnknownRegionError(ValueError):
    """A region code that the reference table does not know."""


@dataclass(frozen=True)
class Kabupaten:
    """One kab/kota: its codes in both schemes and its name."""

    kemendagri_code: str  # "63.09"
    bps_code: str  # "6309"
    name: str

    @property
    def compact_code(self) -> str:
        """The 4-digit Kemendagri code used in agency file names (``6309``)."""
        return self.kemendagri_code.replace(".", "")


@lru_cache(maxsize=1)
def crosswalk() -> pd.DataFrame:
    """The whole reference table, cleaned: one row per region, both codes as text.

    Columns: ``bps_code``, ``kemendagri_code``, ``name``, ``bps_parent``, ``level``
    (``province``, ``kabupaten``, ``kecamatan``, ``desa``).
    """
    path = resources.files("connectors.reference").joinpath("region_crosswalk.csv.gz")
    with resources.as_file(path) as csv_path:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False, compression="gzip")
    table = table[["bps_code", "kemendagri_code", "name", "bps_parent"]].copy()
    # Some published names carry line breaks inside quotes; names are single-line here.
    table["name"] = table["name"].str.replace(r"\s+", " ", regex=True).str.strip().str.upper()
    table = table[table["kemendagri_code"].str.match(_KEMENDAGRI_CODE)]
    levels = {2: "province", 4: "kabupaten", 7: "kecamatan", 10: "desa"}
    table["level"] = table["bps_code"].str.len().map(levels)
    table = table[table["level"].notna()]
    expected_dots = table["level"].map({"province": 0, "kabupaten": 1, "kecamatan": 2, "desa": 3})
    table = table[table["kemendagri_code"].str.count(r"\.") == expected_dots]
    return table.reset_index(drop=True)


@lru_cache(maxsize=1)
def _kabupaten_index() -> dict[str, Kabupaten]:
    kabs = crosswalk()[crosswalk()["level"] == "kabupaten"]
    index: dict[str, Kabupaten] = {}
    for row in kabs.itertuples(index=False):
        kab = Kabupaten(row.kemendagri_code, row.bps_code, row.name)
        index[kab.compact_code] = kab
    return index


def kabupaten(code: str) -> Kabupaten:
    """Look a kab/kota up by its Kemendagri code, ``6309`` or ``63.09``."""
    compact = code.replace(".", "").strip()
    try:
        return _kabupaten_index()[compact]
    except KeyError:
        raise UnknownRegionError(f"unknown Kemendagri kab/kota code {code!r}") from None


def kabupaten_by_bps_code(bps_code: str) -> Kabupaten:
    """Look a kab/kota up by its 4-digit BPS code (as in BPS file names)."""
    for kab in _kabupaten_index().values():
        if kab.bps_code == bps_code:
            return kab
    raise UnknownRegionError(f"unknown BPS kab/kota code {bps_code!r}")


def all_kabupaten() -> list[Kabupaten]:
    """Every kab/kota in the reference table, ordered by Kemendagri code."""
    return sorted(_kabupaten_index().values(), key=lambda k: k.kemendagri_code)


def desa_of(kab: Kabupaten) -> pd.DataFrame:
    """The desa/kelurahan of a kab/kota in the Kemendagri scheme, with their kecamatan.

    Columns: ``desa_code`` (``63.09.01.2001``), ``desa_name``, ``kec_code`` (``63.09.01``),
    ``kec_name``, ``desa_bps_code``, ``kec_bps_code``. Desa whose Kemendagri code falls under a
    kecamatan unknown to the table are left out.
    """
    table = crosswalk()
    prefix = kab.kemendagri_code + "."
    desa = table[(table["level"] == "desa") & table["kemendagri_code"].str.startswith(prefix)]
    kec = table[(table["level"] == "kecamatan") & table["kemendagri_code"].str.startswith(prefix)]
    desa = desa.assign(kec_code=desa["kemendagri_code"].str.slice(0, 8))
    merged = desa.merge(
        kec[["kemendagri_code", "name", "bps_code"]].rename(
            columns={"kemendagri_code": "kec_code", "name": "kec_name", "bps_code": "kec_bps_code"}
        ),
        on="kec_code",
        how="inner",
    )
    merged = merged.rename(
        columns={"kemendagri_code": "desa_code", "name": "desa_name", "bps_code": "desa_bps_code"}
    )
    columns = ["desa_code", "desa_name", "kec_code", "kec_name", "desa_bps_code", "kec_bps_code"]
    return merged[columns].sort_values("desa_code").reset_index(drop=True)


def places_of(kab: Kabupaten) -> pd.DataFrame:
    """The kecamatan and desa of a kab/kota with their names: ``code``, ``level``
    (``kecamatan`` or ``desa``), ``name``, ``kec_code`` (a kecamatan's is its own code)."""
    desa = desa_of(kab)
    kec = desa[["kec_code", "kec_name"]].drop_duplicates("kec_code")
    frames = [
        pd.DataFrame({"code": kec["kec_code"], "level": "kecamatan", "name": kec["kec_name"],
                      "kec_code": kec["kec_code"]}),
        pd.DataFrame({"code": desa["desa_code"], "level": "desa", "name": desa["desa_name"],
                      "kec_code": desa["kec_code"]}),
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True).astype("string")


@lru_cache(maxsize=1)
def bps_to_kemendagri() -> dict[str, str]:
    """BPS code (any level) -> Kemendagri code, for every region with a usable mapping."""
    table = crosswalk()
    return dict(zip(table["bps_code"], table["kemendagri_code"], strict=True))


@lru_cache(maxsize=1)
def known_kemendagri_codes() -> frozenset[str]:
    """Every Kemendagri code in the table, at any level."""
    return frozenset(crosswalk()["kemendagri_code"])
