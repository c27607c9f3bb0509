"""Static word pools: personal names, titles, street names and birth-place cities.

Faker's ``id_ID`` pools are read once (never called per person) and merged with pools of very
common Indonesian names. The common names carry large weights so that full names, and name +
birth date combinations, repeat across different people as they do in real registries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from faker.providers.address.id_ID import Provider as FakerAddress
from faker.providers.person.id_ID import Provider as FakerPerson

COMMON_MALE = """AHMAD ABDUL AGUS BUDI EKO HENDRA RUDI ANDI IWAN DEDI JOKO BAMBANG SLAMET SUGENG
HERI YUSUF RAHMAT HASAN ARIF RIZKY FAJAR DIMAS ADI SYAIFUL ZAINAL SUPRIADI SUPARMAN SUTRISNO
SUDIRMAN HARIS IBRAHIM ISMAIL ALI UMAR USMAN HUSIN ANWAR ABDULLAH RAHMAN HIDAYAT NOOR ARDI YUDI
WAHYU TAUFIK FIRMAN HADI SAMSUL JUMADI SURYADI MULYADI RUSLAN ZULKIFLI FAUZI IRFAN AKBAR ILHAM
REZA ALIF SYAHRANI RUSMAN GUSTI ARBAIN JUHRI KHAIRUL NAZARUDDIN""".split()

COMMON_FEMALE = """SITI NUR SRI DEWI NURUL RATNA ANI YULI LINA WATI FITRI RINA SUSI YANTI ENDANG
NINGSIH RAHMAWATI AMINAH FATIMAH AISYAH HALIMAH KHADIJAH MARYAM ZAINAB SALMA NOVI INDAH PUTRI
AYU RIKA WULAN LESTARI HANDAYANI NURHAYATI SUMARNI SUPARTI MARIANI JUBAIDAH NORHASANAH MASLIANI
NURLAILA HASANAH KARTINI ARBAINAH NORLIANI RUSMINI""".split()

COMMON_LAST_MALE = """SAPUTRA HIDAYAT RAHMAN KURNIAWAN SETIAWAN WIJAYA PRATAMA SANTOSO NUGROHO
PURNOMO SUSANTO WIBOWO HARTONO GUNAWAN FIRDAUS HAKIM MAULANA RAMADHAN SYAHPUTRA HIDAYATULLAH
SAFRUDIN EFENDI SUHENDRA HERMAWAN""".split()

COMMON_LAST_FEMALE = """SAPUTRI LESTARI WAHYUNI RAHMAWATI SARI PRATIWI AMALIA NURHALIZA RAMADHANI
HANDAYANI NOVITASARI WULANDARI ANGGRAINI KHAIRUNNISA MAULIDA FEBRIANTI""".split()

#: Registered spellings of Muhammad with their weights (docs/domain.md).
MUHAMMAD_SPELLINGS = ("MUHAMMAD", "MUHAMAD", "MOHAMMAD", "MOHAMAD", "MOCHAMMAD", "MOCHAMAD")
MUHAMMAD_WEIGHTS = (0.55, 0.2, 0.1, 0.07, 0.05, 0.03)
#: Abbreviations found in older records and in KPU/BPS copies.
MUHAMMAD_ABBREVIATIONS = ("M.", "MOH.", "MUH.", "MHD.")

#: Balinese birth-order names, by birth order (1st, 2nd, 3rd, 4th and later).
BALINESE_ORDER_MALE = (
    ("WAYAN", "PUTU", "GEDE"),
    ("MADE", "KADEK"),
    ("NYOMAN", "KOMANG"),
    ("KETUT",),
)
BALINESE_ORDER_FEMALE = (("WAYAN", "PUTU", "LUH"), ("MADE", "KADEK"), ("NYOMAN", "KOMANG"),
                         ("KETUT",))  # fmt: skip
BALINESE_GIVEN_MALE = """SUDARSANA ARTAWAN ADNYANA SUARDANA ARDANA WIRAWAN SUDIARTA MERTA SUARTA
PARWATA DARMAWAN SUPARTA SUKADANA WIDIANA ASTAWA ARIMBAWA SUARJANA SANTIKA PUTRA AGUS SURYA
DARMA YASA JAYA KARIASA MAHENDRA ADI BAGUS""".split()
BALINESE_GIVEN_FEMALE = """AYU SRI ARI SUKMAWATI LESTARI ARTINI SUARNI SUDIARTINI WIDIASTUTI DEWI
PUSPITA PUTRI KARTIKA SUASTINI WARDANI RATNA YUNIARTI MARTINI""".split()

#: Titles: religious (hajj) prefixes, old academic prefixes, academic suffixes.
HAJJ_PREFIX = {1: "H.", 2: "HJ."}
ACADEMIC_PREFIX = {1: ("DRS.", "IR."), 2: ("DRA.", "IR.")}
BACHELOR_SUFFIXES = ("S.PD.", "S.H.", "S.E.", "S.KOM.", "S.T.", "S.SOS.", "S.AG.", "S.PD.I.",
                     "S.KEP.", "S.KM.", "S.IP.")  # fmt: skip
MASTER_SUFFIXES = ("M.M.", "M.PD.", "M.SI.", "M.H.")
DIPLOMA_SUFFIX = "A.MD."

EXTRA_STREETS = """MERDEKA PAHLAWAN MASJID KENANGA MELATI MAWAR ANGGREK DAHLIA SEMANGKA CEMPAKA
FLAMBOYAN BERINGIN KAMBOJA NANGKA DURIAN RAMBUTAN PERINTIS KEMERDEKAAN PENDIDIKAN PASAR LAMA
PELABUHAN PERTAMINA SUKAMAJU SUKARAME GARUDA RAJAWALI CENDRAWASIH KUTILANG MANGGIS BELIMBING
PINANG SAWO PANGERAN ANTASARI HASANUDDIN DIPONEGORO KARTINI IMAM BONJOL GATOT SUBROTO""".split()
EXTRA_STREET_PHRASES = ("A. YANI", "JEND. SUDIRMAN", "HAJI AGUS SALIM", "TJILIK RIWUT",
                        "LAMBUNG MANGKURAT", "KI HAJAR DEWANTARA", "HM. ARSYAD")  # fmt: skip

#: Big cities used as birth places of people born away from home.
BIG_CITIES = (
    "JAKARTA", "SURABAYA", "BANDUNG", "MEDAN", "SEMARANG", "MAKASSAR", "BANJARMASIN",
    "YOGYAKARTA", "SAMARINDA", "BALIKPAPAN", "PALEMBANG", "DENPASAR", "MALANG",
)  # fmt: skip


def _upper_unique(words: tuple[str, ...] | list[str]) -> list[str]:
    """Upper-cased words without repeats, first occurrence order kept (deterministic)."""
    seen: dict[str, None] = {}
    for word in words:
        clean = word.upper().strip()
        if clean and " " not in clean and clean.isalpha():
            seen.setdefault(clean, None)
    return list(seen)


@dataclass(frozen=True)
class WeightedPool:
    """Words with sampling probabilities (common names first, Zipf-weighted)."""

    words: np.ndarray  # object array of str
    probs: np.ndarray

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Indices into ``words``."""
        return rng.choice(len(self.words), size=size, p=self.probs)


def _weighted(common: list[str], rare: list[str], common_mass: float) -> WeightedPool:
    common = _upper_unique(common)
    known = set(common)
    rare = [w for w in _upper_unique(rare) if w not in known]
    zipf = 1.0 / np.arange(1, len(common) + 1) ** 0.8
    probs = np.concatenate(
        [common_mass * zipf / zipf.sum(), np.full(len(rare), (1 - common_mass) / len(rare))]
    )
    return WeightedPool(np.array(common + rare, dtype=object), probs / probs.sum())


@dataclass(frozen=True)
class NamePools:
    """First-word and later-word pools per sex (1 male, 2 female)."""

    first: dict[int, WeightedPool]
    later: dict[int, WeightedPool]


@lru_cache(maxsize=1)
def name_pools() -> NamePools:
    """Name pools built from Faker's id_ID lists plus the common-name lists above."""
    first = {
        1: _weighted(COMMON_MALE, list(FakerPerson.first_names_male), 0.45),
        2: _weighted(COMMON_FEMALE, list(FakerPerson.first_names_female), 0.5),
    }
    later = {
        1: _weighted(
            COMMON_LAST_MALE + COMMON_MALE[10:40],
            list(FakerPerson.last_names_male) + list(FakerPerson.first_names_male),
            0.3,
        ),
        2: _weighted(
            COMMON_LAST_FEMALE + COMMON_FEMALE[10:40],
            list(FakerPerson.last_names_female) + list(FakerPerson.first_names_female),
            0.3,
        ),
    }
    return NamePools(first, later)


@lru_cache(maxsize=1)
def street_pool() -> tuple[str, ...]:
    """Street names (upper case) from Faker's id_ID streets and a list of common ones."""
    faker_streets = [s.upper() for s in FakerAddress.streets]
    words = list(dict.fromkeys(faker_streets + EXTRA_STREETS + list(EXTRA_STREET_PHRASES)))
    return tuple(words)
