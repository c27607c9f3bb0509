"""Linkage benchmark on synthetic regions: padu's linker against a Splink model.

For each population size: generate Tabalong (6309) with ``synthetic.generate``,
standardise the three extracts once (timed, but not counted as linkage), then run each engine
in a process of its own on the same canonical records and score its clusters against
``truth.csv``. The figures go to ``benchmarks/results/linkage-<UTC time>.json`` (``--out``).

    python -m benchmarks.linkage --people 40000 120000 400000 [--engines padu splink]
        [--seed 1] [--workdir /tmp/padu-bench] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

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
from connectors.agencies import standardise_folder
from synthetic import generate

REGION = "6309"


def prepare(people: int, seed: int, folder: Path) -> tuple[Path, pd.Series, dict[str, Any]]:
    """Generate and standardise a region; returns the records file, each record's person, and
    what preparing it took."""
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
    prepared = {"people": people, "seed": seed, "rows": len(records),
                "generate_seconds": generated, "standardise_seconds": standardised}  # fmt: skip
    return path, keyed["person_id"], prepared


def bench(
    people: int, seed: int, engines: list[str], workdir: Path
) -> tuple[list[Scored], dict[str, Any]]:
    folder = workdir / f"people{people}-seed{seed}"
    records, person_id, prepared = prepare(people, seed, folder)
    rows = []
    for engine in engines:
        run, cluster, load = run_engine(engine, records, folder / engine)
        rows.append(Scored(engine, run, score(person_id, cluster), load))
    return rows, prepared


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[40_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/padu-bench"))
    add_result_options(parser)
    args = parser.parse_args(argv)

    results: list[Scored] = []
    prepared: list[dict[str, Any]] = []
    for people in args.people:
        rows, region = bench(people, args.seed, args.engines, args.workdir)
        results += rows
        prepared.append(region)
    print()
    print_table(results)
    print()
    print_details(results)
    params = {"region": REGION, "people": args.people, "engines": args.engines, "seed": args.seed}
    figures = {"prepared": prepared, "runs": [scored_figures(row) for row in results]}
    write_result("linkage", params, figures, out=args.out, note=args.note)


if __name__ == "__main__":
    main()
