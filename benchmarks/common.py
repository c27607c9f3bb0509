"""Shared by the benchmarks: run an engine in its own process, score it, print the table,
and record a run's figures as a data file under ``benchmarks/results/``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.engines import EngineResult
from matching.evaluation import Accuracy, accuracy

#: Where a run's data file goes unless ``--out`` says otherwise.
RESULTS = Path(__file__).resolve().parent / "results"
#: Distributions whose versions a data file records (absent ones as null).
PACKAGES = ("padu", "pandas", "numpy", "pyarrow", "duckdb", "duckdb-engine", "rapidfuzz",
            "dagster", "sqlalchemy", "psycopg2-binary", "splink", "recordlinkage")  # fmt: skip
# Sixteen digits in a row is what a NIK or a KK number looks like: never in a data file.
_ID_LIKE = re.compile(r"(?<![\d.])\d{16}(?![\d.])")  # not the digits of a float


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


def add_result_options(parser: argparse.ArgumentParser) -> None:
    """``--out`` (the folder for the run's data file) and ``--note`` (a remark kept with it)."""
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help=f"folder for the run's data file (default {RESULTS})",
    )
    parser.add_argument(
        "--note", default=None, help="a remark stored with the figures, e.g. what else was running"
    )


def machine() -> dict[str, Any]:
    """The machine a run measured: cores, memory, CPU, Python and the key package versions."""
    memory_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        None,
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or None,
    )
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024**2, 1) if memory_kb else None,
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": packages,
    }


def _commit() -> dict[str, Any] | None:
    """The checkout measured: its commit, and whether tracked files had local changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": head, "local_changes": bool(status.strip())}


def _plain(value: Any) -> Any:
    """``value`` as JSON takes it: numpy scalars as numbers, paths as text, a NaN (a figure
    that could not be had, such as a precision with nothing linked) as null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def write_result(
    name: str,
    params: dict[str, Any],
    figures: dict[str, Any],
    *,
    out: Path = RESULTS,
    note: str | None = None,
) -> Path:
    """Write one run's figures to ``out/NAME-YYYYMMDDTHHMMSSZ.json`` and return the path.

    The file holds the script's name, the parameters it ran with, the machine, the checkout,
    a UTC timestamp and every figure the script printed. Figures are counts, times and
    memory only: a value that looks like a NIK or KK (16 digits) is refused.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    record = {
        "script": name,
        "date": now.date().isoformat(),
        "recorded_at": now.isoformat().replace("+00:00", "Z"),
        "params": params,
        "machine": machine(),
        "checkout": _commit(),
        "note": note,
        "figures": figures,
    }
    text = json.dumps(_plain(record), indent=1, allow_nan=False) + "\n"
    if _ID_LIKE.search(text):
        raise ValueError("refusing to write a 16-digit value (a NIK or KK?) into the results")
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{now:%Y%m%dT%H%M%SZ}"
    for n in range(100):  # runs started in the same second get -1, -2, ...
        path = out / (f"{stem}.json" if n == 0 else f"{stem}-{n}.json")
        try:
            with path.open("x") as stream:
                stream.write(text)
        except FileExistsError:
            continue
        print(f"figures written to {path}")
        return path
    raise FileExistsError(f"too many results named {stem} in {out}")


def scored_figures(row: Scored) -> dict[str, Any]:
    """One engine's run as the data file records it: the table's columns with full
    precision, the counts behind the accuracy, and the details line."""
    acc, run = row.accuracy, row.run
    return {
        "label": row.label,
        "engine": run.engine,
        "rows": run.rows,
        "seconds": run.seconds,
        "peak_mb": run.peak_mb,
        "loaded_mb": run.loaded_mb,
        "pairs": run.pairs,
        "precision": acc.precision if acc.predicted_pairs else None,
        "recall": acc.recall,
        "f1": acc.f1,
        "exact_pct": 100 * acc.exact_share,
        "true_pairs": acc.true_pairs,
        "predicted_pairs": acc.predicted_pairs,
        "correct_pairs": acc.correct_pairs,
        "persons": acc.persons,
        "persons_exact": acc.persons_exact,
        "phases": run.phases,
        "load": row.load,
    }
