"""Findings about the voter list: voters who are deceased, under age, listed twice, not
registered or serving in TNI/POLRI, and eligible residents missing from the list."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.discrepancies.facts import Facts
from matching.discrepancies.findings import per_resident
from matching.discrepancies.same_person import SAME_PERSON_SCORE, name_scores, name_variant


def voter_findings(f: Facts) -> pd.DataFrame:
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
        return [
            f"{t} for one person; " + "; ".join(why.get(int(c), []))
            for t, c in zip(listed(codes), codes, strict=True)
        ]

    deceased = on_list & f.deceased
    underage = on_list & f.under_age & f.never_married
    duplicate, why = _voter_duplicates(f)
    not_registered = on_list & ~f.in_registry
    occupation = on_list & f.serving & ~f.deceased
    return pd.concat(
        [
            per_resident("voter_deceased", f, deceased, voters_and_registry, deceased_text),
            per_resident("voter_underage", f, underage, voters_and_registry, age_text),
            per_resident("voter_duplicate", f, duplicate, voters, duplicate_text),
            per_resident(
                "voter_not_in_registry",
                f,
                not_registered,
                voters,
                "no civil-registry row for this voter",
            ),
            per_resident(
                "voter_ineligible_occupation",
                f,
                occupation,
                voters_and_registry,
                "civil registry records a TNI/POLRI occupation",
            ),
        ],
        ignore_index=True,
    )


#: KPU's classes of a double registration on the voter list, the class of a pair of rows.
IDENTICAL = "identical except the address"
SAME_NIK = "same NIK, another name"
SIMILAR = "similar identity"
#: How many pairs of rows one finding describes (a person listed three times has three).
_PAIRS_SHOWN = 3
#: The parts of an address, as they are named in a finding.
_ADDRESS = (("desa_code", "desa"), ("tps", "TPS"), ("rt", "RT"), ("rw", "RW"),
            ("address", "street address"))  # fmt: skip


def _texts(work: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """``column`` of the work rows ``rows`` as text, None where missing (or no column)."""
    if column not in work:
        return np.full(len(rows), None, dtype=object)
    values = work[column].iloc[rows].astype("string")
    return values.astype(object).where(values.notna(), None).to_numpy()


def _one_person(
    work: pd.DataFrame, left: np.ndarray, right: np.ndarray, score: np.ndarray
) -> np.ndarray:
    """Pairs of rows that are one person by name and birth date: the birth dates agree
    (or one is missing) and the names are similar (``SAME_PERSON_SCORE``) or, on rows
    carrying the same NIK, one name written otherwise (``name_variant``)."""
    birth = work["birth_date"]
    bl, br = birth.iloc[left].to_numpy(), birth.iloc[right].to_numpy()
    same_birth = (bl == br) | pd.isna(bl) | pd.isna(br)
    nik_l, nik_r = _texts(work, "nik", left), _texts(work, "nik", right)
    same_nik = np.array([a is not None and a == b for a, b in zip(nik_l, nik_r, strict=True)])
    similar = score >= SAME_PERSON_SCORE
    names = work["name_norm"]
    for i in np.flatnonzero(same_birth & same_nik & ~similar):
        similar[i] = (
            name_variant(_text(names.iloc[left[i]]), _text(names.iloc[right[i]])) is not None
        )
    return np.asarray(same_birth & similar, dtype=bool)


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)  # type: ignore[arg-type]


def duplicate_class(work: pd.DataFrame, x: int, y: int) -> tuple[str, str]:
    """The class of two voter rows of one person (``IDENTICAL``, ``SAME_NIK``, ``SIMILAR``)
    and why, as text without identifiers: the names, how they differ, what else agrees."""
    row_x, row_y = work.iloc[x], work.iloc[y]
    name_x, name_y = _text(row_x["name_norm"]), _text(row_y["name_norm"])
    nik_x, nik_y = _text(row_x.get("nik")), _text(row_y.get("nik"))
    same_nik = nik_x is not None and nik_x == nik_y
    birth_x, birth_y = row_x["birth_date"], row_y["birth_date"]
    same_birth = not pd.isna(birth_x) and birth_x == birth_y
    birth = "same birth date" if same_birth else "a birth date missing"
    names = f"names '{name_x or ''}' / '{name_y or ''}'"
    how = name_variant(name_x, name_y)
    if same_nik and name_x == name_y and same_birth and row_x["sex"] == row_y["sex"]:
        differs = []
        for column, label in _ADDRESS:
            a, b = _text(row_x.get(column)), _text(row_y.get(column))
            if a != b:
                # Region codes and polling stations are shown; a street address is not.
                shown = column in ("desa_code", "tps") and a is not None and b is not None
                differs.append(f"{label} {a} / {b}" if shown else f"{label} differs")
        where = ", ".join(differs) if differs else "the address is the same too"
        return IDENTICAL, f"class: {IDENTICAL} — {where}"
    if same_nik:
        kk_x, kk_y = _text(row_x.get("kk")), _text(row_y.get("kk"))
        card = (
            "same family card" if kk_x is not None and kk_x == kk_y
            else "another family card" if kk_x is not None and kk_y is not None
            else "a family card missing"
        )  # fmt: skip
        return SAME_NIK, f"class: {SAME_NIK} — {names} ({how or 'similar'}); {card}, {birth}"
    niks = "NIKs differ" if nik_x is not None and nik_y is not None else "a NIK missing"
    score = name_scores(pd.Series([name_x]), pd.Series([name_y]))[0]
    return SIMILAR, f"class: {SIMILAR} — {names} ({how or f'similarity {score:.0f}'}); " + (
        f"{birth}, {niks}"
    )


def _voter_duplicates(f: Facts) -> tuple[np.ndarray, dict[int, list[str]]]:
    """Residents with two voter-list rows of the same person, and for each the class and
    reason of its pairs of rows (``duplicate_class``).

    A resident normally is one person, but linkage can merge two people (two who share a
    NIK, or a voter row whose mistyped NIK is someone else's). So each voter row is matched,
    by name, to the registry person of its resident it resembles most, and counts only if it
    is that person by name and birth date (``_one_person``); a duplicate is two voter rows of
    one registry person. Without registry rows, two voter rows that are one person by name
    and birth date are a duplicate.
    """
    work = f.work
    flagged = np.zeros(f.n, dtype=bool)
    reasons: dict[int, list[str]] = {}
    several = (f.n_kpu >= 2)[f.code]
    voters = pd.DataFrame({"code": f.code[f.kpu & several], "row": np.flatnonzero(f.kpu & several)})
    if voters.empty:
        return flagged, reasons
    names = work["name_norm"]
    registry = pd.DataFrame(
        {"code": f.code[f.registry & several], "reg": np.flatnonzero(f.registry & several)}
    )
    # Registry persons of a resident: rows named like its first registry row are one person;
    # any row clearly named otherwise is a person of its own.
    first = registry.groupby("code")["reg"].transform("first")
    like_first = name_scores(names.iloc[registry["reg"]], names.iloc[first]) >= SAME_PERSON_SCORE
    registry["person"] = np.where(like_first, first.to_numpy(), registry["reg"].to_numpy())

    duplicates: list[pd.DataFrame] = []
    pairs = voters.merge(registry, on="code")
    if len(pairs):
        pairs["score"] = name_scores(names.iloc[pairs["row"]], names.iloc[pairs["reg"]])
        best = pairs.sort_values(["row", "score"], ascending=[True, False]).drop_duplicates("row")
        # A voter row unlike every registry person of its resident was linked in error: it is
        # nobody's second listing.
        keep = _one_person(
            work, best["row"].to_numpy(), best["reg"].to_numpy(), best["score"].to_numpy()
        )
        best = best[keep]
        listed = best.merge(best, on=["code", "person"])
        duplicates.append(listed.loc[listed["row_x"] < listed["row_y"], ["code", "row_x", "row_y"]])

    unregistered = voters[~f.in_registry[voters["code"].to_numpy()]]
    pairs = unregistered.merge(unregistered, on="code")
    pairs = pairs[pairs["row_x"] < pairs["row_y"]]
    if len(pairs):
        left, right = pairs["row_x"].to_numpy(), pairs["row_y"].to_numpy()
        score = name_scores(names.iloc[left], names.iloc[right])
        duplicates.append(pairs[_one_person(work, left, right, score)])

    found = pd.concat(duplicates, ignore_index=True) if duplicates else pd.DataFrame()
    for code, x, y in found[["code", "row_x", "row_y"]].itertuples(index=False):
        flagged[code] = True
        shown = reasons.setdefault(int(code), [])
        if len(shown) < _PAIRS_SHOWN:
            shown.append(duplicate_class(work, int(x), int(y))[1])
    return flagged, reasons


def eligible_missing(f: Facts) -> pd.DataFrame:
    eligible = f.in_registry & ~f.deceased & (f.adult | f.ever_married) & ~f.serving
    missing = eligible & (f.n_kpu == 0)

    def details(codes: np.ndarray) -> list[str]:
        reasons = np.where(f.adult[codes], f"{f.voting_age} or older", "ever married")
        return [f"alive, registered, {r}; not on the voter list" for r in reasons]

    return per_resident("eligible_missing_from_voter_list", f, missing, f.registry, details)
