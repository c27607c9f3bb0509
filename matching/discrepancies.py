"""Discrepancies between the registries that an auditor wants listed (docs/domain.md).

``find_discrepancies`` takes the canonical records, the links (which resident each source row
belongs to) and the residents, and returns one row per finding:

* ``kind``: one of ``KINDS``;
* ``resident_id``: the resident concerned;
* ``source_rows``: the rows involved, ``file:row`` separated by ``;`` (registry rows first),
  so the auditor can open the files and see for themselves;
* ``details``: a short explanation with counts, dates and region codes, never a NIK or KK.

Who a person is follows the authorities: birth date and alive from the resident (the golden
record, civil registry first), marital status and occupation from the civil-registry rows
(the voter list's own marital status when the person is not registered).

Findings are only as good as the linkage under them. Where linkage can merge two people
(two registry rows sharing a NIK, a voter row whose mistyped NIK is someone else's), the
voter-duplicate and double-registration rules check names and birth dates inside the resident
rather than trusting the merge; a double registration that linkage leaves as a resident of
its own cannot be seen here (it shows as an eligible person missing from the voter list).

Everything is vectorised: residents are numbered once and per-resident facts are counted with
``numpy.bincount``; text is built only for the rows that end up in a finding (about 3 s for
1.27 million records).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from matching.names import fold_spelling

KINDS = (
    "voter_deceased",
    "voter_underage",
    "voter_duplicate",
    "voter_not_in_registry",
    "eligible_missing_from_voter_list",
    "voter_ineligible_occupation",
    "nik_conflict",
    "multiple_niks",
    "nik_birthdate_mismatch",
    "domicile_differs",
    "bps_not_in_registry",
)
COLUMNS = ("kind", "resident_id", "source_rows", "details")

VOTING_AGE = 17
SERVING_OCCUPATIONS = (6, 7)  # TNI, POLRI (Disdukcapil JENIS_PKRJN)
EVER_MARRIED = ("kawin", "cerai_hidup", "cerai_mati", "pernah_kawin")
#: Two rows of one resident name the same person from this similarity (``_name_scores``);
#: registry rows sharing a NIK below it are "clearly different people".
SAME_PERSON_SCORE = 80.0

_SOURCE_RANK = {"dukcapil": 0, "kpu": 1, "bps": 2}


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})


def find_discrepancies(
    records: pd.DataFrame,
    links: pd.DataFrame,
    residents: pd.DataFrame,
    *,
    reference_date: date | pd.Timestamp,
    voting_age: int = VOTING_AGE,
) -> pd.DataFrame:
    """Every discrepancy of ``KINDS`` in one region's data; see the module docstring.

    ``records``: canonical records (``connectors.schema``). ``links``: ``source_file``,
    ``source_row``, ``resident_id`` for each record (the ``resident_link`` table).
    ``residents``: the ``resident`` table (``resident_id``, ``birth_date``, ``alive``).
    ``reference_date``: the day ages are counted on (voting day, or the snapshot day).
    """
    work = _work_frame(records, links)
    if work.empty:
        return empty_findings()
    facts = _Facts(work, residents, pd.Timestamp(reference_date), voting_age)
    frames = [
        _voter_findings(facts),
        _eligible_missing(facts),
        _nik_conflicts(facts),
        _multiple_niks(facts),
        _nik_birthdate_mismatch(facts),
        _domicile_differs(facts),
        _bps_not_in_registry(facts),
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_findings()
    found = pd.concat(frames, ignore_index=True)
    order = found["kind"].map({k: i for i, k in enumerate(KINDS)})
    found = found.assign(_order=order).sort_values(["_order", "resident_id", "source_rows"])
    return found[list(COLUMNS)].astype("string").reset_index(drop=True)


def summarise(findings: pd.DataFrame) -> dict[str, int]:
    """Number of findings per kind, every kind present (0 when none): for run metadata."""
    counts = findings["kind"].value_counts()
    return {kind: int(counts.get(kind, 0)) for kind in KINDS}


# --- preparation -----------------------------------------------------------------------------


_WORK_COLUMNS = (
    "source", "source_file", "source_row", "nik", "name_norm", "sex", "birth_date",
    "marital_status", "occupation", "alive", "desa_code",
)  # fmt: skip


def _work_frame(records: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
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


class _Facts:
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
        return _join_by(self.code[idx], self.row_refs(idx))


def _join_by(keys: np.ndarray, texts: np.ndarray, sep: str = ";") -> pd.Series:
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


Details = str | Callable[[np.ndarray], list[str]]


def _findings(
    kind: str, facts: _Facts, residents: np.ndarray, rows: np.ndarray, details: Details
) -> pd.DataFrame:
    """One finding per resident flagged in ``residents`` (bool per code), listing its rows
    under ``rows`` (bool per work row). ``details``: a text, or a function of the flagged
    resident codes giving one text each."""
    chosen = np.flatnonzero(residents)
    if len(chosen) == 0:
        return pd.DataFrame(columns=list(COLUMNS))
    mask = rows & residents[facts.code]
    refs = facts.refs(mask).reindex(chosen).fillna("")
    return pd.DataFrame(
        {
            "kind": kind,
            "resident_id": facts.ids[chosen],
            "source_rows": refs.to_numpy(),
            "details": details if isinstance(details, str) else details(chosen),
        }
    )


def _per_row(kind: str, facts: _Facts, rows: np.ndarray, details: pd.Series) -> pd.DataFrame:
    """One finding per work row under ``rows``; ``details`` aligned to the work frame."""
    idx = np.flatnonzero(rows)
    if len(idx) == 0:
        return pd.DataFrame(columns=list(COLUMNS))
    picked = facts.work.iloc[idx]
    refs = picked["source_file"].astype(str) + ":" + picked["source_row"].astype(str)
    return pd.DataFrame(
        {
            "kind": kind,
            "resident_id": facts.ids[facts.code[idx]],
            "source_rows": refs.to_numpy(),
            "details": details.iloc[idx].to_numpy(),
        }
    )


# --- the voter list ---------------------------------------------------------------------------


def _voter_findings(f: _Facts) -> pd.DataFrame:
    on_list = f.n_kpu > 0
    on = f.on.date().isoformat()
    voters = f.kpu
    voters_and_registry = f.kpu | f.registry

    def listed(codes: np.ndarray) -> list[str]:
        return [f"{k} voter-list row" + ("s" if k > 1 else "") for k in f.n_kpu[codes]]

    def deceased_text(codes: np.ndarray) -> list[str]:
        return ["deceased in the civil registry; " + t for t in listed(codes)]

    def age_text(codes: np.ndarray) -> list[str]:
        ages = f.age.to_numpy(dtype=object, na_value=None)[codes]
        return [f"age {a} on {on}, never married" for a in ages]

    def duplicate_text(codes: np.ndarray) -> list[str]:
        return [t + " for one person" for t in listed(codes)]

    deceased = on_list & f.deceased
    underage = on_list & f.under_age & f.never_married
    duplicate = _voter_duplicates(f)
    not_registered = on_list & ~f.in_registry
    occupation = on_list & f.serving & ~f.deceased
    return pd.concat(
        [
            _findings("voter_deceased", f, deceased, voters_and_registry, deceased_text),
            _findings("voter_underage", f, underage, voters_and_registry, age_text),
            _findings("voter_duplicate", f, duplicate, voters, duplicate_text),
            _findings(
                "voter_not_in_registry",
                f,
                not_registered,
                voters,
                "no civil-registry row for this voter",
            ),
            _findings(
                "voter_ineligible_occupation",
                f,
                occupation,
                voters_and_registry,
                "civil registry records a TNI/POLRI occupation",
            ),
        ],
        ignore_index=True,
    )


def _voter_duplicates(f: _Facts) -> np.ndarray:
    """Residents with two voter-list rows of the same person.

    A resident normally is one person, but linkage can merge two people (two who share a
    NIK, or a voter row whose mistyped NIK is someone else's). So each voter row is matched,
    by name, to the registry person of its resident it resembles most, and counts only if the
    name is similar and the birth date the same; a duplicate is two voter rows of one
    registry person. Without registry rows, two voter rows with similar names and the same
    birth date are a duplicate.
    """
    work = f.work
    flagged = np.zeros(f.n, dtype=bool)
    several = (f.n_kpu >= 2)[f.code]
    voters = pd.DataFrame({"code": f.code[f.kpu & several], "row": np.flatnonzero(f.kpu & several)})
    if voters.empty:
        return flagged
    names = work["name_norm"]
    registry = pd.DataFrame(
        {"code": f.code[f.registry & several], "reg": np.flatnonzero(f.registry & several)}
    )
    # Registry persons of a resident: rows named like its first registry row are one person;
    # any row clearly named otherwise is a person of its own.
    first = registry.groupby("code")["reg"].transform("first")
    like_first = _name_scores(names.iloc[registry["reg"]], names.iloc[first]) >= SAME_PERSON_SCORE
    registry["person"] = np.where(like_first, first.to_numpy(), registry["reg"].to_numpy())

    pairs = voters.merge(registry, on="code")
    if len(pairs):
        pairs["score"] = _name_scores(names.iloc[pairs["row"]], names.iloc[pairs["reg"]])
        best = pairs.sort_values(["row", "score"], ascending=[True, False]).drop_duplicates("row")
        # A voter row unlike every registry person of its resident was linked in error: it is
        # nobody's second listing.
        birth = work["birth_date"]
        voter_birth = birth.iloc[best["row"]].to_numpy()
        registry_birth = birth.iloc[best["reg"]].to_numpy()
        same_birth = (voter_birth == registry_birth) | pd.isna(voter_birth)
        same_birth |= pd.isna(registry_birth)
        best = best[same_birth & (best["score"].to_numpy() >= SAME_PERSON_SCORE)]
        per_person = best.groupby(["code", "person"]).size()
        flagged[per_person[per_person >= 2].index.get_level_values("code")] = True

    unregistered = voters[~f.in_registry[voters["code"].to_numpy()]]
    pairs = unregistered.merge(unregistered, on="code")
    pairs = pairs[pairs["row_x"] < pairs["row_y"]]
    if len(pairs):
        birth = work["birth_date"]
        bx = birth.iloc[pairs["row_x"]].to_numpy()
        by = birth.iloc[pairs["row_y"]].to_numpy()
        same_birth = (bx == by) | pd.isna(bx) | pd.isna(by)
        score = _name_scores(names.iloc[pairs["row_x"]], names.iloc[pairs["row_y"]])
        same = same_birth & (score >= SAME_PERSON_SCORE)
        flagged[pairs["code"].to_numpy()[same]] = True
    return flagged


def _name_scores(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Similarity 0-100 of aligned names after folding old and new spellings; the better of
    word-order-free and word-subset comparison, so an abbreviated or dropped word (``RINA L``,
    ``ENDAH IFA``) still scores high."""
    a = fold_spelling(left.astype("string").reset_index(drop=True)).fillna("")
    b = fold_spelling(right.astype("string").reset_index(drop=True)).fillna("")
    if len(a) == 0:
        return np.zeros(0)
    a_text, b_text = a.to_numpy(dtype=str), b.to_numpy(dtype=str)
    by_sort = process.cpdist(a_text, b_text, scorer=fuzz.token_sort_ratio, workers=-1)
    by_set = process.cpdist(a_text, b_text, scorer=fuzz.token_set_ratio, workers=-1)
    return np.maximum(by_sort, by_set)


def _eligible_missing(f: _Facts) -> pd.DataFrame:
    eligible = f.in_registry & ~f.deceased & (f.adult | f.ever_married) & ~f.serving
    missing = eligible & (f.n_kpu == 0)

    def details(codes: np.ndarray) -> list[str]:
        reasons = np.where(f.adult[codes], f"{f.voting_age} or older", "ever married")
        return [f"alive, registered, {r}; not on the voter list" for r in reasons]

    return _findings("eligible_missing_from_voter_list", f, missing, f.registry, details)


# --- identity ---------------------------------------------------------------------------------


def _nik_conflicts(f: _Facts) -> pd.DataFrame:
    """One NIK in the civil registry used by clearly different people: registry rows of the
    NIK fall into several residents, or into one resident under clearly different names."""
    work = f.work
    has_nik = f.registry & work["nik"].notna().to_numpy()
    rows = pd.DataFrame(
        {
            "nik": work["nik"].to_numpy()[has_nik],
            "code": f.code[has_nik],
            "row": np.flatnonzero(has_nik),
        }
    )
    shared = rows[rows.duplicated("nik", keep=False)].reset_index(drop=True)
    if shared.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    residents_per_nik = shared.groupby("nik")["code"].transform("nunique")
    # Within one resident: compare each row's name with the first row of its NIK.
    names = work["name_norm"].iloc[shared["row"].to_numpy()].reset_index(drop=True)
    first = shared.groupby("nik")["row"].transform("first")
    first_names = work["name_norm"].iloc[first.to_numpy()].reset_index(drop=True)
    differs = pd.Series(_name_scores(names, first_names) < SAME_PERSON_SCORE)
    conflict = (residents_per_nik > 1) | differs.groupby(shared["nik"]).transform("any")
    conflicted = shared[conflict.to_numpy()]
    if conflicted.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    # Every row carrying a conflicting NIK, in any source, is listed with each resident.
    nik = work["nik"].astype("string")
    involved = np.flatnonzero(nik.isin(conflicted["nik"].unique()).fillna(False).to_numpy(bool))
    inv_nik = nik.to_numpy()[involved]
    refs = _join_by(pd.factorize(inv_nik)[0], f.row_refs(involved))
    refs.index = pd.factorize(inv_nik)[1][refs.index]
    registry_rows = conflicted.groupby("nik").size()
    residents_of = conflicted.groupby("nik")["code"].agg(lambda c: sorted({f.ids[i] for i in c}))
    pairs = conflicted[["nik", "code"]].drop_duplicates()
    details = []
    for key in pairs["nik"]:
        ids = residents_of[key]
        where = (
            f"split over {len(ids)} residents ({', '.join(ids)})"
            if len(ids) > 1
            else ("linked as one resident")
        )
        details.append(
            f"one NIK on {registry_rows[key]} civil-registry rows of clearly different "
            f"people, {where}"
        )
    return pd.DataFrame(
        {
            "kind": "nik_conflict",
            "resident_id": f.ids[pairs["code"].to_numpy()],
            "source_rows": refs.reindex(pairs["nik"].to_numpy()).to_numpy(),
            "details": details,
        }
    )


def _multiple_niks(f: _Facts) -> pd.DataFrame:
    """One resident, several distinct usable NIKs in the civil registry for the same birth
    date and sex (a double registration). NIKs that differ only on the voter list or in BPS
    are typing errors of those sources, and registry rows of one resident with different
    birth dates are two people that linkage merged: neither is reported here."""
    work = f.work
    has_nik = f.registry & work["nik"].notna().to_numpy()
    rows = pd.DataFrame(
        {
            "code": f.code[has_nik],
            "birth": work["birth_date"].to_numpy()[has_nik],
            "sex": work["sex"].astype("string").to_numpy()[has_nik],
            "nik": work["nik"].to_numpy()[has_nik],
        }
    )
    per_person = rows.drop_duplicates().groupby(["code", "birth", "sex"], dropna=False).size()
    distinct = per_person.groupby(level="code").max()
    distinct = distinct.reindex(range(f.n), fill_value=0).to_numpy()
    flagged = distinct >= 2

    def details(codes: np.ndarray) -> list[str]:
        return [
            f"{k} distinct NIKs in the civil registry for one birth date and sex"
            for k in distinct[codes]
        ]

    return _findings("multiple_niks", f, flagged, f.registry, details)


def _nik_birthdate_mismatch(f: _Facts) -> pd.DataFrame:
    """Civil-registry rows whose NIK encodes another birth date or sex than the row records."""
    from matching.nik import encoded_differences

    work = f.work
    idx = np.flatnonzero(f.registry & work["nik"].notna().to_numpy())
    rows = work.iloc[idx]
    frame = encoded_differences(rows["nik"], rows["birth_date"], rows["sex"]).fillna(False)
    values = frame.to_numpy(dtype=bool)
    flagged = values.any(axis=1)
    labels = np.array(frame.columns)
    which = [", ".join(labels[r]) for r in values[flagged]]
    mask = np.zeros(len(work), dtype=bool)
    mask[idx[flagged]] = True
    details = pd.Series(pd.NA, index=range(len(work)), dtype="string")
    details.iloc[idx[flagged]] = [
        f"NIK-encoded {w} differs from the registry record" for w in which
    ]
    return _per_row("nik_birthdate_mismatch", f, mask, details)


# --- BPS ---------------------------------------------------------------------------------------


def _domicile_differs(f: _Facts) -> pd.DataFrame:
    """BPS rows enumerated in another desa than any of the person's registered desa."""
    work = f.work
    desa = work["desa_code"].astype("string").to_numpy(dtype=object, na_value=None)
    registered = pd.DataFrame({"code": f.code[f.registry], "desa": desa[f.registry]})
    registered = registered.dropna().drop_duplicates()
    bps = f.bps & pd.notna(desa) & f.in_registry[f.code]
    found = pd.DataFrame({"code": f.code[bps], "desa": desa[bps]})
    same = found.merge(registered.assign(same=True), on=["code", "desa"], how="left")["same"]
    idx = np.flatnonzero(bps)[same.isna().to_numpy()]
    if len(idx) == 0:
        return pd.DataFrame(columns=list(COLUMNS))
    codes = f.code[idx]
    home_rows = registered[registered["code"].isin(codes)].sort_values(["code", "desa"])
    home = _join_by(home_rows["code"].to_numpy(), home_rows["desa"].to_numpy(dtype=object), ", ")
    registry_refs = f.refs(f.registry & np.isin(f.code, codes))
    reg = registry_refs.reindex(codes).fillna("").to_numpy()
    bps_refs = f.row_refs(idx)
    homes = home.reindex(codes).fillna("?").to_numpy()
    return pd.DataFrame(
        {
            "kind": "domicile_differs",
            "resident_id": f.ids[codes],
            "source_rows": [f"{r};{b}" if r else b for r, b in zip(reg, bps_refs, strict=True)],
            "details": [
                f"registered in {h}, enumerated by BPS in {e}"
                for h, e in zip(homes, desa[idx], strict=True)
            ],
        }
    )


def _bps_not_in_registry(f: _Facts) -> pd.DataFrame:
    flagged = (f.count(f.bps) > 0) & ~f.in_registry
    return _findings(
        "bps_not_in_registry", f, flagged, f.bps, "enumerated by BPS; no civil-registry row"
    )
