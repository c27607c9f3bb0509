"""Every rate the generator uses, in one place, so that a reader can see what is planted.

Shares are of persons unless the comment says otherwise. ``generate`` takes a ``Rates`` so tests
can raise a rate to make a rare problem certain in a small population.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rates:
    # Where NIKs were first issued (per family; children born after the move get the new code).
    family_moved_within_kab: float = 0.11  # ~8% of persons carry an older kecamatan of the kab
    family_moved_from_outside: float = 0.04  # ~3% carry another kab/province
    # Civil registry coverage and events.
    unregistered_family: float = 0.02  # whole families living here, registered elsewhere
    unregistered_infant: float = 0.25  # share of children under 1 not yet registered
    unregistered_other: float = 0.005
    deceased: float = 0.015  # share of Disdukcapil rows with STAT_HIDUP=2
    double_registration: float = 0.003  # share of registered living adults with a second NIK
    nik_birthdate_mismatch: float = 0.003  # NIK date differs from the (corrected) birth date
    nik_conflict: float = 0.0005  # a second person issued an existing NIK
    # KPU voter list.
    eligible_listed: float = 0.94
    deceased_listed: float = 0.3  # of deceased persons who were voters
    underage_listed: float = 0.002  # share of voter rows: unmarried under-17s listed
    tni_polri_listed: float = 0.25  # of serving TNI/POLRI adults
    unregistered_listed: float = 0.35  # of eligible persons not in the civil registry
    voter_duplicate: float = 0.004  # share of voter rows listed a second time
    nik_mistyped: float = 0.005  # share of voter rows
    nik_excel_mangled: float = 0.003  # share of voter rows
    desa_name_differs: float = 0.08  # share of desa KPU spells differently
    kec_name_differs: float = 0.1  # share of kecamatan KPU spells differently
    # BPS roster.
    family_lives_elsewhere: float = 0.05  # families enumerated in another desa
    elsewhere_other_kec: float = 0.35  # of those, in another kecamatan
    family_not_enumerated: float = 0.05
    person_not_enumerated: float = 0.022
    nik_refused_family: float = 0.01
    nik_not_shown: float = 0.038  # registered persons whose NIK the enumerator did not get
    nik_unknown_unregistered: float = 0.5  # persons not in the registry
    nik_foreign: float = 0.02  # of persons not in the registry
    birthdate_missing: float = 0.10
    birthdate_off: float = 0.03


DEFAULT_RATES = Rates()
