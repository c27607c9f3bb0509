"""What the discrepancy rules look at: the records joined to their residents in listing
order (``work_frame``), and per-row masks and per-resident facts (``Facts``): who is
registered, listed, deceased, of voting age, ever married or serving in TNI/POLRI."""

from __future__ import annotations

import numpy as np
import pandas as pd

VOTING_AGE = 17
SERVING_OCCUPATIONS = (6, 7)  # TNI, POLRI (Disdukcapil JENIS_PKRJN)
EVER_MARRIED = ("kawin", "cerai_hidup", "cerai_mati", "pernah_kawin")

_SOURCE_RANK = {"dukcapil": 0, "kpu": 1, "bps": 2}

_WORK_COLUMNS = (
    "source", "source_file", "source_row", "nik", "name_norm", "sex", "birth_date",
    "marital_status", "occupation", "alive", "desa_code", "kk", "tps", "rt", "rw", "address",
)  # fmt: skip


def work_frame(records: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """The columns needed, with each row's resident (rows without one are left out)."""
    work = records[[c for c in _WORK_COLUMNS if c in records.columns]].reset_index(drop=True)
    aligned = (
        len(links) == len(records)
        and np.array_equal(links["source_row"].to_numpy(), records["source_row"].to_numpy())
        and (links["source_file"].to_numpy() == records["source_file"].to_numpy()).all()
    )
    if aligned:
        work["resident_id"] = links["resident_id"].astype("string").to_numpy()
    else:
        keys = links[["source_file", "source_row", "resident_id"]].astype(
            {"source_file": "string", "source_row": "int64", "resident_id": "string"}
        )
        work = work.astype({"source_file": "string", "source_row": "int64"}).merge(
            keys, on=["source_file", "source_row"], how="left"
        )
    work = work[work["resident_id"].notna().to_numpy()]
    # Registry rows first, then voter list, then BPS, each in file order: the order in which
    # rows are listed in a finding.
    rank = work["source"].map(_SOURCE_RANK).fillna(3).to_numpy(dtype=int)
    files, _ = pd.factorize(work["source_file"], sort=True)
    order = np.lexsort((work["source_row"].to_numpy(), files, rank))
    return work.iloc[order].reset_index(drop=True)


class Facts:
    """Per-row masks and per-resident facts, residents numbered 0..n-1 (``code``)."""

    def __init__(
        self, work: pd.DataFrame, residents: pd.DataFrame, on: pd.Timestamp, voting_age: int
    ) -> None:
        self.work = work
        self.on = on
        self.voting_age = voting_age
        codes, ids = pd.factorize(work["resident_id"])
        self.code = codes
        self.ids = np.asarray(ids, dtype=object)
        self.n = len(ids)
        source = work["source"].to_numpy()
        self.registry = source == "dukcapil"
        self.kpu = source == "kpu"
        self.bps = source == "bps"

        self.n_registry = self.count(self.registry)
        self.n_kpu = self.count(self.kpu)
        self.in_registry = self.n_registry > 0

        golden = (
            residents.drop_duplicates("resident_id").set_index("resident_id").reindex(pd.Index(ids))
        )
        alive = golden["alive"] if "alive" in golden else pd.Series(pd.NA, index=golden.index)
        registry_dead = self.count(self.registry & work["alive"].eq(False).fillna(False).to_numpy())
        fallback_deceased = self.in_registry & (registry_dead == self.n_registry)
        self.deceased = (
            np.where(
                alive.isna().to_numpy(), fallback_deceased, alive.eq(False).fillna(False).to_numpy()
            )
            & self.in_registry
        )

        birth = pd.to_datetime(golden["birth_date"]) if "birth_date" in golden else None
        if birth is None or birth.isna().all():
            birth = self._first(pd.to_datetime(work["birth_date"]))
        self.birth = pd.Series(birth.to_numpy(), dtype="datetime64[ns]")
        self.age = _completed_years(self.birth, on)  # Int64, NA when unknown

        marital = work["marital_status"].astype("string")
        married = marital.isin(EVER_MARRIED).to_numpy(dtype=bool)
        known = marital.notna().to_numpy()
        reg_known = self.count(self.registry & known) > 0
        reg_married = self.count(self.registry & married) > 0
        kpu_known = self.count(self.kpu & known) > 0
        kpu_married = self.count(self.kpu & married) > 0
        self.ever_married = np.where(reg_known, reg_married, kpu_married)
        self.never_married = np.where(reg_known, ~reg_married, kpu_known & ~kpu_married)

        occupation = work["occupation"].astype("Int64")
        serving = occupation.isin(SERVING_OCCUPATIONS).fillna(False).to_numpy(dtype=bool)
        self.serving = self.count(self.registry & serving) > 0
        self.adult = (self.age >= voting_age).fillna(False).to_numpy(dtype=bool)
        self.under_age = (self.age < voting_age).fillna(False).to_numpy(dtype=bool)

    def count(self, mask: np.ndarray) -> np.ndarray:
        """Rows of each resident where ``mask`` holds."""
        return np.bincount(self.code[mask], minlength=self.n)

    def _first(self, values: pd.Series) -> pd.Series:
        """The first non-null value of each resident in row order (registry first)."""
        present = values.notna().to_numpy()
        first = pd.Series(values.to_numpy()[present]).groupby(self.code[present]).first()
        return first.reindex(range(self.n))

    def row_refs(self, idx: np.ndarray) -> np.ndarray:
        """``file:row`` of the work rows at positions ``idx``."""
        rows = self.work.iloc[idx]
        text = rows["source_file"].astype(str) + ":" + rows["source_row"].astype(str)
        return text.to_numpy(dtype=object)

    def refs(self, mask: np.ndarray) -> pd.Series:
        """``file:row;file:row`` of the rows under ``mask``, per resident code."""
        idx = np.flatnonzero(mask)
        return join_by(self.code[idx], self.row_refs(idx))


def join_by(keys: np.ndarray, texts: np.ndarray, sep: str = ";") -> pd.Series:
    """``sep``-joined texts per key, keeping the given order within a key. Vectorised for the
    common single-text keys; only keys with several texts are joined in Python."""
    if len(keys) == 0:
        return pd.Series([], dtype=object)
    order = np.argsort(keys, kind="stable")
    keys, texts = keys[order], texts[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    out = texts[starts].copy()
    for i in np.flatnonzero(ends - starts > 1):
        out[i] = sep.join(texts[starts[i] : ends[i]])
    return pd.Series(out, index=keys[starts])


def _completed_years(birth: pd.Series, on: pd.Timestamp) -> pd.Series:
    years = on.year - birth.dt.year
    before = (birth.dt.month > on.month) | ((birth.dt.month == on.month) & (birth.dt.day > on.day))
    return (years - before.astype(int)).astype("Int64").where(birth.notna())
