"""A province: several kab/kota run side by side, then the cross-region pass.

It generates ``--regions`` kab/kota of Kalimantan Selatan with ``--people`` each
(``synthetic.province``: 1% of each region's voters live and vote in the next
region), then runs ``padu run --workers W`` on one fresh warehouse in a process of its own
under ``/usr/bin/time`` (wall time, and the peak memory of the largest process: the parent,
or one region's worker). ``padu run`` ends with the cross-region pass. It prints each
region's run time, the pass's time and its links, and checks the links against the truth.

    python -m benchmarks.province [--regions 5] [--people 100000] [--workers 2]
        [--backend duckdb] [--seed 11] [--workdir /tmp/padu-bench/province]
        [--out benchmarks/results]

The figures go to ``benchmarks/results/province-<UTC time>.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common import add_result_options, write_result
from benchmarks.daily_sync import dagster_home, fresh_warehouse

PROVINCE = ["6301", "6302", "6303", "6304", "6305", "6306", "6307", "6308", "6309", "6310"]


def _peak_mb(time_output: str) -> float:
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_output)
    return int(match.group(1)) / 1024 if match else float("nan")


# What ``padu run`` prints for a region's run and for the cross-region pass.
_REGION_RUN = re.compile(
    r"^padu run (?P<run_id>\S+) for (?P<region>[\d.]+) (?P<name>.*): (?P<seconds>[\d.]+) s$"
)
_REGION_FAILED = re.compile(r"^run (?P<run_id>\S+) for (?P<region>[\d.]+) failed after "
                            r"(?P<seconds>[\d.]+) s")  # fmt: skip
_PASS = re.compile(r"^cross-region pass over (?P<regions>\d+) regions: (?P<links>[\d,]+) "
                   r"residents .*\((?P<methods>.*)\) in (?P<seconds>[\d.]+) s$")  # fmt: skip


def run_figures(lines: list[str]) -> dict[str, Any]:
    """Each region's run time and the cross-region pass, from the lines ``padu run`` printed."""
    regions: list[dict[str, Any]] = []
    cross_region: dict[str, Any] | None = None
    for line in lines:
        if match := _REGION_RUN.match(line) or _REGION_FAILED.match(line):
            regions.append({"region": match["region"], "name": match.groupdict().get("name"),
                            "seconds": float(match["seconds"]),
                            "ok": match.re is _REGION_RUN})  # fmt: skip
        elif match := _PASS.match(line):
            methods: dict[str, int] = {}
            for part in match["methods"].split(", "):
                method, _, n = part.rpartition(" ")
                if method:
                    methods[method] = int(n.replace(",", ""))
            cross_region = {"regions": int(match["regions"]), "seconds": float(match["seconds"]),
                            "links": int(match["links"].replace(",", "")),
                            "links_by_method": methods}  # fmt: skip
    return {"regions": regions, "cross_region_pass": cross_region}


def check_links(url: str, truth_path: Path, planted_path: Path) -> tuple[int, float, float]:
    """Links, their precision, and the recall over moved people left without a registry
    record in the region where they were seen."""
    from connectors.warehouse.engine import Warehouse

    store = Warehouse(url)
    truth = pd.read_csv(truth_path, dtype={"file": str, "person_id": str})
    rows = store.query("SELECT source_file, source_row, resident_id FROM resident_link")
    rows = rows.merge(truth.rename(columns={"file": "source_file", "row": "source_row"}),
                      on=["source_file", "source_row"])  # fmt: skip
    persons = rows.groupby("resident_id")["person_id"].agg(set)
    links = store.query("SELECT resident_id, registry_resident_id FROM cross_region_link")
    orphans = store.query("SELECT resident_id FROM resident WHERE NOT in_dukcapil")
    store.dispose()
    planted = pd.read_csv(planted_path, dtype=str, keep_default_na=False)
    moved = set(planted.loc[planted["kind"] == "registered_elsewhere", "person_id"])
    right = sum(bool(persons[a] & persons[b]) for a, b in
                zip(links["resident_id"], links["registry_resident_id"], strict=True))  # fmt: skip
    orphaned = set().union(*(persons.get(r, set()) & moved for r in orphans["resident_id"]))
    found = set().union(*(persons[r] for r in links["resident_id"])) if len(links) else set()
    precision = right / len(links) if len(links) else float("nan")
    recall = len(found & orphaned) / len(orphaned) if orphaned else float("nan")
    return len(links), precision, recall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--people", type=int, default=100_000, help="per region")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", choices=("duckdb", "postgresql"), default="duckdb")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/padu-bench/province"))
    add_result_options(parser)
    args = parser.parse_args(argv)
    from synthetic.province import generate_province

    folder = args.workdir / f"{args.regions}x{args.people}-seed{args.seed}"
    if folder.exists():
        shutil.rmtree(folder)
    started = time.perf_counter()
    summary = generate_province(regions=PROVINCE[: args.regions], people=args.people,
                                out=folder, seed=args.seed)  # fmt: skip
    generated = time.perf_counter() - started
    rows = len(pd.read_csv(summary.truth_path, usecols=["file"]))
    print(f"{args.regions} regions x {args.people:,} people: {rows:,} rows, "
          f"{summary.moved_rows:,} moved; generated in {generated:.1f} s", flush=True)  # fmt: skip
    home = dagster_home(folder)
    with fresh_warehouse(args.backend, folder) as url:
        command = ["/usr/bin/time", "-v", sys.executable, "-m", "pipelines.cli", "run",
                   "--landing", str(summary.landing), "--warehouse", url,
                   "--workers", str(args.workers)]  # fmt: skip
        load = os.getloadavg()[0]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "DAGSTER_HOME": str(home)})  # fmt: skip
        seconds = time.perf_counter() - started
        (folder / "run.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise SystemExit(f"padu run failed; see {folder / 'run.log'}")
        links, precision, recall = check_links(url, summary.truth_path, summary.planted_path)
    peak_mb = _peak_mb(done.stderr)
    print(f"padu run --workers {args.workers} ({args.backend}): {seconds:.1f} s, largest process "
          f"{peak_mb / 1024:.2f} GB (load {load:.1f} at start)")  # fmt: skip
    lines = [line.strip() for line in done.stdout.splitlines()]
    lines = [line for line in lines
             if re.search(r"^padu run \S+ for |failed after|cross-region pass", line)]  # fmt: skip
    for line in lines:
        print("  " + line)
    print(f"cross-region links: {links:,}, precision {precision:.4f}, recall of moved people "
          f"left without a registry record {recall:.4f}")  # fmt: skip
    params = {"regions": PROVINCE[: args.regions], "people": args.people,
              "workers": args.workers, "backend": args.backend, "seed": args.seed}  # fmt: skip
    figures = {
        "rows": rows, "moved_rows": summary.moved_rows, "generate_seconds": generated,
        "seconds": seconds, "largest_process_peak_mb": peak_mb, "load": load,
        **run_figures(lines), "run_lines": lines,
        "cross_region_links": links, "precision": precision, "recall_of_moved": recall,
    }  # fmt: skip
    write_result("province", params, figures, out=args.out, note=args.note)


if __name__ == "__main__":
    main()
