"""The Disdukcapil DKB extract: every registered person, living or dead, by family card.

Rows: registered persons (deceased ones with STAT_HIDUP=2) and the second registrations
planted by ``identifiers``. Order: kecamatan, desa, family card, member order, as SIAK exports.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from synthetic import places
from synthetic.formatting import as_text, format_dates
from synthetic.identifiers import Identity
from synthetic.population import Population
from synthetic.truth import PLANT_PREFIX, Extract, finish

COLUMNS = [
    "NIK", "NO_KK", "NAMA_LGKP", "JENIS_KLMIN", "TMPT_LHR", "TGL_LHR", "AGAMA", "STAT_KWN",
    "STAT_HBKEL", "PDDK_AKH", "JENIS_PKRJN", "NAMA_LGKP_IBU", "ALAMAT", "NO_RT", "NO_RW",
    "NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL", "STAT_HIDUP",
]  # fmt: skip


def file_name(region: places.Region, snapshot: date) -> str:
    return f"dukcapil_{region.kab.compact_code}_{snapshot:%Y%m%d}.csv"


def build(region: places.Region, population: Population, identity: Identity) -> Extract:
    """The registry extract with its lineage and planted problems."""
    persons = population.persons
    families = population.families
    reg = persons[persons["registered"].to_numpy()]
    pid = reg["pid"].to_numpy()
    fam = reg["family"].to_numpy()
    doubles = identity.doubles
    dpid = doubles["pid"].to_numpy()

    def both(registry_values, double_values) -> np.ndarray:
        return np.concatenate([np.asarray(registry_values), np.asarray(double_values)])

    all_pid = both(pid, dpid)
    p = persons.iloc[all_pid]
    desa = both(families["desa"].to_numpy()[fam], doubles["desa"])
    mismatch = np.isin(all_pid, identity.mismatch)
    is_double = both(np.zeros(len(pid), bool), np.ones(len(dpid), bool))
    d = region.desa
    work = pd.DataFrame(
        {
            "pid": all_pid,
            "NIK": both(identity.nik[pid], doubles["nik"]),
            "NO_KK": both(identity.kk[fam], doubles["kk"]),
            "NAMA_LGKP": both(reg["name"], doubles["name"]),
            "JENIS_KLMIN": as_text(p["sex"].to_numpy()),
            "TMPT_LHR": p["birth_place"].to_numpy(),
            "TGL_LHR": format_dates(p["birth"].to_numpy(), "dmy", "-"),
            "AGAMA": as_text(p["religion"].to_numpy()),
            "STAT_KWN": as_text(p["marital"].to_numpy()),
            "STAT_HBKEL": as_text(both(reg["rel"], np.ones(len(dpid), dtype=int))),
            "PDDK_AKH": as_text(p["education"].to_numpy()),
            "JENIS_PKRJN": as_text(p["occupation"].to_numpy()),
            "NAMA_LGKP_IBU": p["mother_name"].to_numpy(),
            "ALAMAT": both(families["address"].to_numpy()[fam], doubles["address"]),
            "NO_RT": as_text(both(families["rt"].to_numpy()[fam], doubles["rt"])),
            "NO_RW": as_text(both(families["rw"].to_numpy()[fam], doubles["rw"])),
            "NO_PROP": str(int(region.kab.kemendagri_code[:2])),
            "NO_KAB": str(int(region.kab.kemendagri_code[3:5])),
            "NO_KEC": as_text(d["no_kec"].to_numpy()[desa]),
            "NO_KEL": as_text(d["no_kel"].to_numpy()[desa]),
            "STAT_HIDUP": np.where(p["alive"].to_numpy(), "1", "2").astype(object),
            PLANT_PREFIX + "dukcapil_double_registration": is_double,
            PLANT_PREFIX + "nik_birthdate_mismatch": ~is_double & mismatch,
            PLANT_PREFIX + "nik_conflict": ~is_double & np.isin(all_pid, identity.conflict),
        }
    )
    work["_desa"] = desa
    work["_slot"] = p["slot"].to_numpy()
    work = work.sort_values(["_desa", "NO_KK", "_slot"], kind="stable").reset_index(drop=True)
    return finish(file_name(region, population.snapshot), work, COLUMNS)
