"""Resolve kecamatan and kelurahan *names* (as KPU spells them) to Kemendagri codes.

Resolution within one kab/kota, in three steps, each recorded: ``exact`` (the Kemendagri
name), ``normalised`` (letters only, old spellings folded: GEROGOL/GROGOL stay apart but
BUKIT INTAN/BUKITINTAN meet), then ``fuzzy`` (RapidFuzz ratio >= 85 against the names in the
same kecamatan, or in the kab/kota when the kecamatan is unknown). Works on distinct name
pairs, so a voter list of a million rows costs a few hundred look-ups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from rapidfuzz import fuzz, process

from connectors.reference.regions import Kabupaten, desa_of
from matching.names import fold_spelling

FUZZY_CUTOFF = 85.0


def _squash(names: pd.Series) -> pd.Series:
    letters = names.astype("string").str.upper().str.replace(r"[^A-Z]", "", regex=True)
    return fold_spelling(letters)


@dataclass(frozen=True)
class Resolution:
    code: str | None
    method: str | None  # exact, normalised, fuzzy; None when unresolved


class _Index:
    """Names of one set of regions, ready for the three steps."""

    def __init__(self, codes: pd.Series, names: pd.Series) -> None:
        self.exact = dict(zip(names.str.upper(), codes, strict=True))
        squashed = _squash(names)
        self.normalised = dict(zip(squashed, codes, strict=True))
        self.choices = list(squashed)
        self.codes = list(codes)

    def resolve(self, name: str) -> Resolution:
        upper = re.sub(r"\s+", " ", name.strip().upper())
        if upper in self.exact:
            return Resolution(self.exact[upper], "exact")
        squashed = _squash(pd.Series([upper])).iloc[0]
        if squashed in self.normalised:
            return Resolution(self.normalised[squashed], "normalised")
        if not squashed or squashed is pd.NA:
            return Resolution(None, None)
        best = process.extractOne(
            squashed, self.choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
        )
        if best is None:
            return Resolution(None, None)
        return Resolution(self.codes[best[2]], "fuzzy")


class RegionNameResolver:
    """Kecamatan and kelurahan names of one kab/kota -> Kemendagri codes."""

    def __init__(self, kab: Kabupaten) -> None:
        desa = desa_of(kab)
        kec = desa.drop_duplicates("kec_code")
        self._kecamatan = _Index(kec["kec_code"], kec["kec_name"])
        self._desa_in_kec = {
            code: _Index(group["desa_code"], group["desa_name"])
            for code, group in desa.groupby("kec_code", sort=True)
        }
        self._desa_anywhere = _Index(desa["desa_code"], desa["desa_name"])

    def resolve(self, kecamatan: pd.Series, kelurahan: pd.Series) -> pd.DataFrame:
        """Codes for aligned kecamatan/kelurahan names.

        Returns ``kec_code``, ``desa_code``, ``kec_method``, ``desa_method`` (nulls where a
        name could not be resolved).
        """
        pairs = pd.DataFrame({"kec": kecamatan.fillna(""), "kel": kelurahan.fillna("")})
        distinct = pairs.drop_duplicates().reset_index(drop=True)
        rows = []
        for kec_name, kel_name in distinct.itertuples(index=False):
            kec = self._kecamatan.resolve(kec_name) if kec_name else Resolution(None, None)
            index = self._desa_in_kec.get(kec.code) if kec.code else None
            desa = index.resolve(kel_name) if (index and kel_name) else Resolution(None, None)
            if desa.code is None and kel_name:
                # Unknown kecamatan, or a kelurahan listed under a neighbouring kecamatan.
                desa = self._desa_anywhere.resolve(kel_name)
                code = desa.code
                if code is not None and (kec.code is None or not code.startswith(kec.code + ".")):
                    kec = Resolution(code[:8], "from_kelurahan")
            rows.append((kec.code, desa.code, kec.method, desa.method))
        resolved = pd.DataFrame(
            rows, columns=["kec_code", "desa_code", "kec_method", "desa_method"], dtype="string"
        )
        distinct = pd.concat([distinct, resolved], axis=1)
        merged = pairs.merge(distinct, on=["kec", "kel"], how="left")
        merged.index = kecamatan.index
        return merged[["kec_code", "desa_code", "kec_method", "desa_method"]]
