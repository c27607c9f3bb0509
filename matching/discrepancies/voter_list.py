"""Findings about the voter list: voters who are deceased, under age, listed twice, not
registered or serving in TNI/POLRI, and eligible residents missing from the list."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.discrepancies.facts import Facts
from matching.discrepancies.findings import per_resident
from matching.discrepancies.same_person import SAME_PERSON_SCORE, name_scores


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
        return [t + " for one person" for t in listed(codes)]

    deceased = on_list & f.deceased
    underage = on_list & f.under_age & f.never_married
    duplicate = _voter_duplicates(f)
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


def _voter_duplicates(f: Facts) -> np.ndarray:
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
    like_first = name_scores(names.iloc[registry["reg"]], names.iloc[first]) >= SAME_PERSON_SCORE
    registry["person"] = np.where(like_first, first.to_numpy(), registry["reg"].to_numpy())

    pairs = voters.merge(registry, on="code")
    if len(pairs):
        pairs["score"] = name_scores(names.iloc[pairs["row"]], names.iloc[pairs["reg"]])
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
        score = name_scores(names.iloc[pairs["row_x"]], names.iloc[pairs["row_y"]])
        same = same_birth & (score >= SAME_PERSON_SCORE)
        flagged[pairs["code"].to_numpy()[same]] = True
    return flagged


def eligible_missing(f: Facts) -> pd.DataFrame:
    eligible = f.in_registry & ~f.deceased & (f.adult | f.ever_married) & ~f.serving
    missing = eligible & (f.n_kpu == 0)

    def details(codes: np.ndarray) -> list[str]:
        reasons = np.where(f.adult[codes], f"{f.voting_age} or older", "ever married")
        return [f"alive, registered, {r}; not on the voter list" for r in reasons]

    return per_resident("eligible_missing_from_voter_list", f, missing, f.registry, details)
