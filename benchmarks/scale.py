"""How the cost of one region's run grows: the whole pipeline at several sizes.

For each ``--people N`` it generates Tabalong (6309) with N people and runs the pipeline once
on a fresh warehouse (ingest, standardise, link, checks, discrepancies, publish), in a
process of its own, as ``benchmarks.daily_sync`` does for its first load. It prints the wall
time and peak memory of each run, then the seconds and the peak resident memory of each
Dagster step, so the stage that dominates is visible.

    python -m benchmarks.scale [--people 100000 300000 1000000 2000000]
        [--backends duckdb] [--seed 7] [--workdir /tmp/padu-bench/scale]
        [--out benchmarks/results]

The report (``padu report``) is timed separately, after the run, on the same warehouse. The
figures go to ``benchmarks/results/scale-<UTC time>.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks.common import add_result_options, write_result
from benchmarks.daily_sync import (
    BACKENDS,
    REGION,
    RunResult,
    dagster_home,
    fresh_warehouse,
    generate_landing,
    run_scenario,
)


def report_seconds(url: str, folder: Path) -> float:
    """Wall time of ``padu report`` on the run's warehouse, in a process of its own."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "report", "--warehouse", url,
         "--out", str(folder / "report")],
        check=True, stdout=subprocess.DEVNULL, env={**os.environ},
    )  # fmt: skip
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+",
                        default=[100_000, 300_000, 1_000_000, 2_000_000])  # fmt: skip
    parser.add_argument("--backends", default="duckdb", help="comma-separated: duckdb,postgresql")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/padu-bench/scale"))
    add_result_options(parser)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - set(BACKENDS):
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")

    results: list[tuple[int, int, RunResult, float]] = []
    for people in args.people:
        folder = args.workdir / f"people{people}-seed{args.seed}"
        landing, rows = generate_landing(people, args.seed, folder)
        for backend in backends:
            run_folder = folder / backend
            run_folder.mkdir(parents=True, exist_ok=True)
            dagster_home(run_folder)
            with fresh_warehouse(backend, run_folder) as url:
                result = run_scenario(backend, "first load", landing, url, run_folder, 1)
                report = report_seconds(url, run_folder)
            print(f"  {backend}: {result.seconds:.1f} s, {result.peak_mb / 1024:.2f} GB; "
                  f"report {report:.1f} s", flush=True)  # fmt: skip
            results.append((people, rows, result, report))
        shutil.rmtree(landing)

    print()
    print("people     rows       backend     seconds  peak GB  report s  load")
    for people, rows, r, report in results:
        print(f"{people:>9,}  {rows:>9,}  {r.backend:<10} {r.seconds:>8.1f}  "
              f"{r.peak_mb / 1024:>7.2f}  {report:>8.1f}  {r.load:>4.1f}")  # fmt: skip
    print()
    steps = list(dict.fromkeys(k for _, _, r, _ in results for k in r.steps))
    print("seconds / peak MB per step")
    header = "step".ljust(36) + "".join(
        f"{p // 1000:>7}k {r.backend[:2]}" for p, _, r, _ in results
    )
    print(header)
    for step in steps:
        cells = []
        for _, _, r, _ in results:
            if step in r.steps:
                cells.append(f"{r.steps[step]:>6.1f}/{r.step_peak_mb.get(step, 0) / 1024:.1f}G")
            else:
                cells.append("-".rjust(11))
        print(step.ljust(36) + "".join(c.rjust(11) for c in cells))
    params = {"region": REGION, "people": args.people, "backends": backends, "seed": args.seed}
    runs = [{"people": people, "rows": rows, "report_seconds": report, **asdict(r)}
            for people, rows, r, report in results]  # fmt: skip
    write_result("scale", params, {"runs": runs}, out=args.out, note=args.note)


if __name__ == "__main__":
    main()
