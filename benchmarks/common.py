"""Shared by the benchmarks: run an engine in its own process, score it, print the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.engines import EngineResult
from matching.evaluation import Accuracy, accuracy


@dataclass
class Scored:
    """One engine's run on one data set, with its accuracy against the truth."""

    label: str
    run: EngineResult
    accuracy: Accuracy
    load: float  # 1-minute load average when the engine started: other work skews the time


def run_engine(
    engine: str,
    records: Path,
    out: Path,
    *,
    profile: str = "registry",
    link_only: bool = False,
    complete: bool = False,
) -> tuple[EngineResult, np.ndarray, float]:
    """Run ``engine`` on the records file in a fresh Python process; its log goes to
    ``out/engine.log``. Returns what it reported, the cluster of each record, and the load
    average when it started."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "benchmarks.engines", "--engine", engine,
        "--records", str(records), "--out", str(out), "--profile", profile,
    ]  # fmt: skip
    if link_only:
        command.append("--link-only")
    if complete:
        command.append("--complete")
    log = out / "engine.log"
    load = os.getloadavg()[0]
    with log.open("w") as stream:
        done = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise RuntimeError(f"{engine} failed (exit {done.returncode}); end of {log}:\n{tail}")
    result = EngineResult(**json.loads((out / "result.json").read_text()))
    return result, np.load(out / "cluster.npy"), load


def score(person_id: pd.Series | np.ndarray, cluster: np.ndarray) -> Accuracy:
    """Pairwise and exact-cluster accuracy of ``cluster`` (the resident) against the truth."""
    labelled = pd.DataFrame({"person_id": np.asarray(person_id), "resident_id": cluster})
    if labelled["person_id"].isna().any():
        raise ValueError("records without a person in the truth")
    return accuracy(labelled)


def print_table(rows: list[Scored], *, first_column: str = "engine") -> None:
    """The results as an aligned text table (precision ``-`` when no pair was linked)."""
    header = (first_column, "rows", "seconds", "peak MB", "pairs", "precision", "recall",
              "F1", "exact%")  # fmt: skip
    lines = [header]
    for row in rows:
        acc = row.accuracy
        lines.append(
            (
                row.label,
                f"{row.run.rows:,}",
                f"{row.run.seconds:.1f}",
                f"{row.run.peak_mb:,.0f}",
                f"{row.run.pairs:,}",
                f"{acc.precision:.4f}" if acc.predicted_pairs else "-",
                f"{acc.recall:.4f}",
                f"{acc.f1:.4f}",
                f"{100 * acc.exact_share:.2f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_details(rows: list[Scored]) -> None:
    """Per run: load average at the start, memory with the records loaded (before linking),
    and Splink's phases."""
    for row in rows:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in row.run.phases.items())
        print(
            f"  {row.label} ({row.run.rows:,} rows): load {row.load:.1f} at start; "
            f"{row.run.loaded_mb:,.0f} MB with the records loaded"
            + (f"; {phases}" if phases else "")
        )
