"""Linkage benchmark on synthetic regions: padu's linker against a Splink model.

For each population size: generate Tabalong (6309) with ``synthetic.generate``,
standardise the three extracts once (timed, but not counted as linkage), then run each engine
in a process of its own on the same canonical records and score its clusters against
``truth.csv``.

    python -m benchmarks.linkage --people 40000 120000 400000 [--engines padu splink]
        [--seed 1] [--workdir /tmp/padu-bench]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import Scored, print_details, print_table, run_engine, score
from benchmarks.engines import ENGINES
from connectors.agencies import standardise_folder
from synthetic import generate

REGION = "6309"


def prepare(people: int, seed: int, folder: Path) -> tuple[Path, pd.Series]:
    """Generate and standardise a region; returns the records file and each record's person."""
    started = time.perf_counter()
    generate(region=REGION, people=people, seed=seed, out=folder / "landing")
    generated = time.perf_counter() - started

    started = time.perf_counter()
    records = standardise_folder(folder / "landing")
    standardised = time.perf_counter() - started

    truth = pd.read_csv(folder / "truth.csv", dtype={"file": "string", "person_id": "string"})
    keyed = records[["source_file", "source_row"]].merge(
        truth.rename(columns={"file": "source_file", "row": "source_row"}),
        on=["source_file", "source_row"],
        how="left",
        validate="one_to_one",
    )
    path = folder / "records.parquet"
    records.to_parquet(path)
    print(
        f"{people:,} people, seed {seed}: {len(records):,} rows; generated in {generated:.1f} s, "
        f"standardised in {standardised:.1f} s (not counted below)"
    )
    return path, keyed["person_id"]


def bench(people: int, seed: int, engines: list[str], workdir: Path) -> list[Scored]:
    folder = workdir / f"people{people}-seed{seed}"
    records, person_id = prepare(people, seed, folder)
    rows = []
    for engine in engines:
        run, cluster, load = run_engine(engine, records, folder / engine)
        rows.append(Scored(engine, run, score(person_id, cluster), load))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[40_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/padu-bench"))
    args = parser.parse_args(argv)

    results: list[Scored] = []
    for people in args.people:
        results += bench(people, args.seed, args.engines, args.workdir)
    print()
    print_table(results)
    print()
    print_details(results)


if __name__ == "__main__":
    main()
