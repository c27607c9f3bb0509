"""``generate``: a synthetic population and the three agency extracts it would produce.

Stages, each with its own random stream spawned from the seed (so changing one stage does not
reshuffle the others): region layout, population, identifiers, then one builder per agency.
Same arguments, same bytes: nothing depends on the clock, hash seeds or dict/set ordering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np

from synthetic import bps, dukcapil, kpu, places, writers
from synthetic.identifiers import assign_identifiers
from synthetic.population import build_population
from synthetic.rates import DEFAULT_RATES, Rates
from synthetic.truth import (
    person_labels,
    planted_table,
    truth_table,
    write_table,
)


@dataclass(frozen=True)
class GenerationSummary:
    """What ``generate`` wrote."""

    paths: dict[str, Path]  # "dukcapil", "kpu", "bps" -> extract file
    rows_per_file: dict[Path, int]  # extract file -> data rows (header excluded)
    persons: int
    truth_path: Path
    planted_path: Path
    planted_counts: dict[str, int] = field(default_factory=dict)  # kind -> planted findings


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(n)
    return [np.random.Generator(np.random.PCG64(child)) for child in children]


def generate(
    *,
    region: str = "6309",
    people: int = 10_000,
    seed: int = 1,
    out: Path = Path("landing"),
    snapshot: date = date(2026, 11, 1),
    truth: Path | None = None,
    kpu_format: Literal["csv", "xlsx"] = "csv",
    rates: Rates = DEFAULT_RATES,
) -> GenerationSummary:
    """Write the Disdukcapil, KPU and BPS extracts of ``people`` synthetic residents of the
    kab/kota ``region`` (4-digit Kemendagri code) as of ``snapshot`` into ``out``, the ground
    truth to ``truth`` (default ``out.parent / "truth.csv"``) and the planted discrepancies to
    ``planted.csv`` beside it."""
    if kpu_format not in ("csv", "xlsx"):
        raise ValueError(f"kpu_format must be 'csv' or 'xlsx', not {kpu_format!r}")
    if people < 1:
        raise ValueError("people must be at least 1")
    out = Path(out)
    truth_path = Path(truth) if truth is not None else out.parent / "truth.csv"
    planted_path = truth_path.parent / "planted.csv"
    rng_region, rng_people, rng_ids, rng_kpu, rng_bps = _streams(seed, 5)

    area = places.load_region(region, rng_region)
    population = build_population(rng_people, area, people, snapshot, rates)
    population, identity = assign_identifiers(rng_ids, area, population, rates)
    registry = dukcapil.build(area, population, identity)
    voters = kpu.build(rng_kpu, area, population, identity, rates, kpu_format)
    roster = bps.build(rng_bps, area, population, identity, rates)

    out.mkdir(parents=True, exist_ok=True)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    paths = {
        "dukcapil": out / registry.file_name,
        "kpu": out / voters.file_name,
        "bps": out / roster.file_name,
    }
    writers.write_csv(registry.table, paths["dukcapil"], sep="|")
    if kpu_format == "xlsx":
        writers.write_xlsx(voters.table, paths["kpu"], snapshot)
    else:
        writers.write_csv(voters.table, paths["kpu"], sep=",")
    writers.write_csv(roster.table, paths["bps"], sep=",")

    extracts = [registry, voters, roster]
    labels = person_labels(len(population.persons))
    write_table(truth_table(extracts, labels), truth_path)
    planted = planted_table(extracts, labels)
    write_table(planted, planted_path)
    counts = planted["kind"].value_counts(sort=False)
    return GenerationSummary(
        paths=paths,
        rows_per_file={paths[k]: len(ex.table) for k, ex in zip(paths, extracts, strict=True)},
        persons=len(population.persons),
        truth_path=truth_path,
        planted_path=planted_path,
        planted_counts={str(k): int(v) for k, v in counts.items()},
    )
