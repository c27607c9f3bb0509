"""Run one linkage engine on a file of canonical records, in a process of its own.

``python -m benchmarks.engines --engine splink --records R.parquet --out DIR`` reads the
records, links them, and writes ``DIR/cluster.npy`` (one cluster number per record, in file
order) and ``DIR/result.json``: wall seconds of the linkage alone, candidate pairs, and the
process's peak resident memory (``VmHWM``), also as it stood once the records were read.

A process per engine keeps the memory peaks apart; the peak is read from the process itself
because a parent's own peak can leak into ``getrusage(RUSAGE_CHILDREN)`` across fork/exec.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ENGINES = ("padu", "splink")


@dataclass
class EngineResult:
    """What a run reports; ``phases`` are seconds per step where the engine has steps."""

    engine: str
    rows: int
    seconds: float
    pairs: int
    peak_mb: float
    loaded_mb: float
    phases: dict[str, float] = field(default_factory=dict)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux ``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def link(
    engine: str,
    records: pd.DataFrame,
    *,
    profile: str = "registry",
    link_only: bool = False,
    complete: bool = False,
) -> tuple[np.ndarray, int, dict[str, float]]:
    """Cluster numbers aligned to ``records``, candidate pairs, and phase seconds.

    ``complete``: every record has its counterpart in each other source (FEBRL4's two
    files); padu is told so (``LinkageSettings.coverage``), Splink has no such setting.
    """
    if engine == "padu":
        from matching.engine import FellegiSunterLinker, LinkageSettings
        from matching.linkage import default_linker

        sources = sorted(records["source"].unique())
        coverage = tuple((a, b, 1.0) for a in sources for b in sources if a != b)
        linker = FellegiSunterLinker(LinkageSettings(coverage=coverage)) if complete else None
        result = (linker or default_linker()).link(records)
        return result.clusters["cluster"].to_numpy(np.int64), result.pairs_compared, {}
    if engine == "splink":
        from benchmarks import splink_model

        out = splink_model.link(records, profile, link_only=link_only)  # type: ignore[arg-type]
        return out.cluster, out.pairs, out.phases
    raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, required=True)
    parser.add_argument("--records", type=Path, required=True, help="canonical records, parquet")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--profile", choices=("registry", "names_dob"), default="registry")
    parser.add_argument("--link-only", action="store_true", help="Splink: link across sources")
    parser.add_argument(
        "--complete", action="store_true", help="padu: every record has its counterpart"
    )
    args = parser.parse_args(argv)

    records = pd.read_parquet(args.records)
    loaded_mb = peak_rss_mb()
    started = time.perf_counter()
    cluster, pairs, phases = link(
        args.engine, records, profile=args.profile, link_only=args.link_only,
        complete=args.complete,
    )  # fmt: skip
    # Counting the candidate pairs after the fact is a measurement, not part of the linkage.
    seconds = time.perf_counter() - started - phases.pop("count_pairs", 0.0)

    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "cluster.npy", cluster)
    result = EngineResult(
        args.engine, len(records), seconds, pairs, peak_rss_mb(), loaded_mb, phases
    )
    (args.out / "result.json").write_text(json.dumps(asdict(result), indent=1))


if __name__ == "__main__":
    main()
