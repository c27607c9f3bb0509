"""Daily sync benchmark: the whole pipeline for one region, on embedded DuckDB and PostgreSQL.

It generates Tabalong (6309) once with ``synthetic.generate``. On a fresh warehouse
per backend it then runs ``pipelines.cli.run_pipeline`` (one Dagster run) three times:

1. ``first load``: an empty warehouse and three new extracts (ingest, standardise, link,
   checks, publish).
2. ``new dukcapil``: a copy of the landing folder whose civil-registry extract is replaced by
   the 2026-11-02 snapshot, with about 0.5% of its rows changed (names respelt, rows dropped,
   rows added). The KPU and BPS files are unchanged, so they are recognised as already loaded.
3. ``nothing new``: the same folder as 2 again.

Each run is a fresh Python process, which reports its wall time (the ``run_pipeline`` call
alone), its peak resident memory (``VmHWM``; the PostgreSQL server's memory is not included),
the rows read by the run, the residents published, the ``source_change`` rows the run added,
and the time of each Dagster step.

    python -m benchmarks.daily_sync [--people 300000] [--backends duckdb,postgresql]
        [--seed 7] [--workdir /tmp/padu-bench/daily-sync] [--out benchmarks/results]

Each backend gets a fresh warehouse: ``WORKDIR/duckdb/warehouse.duckdb``, or a PostgreSQL
database ``padu_bench_<random>`` on 127.0.0.1:5432 that is dropped afterwards. Dagster runs
are recorded in ``WORKDIR/BACKEND/dagster_home``; each run's log is ``WORKDIR/BACKEND/N.log``.
The figures go to ``benchmarks/results/daily_sync-<UTC time>.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.common import add_result_options, write_result

REGION = "6309"
FIRST_DAY, NEXT_DAY = "20261101", "20261102"
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
BACKENDS = ("duckdb", "postgresql")
SCENARIOS = ("first load", "new dukcapil", "nothing new")
_NIK = re.compile(rb"^\d{16}$")


@dataclass
class RunResult:
    """What one scenario's process reported."""

    ok: bool
    seconds: float
    peak_mb: float
    rows_read: int
    residents: int
    changes: dict[str, int]
    steps: dict[str, float]
    step_peak_mb: dict[str, float] = field(default_factory=dict)  # resident memory per step
    load: float = 0.0  # 1-minute load average when the run started
    backend: str = ""
    scenario: str = ""


# --- data -------------------------------------------------------------------------------------


def generate_landing(people: int, seed: int, folder: Path) -> tuple[Path, int]:
    """Generate the region afresh into ``folder/landing``; returns it and its data rows."""
    from synthetic import generate

    landing = folder / "landing"
    if landing.exists():
        shutil.rmtree(landing)
    started = time.perf_counter()
    summary = generate(region=REGION, people=people, seed=seed, out=landing)
    rows = sum(summary.rows_per_file.values())
    print(f"{people:,} people, seed {seed}: {rows:,} rows, generated in "
          f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    return landing, rows


def prepare(people: int, seed: int, folder: Path) -> tuple[Path, Path, int, dict[str, int]]:
    """Generate the region into ``folder/landing`` and derive ``folder/landing-NEXT_DAY``;
    returns both folders, the generated rows and what the next snapshot changed."""
    landing, rows = generate_landing(people, seed, folder)

    following = folder / f"landing-{NEXT_DAY}"
    if following.exists():
        shutil.rmtree(following)
    following.mkdir()
    for path in landing.iterdir():
        if not path.name.startswith("dukcapil_"):
            shutil.copy2(path, following / path.name)
    old = landing / f"dukcapil_{REGION}_{FIRST_DAY}.csv"
    counts = next_snapshot(old, following / f"dukcapil_{REGION}_{NEXT_DAY}.csv", seed)
    print("next dukcapil snapshot: " + ", ".join(f"{n:,} {k}" for k, n in counts.items()))
    return landing, following, rows, counts


def next_snapshot(source: Path, target: Path, seed: int, share: float = 0.005) -> dict[str, int]:
    """Write the next civil-registry snapshot with ``share`` of the rows changed: 70% of those
    respelt (a letter appended to the name), 15% dropped, 15% added (copies of other rows with
    a new NIK serial number). Returns how many of each."""
    header, *rows = source.read_bytes().rstrip(b"\n").split(b"\n")
    columns = header.split(b"|")
    name, nik = columns.index(b"NAMA_LGKP"), columns.index(b"NIK")
    rng = random.Random(seed)
    touched = round(len(rows) * share)
    n_respelt, n_dropped = round(touched * 0.7), round(touched * 0.15)
    n_added = touched - n_respelt - n_dropped
    picked = rng.sample(range(len(rows)), n_respelt + n_dropped)
    respelt, dropped = set(picked[:n_respelt]), set(picked[n_respelt:])

    out = []
    for i, row in enumerate(rows):
        if i in dropped:
            continue
        if i in respelt:
            fields = row.split(b"|")
            fields[name] += rng.choice(b"AEHINS").to_bytes(1, "big")
            row = b"|".join(fields)
        out.append(row)
    out += _added_rows(rows, nik, n_added, rng)
    target.write_bytes(b"\n".join([header, *out]) + b"\n")
    return {"respelt": n_respelt, "dropped": n_dropped, "added": n_added}


def _added_rows(rows: list[bytes], nik: int, count: int, rng: random.Random) -> list[bytes]:
    """Copies of ``count`` rows with a valid NIK, each given a serial number no row has."""
    used = {row.split(b"|")[nik] for row in rows}
    candidates = [row for row in rows if _NIK.match(row.split(b"|")[nik])]
    added = []
    for row in rng.sample(candidates, count):
        fields = row.split(b"|")
        while fields[nik] in used:
            fields[nik] = fields[nik][:12] + b"%04d" % rng.randrange(5000, 10000)
        used.add(fields[nik])
        added.append(b"|".join(fields))
    return added


# --- warehouses -------------------------------------------------------------------------------


@contextmanager
def fresh_warehouse(backend: str, folder: Path) -> Iterator[str]:
    """The URL of an empty warehouse for ``backend``; a PostgreSQL database is dropped after.

    Only an embedded DuckDB warehouse makes a pseudonym key of its own; for PostgreSQL, unless
    the environment configures one, a random key for this benchmark is written to
    ``folder/pseudonym.key`` and given to the runs as ``PADU_PSEUDONYM_KEY_FILE``.
    """
    if backend == "duckdb":
        path = folder / "warehouse.duckdb"
        for stale in (path, path.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
        yield f"duckdb:///{path}"
        return
    name = f"padu_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    configured = any(os.environ.get(k) for k in ("PADU_PSEUDONYM_KEY_FILE", "PADU_PSEUDONYM_KEY"))
    if not configured:
        key = folder / "pseudonym.key"
        key.unlink(missing_ok=True)
        key.touch(mode=0o600)
        key.write_text(secrets.token_hex(32) + "\n")
        os.environ["PADU_PSEUDONYM_KEY_FILE"] = str(key)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        try:
            yield f"{POSTGRES}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()
        if not configured:
            del os.environ["PADU_PSEUDONYM_KEY_FILE"]


def dagster_home(folder: Path) -> Path:
    """An empty Dagster instance folder, with telemetry off."""
    home = folder / "dagster_home"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


# --- one scenario, in a process of its own ----------------------------------------------------


def run_scenario(
    backend: str, scenario: str, landing: Path, url: str, folder: Path, n: int
) -> RunResult:
    """Run the pipeline once in a fresh Python process (log in ``folder/N.log``)."""
    out, log = folder / f"{n}.json", folder / f"{n}.log"
    command = [sys.executable, "-m", "benchmarks.daily_sync",
               "--child", str(landing), url, str(out)]  # fmt: skip
    env = {**os.environ, "DAGSTER_HOME": str(folder / "dagster_home")}
    load = os.getloadavg()[0]
    with log.open("w") as stream:
        done = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0 or not out.exists():
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise RuntimeError(f"{backend} {scenario} failed (exit {done.returncode}); {log}:\n{tail}")
    result = RunResult(**json.loads(out.read_text()))
    result.load, result.backend, result.scenario = load, backend, scenario
    if not result.ok:
        failed = [line for line in log.read_text().splitlines() if line.startswith("failed:")]
        raise RuntimeError(f"{backend} {scenario}: the run did not succeed; {log}:\n"
                           + "\n".join(failed or ["(checks failed; see the log)"]))  # fmt: skip
    return result


def child(landing: Path, url: str, out: Path) -> None:
    """Inside the scenario's process: run the pipeline, then write what it did to ``out``."""
    import dagster as dg

    from connectors.warehouse.engine import Warehouse
    from pipelines.cli import run_pipeline

    samples: list[tuple[float, float]] = []
    sampling = threading.Event()

    def sample() -> None:  # the process's resident memory twice a second, with the time
        while not sampling.wait(0.5):
            samples.append((time.time(), _rss_mb()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    ok = run_pipeline(landing, url, None, echo=print)
    seconds = time.perf_counter() - started
    sampling.set()
    sampler.join()
    peak_mb = _peak_mb()

    instance = dg.DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    stats = [
        s
        for s in instance.get_run_step_stats(run.run_id)
        if s.start_time is not None and s.end_time is not None
    ]
    steps = {s.step_key: s.end_time - s.start_time for s in stats}
    step_peak_mb = {
        s.step_key: max((mb for t, mb in samples if s.start_time <= t <= s.end_time), default=0.0)
        for s in stats
    }
    store = Warehouse(url)
    rows_read = store.scalar(
        "SELECT coalesce(sum(rows_read), 0) FROM load_audit WHERE run_id = :r", {"r": run.run_id}
    )
    changes = store.query(
        "SELECT change, count(*) AS n FROM source_change WHERE run_id = :r GROUP BY 1",
        {"r": run.run_id},
    )
    result = {
        "ok": bool(ok),
        "seconds": seconds,
        "peak_mb": peak_mb,
        "rows_read": int(rows_read),
        "residents": int(store.scalar("SELECT count(*) FROM resident")),
        "changes": {str(c): int(n) for c, n in zip(changes["change"], changes["n"], strict=True)},
        "steps": steps,
        "step_peak_mb": step_peak_mb,
    }
    store.dispose()
    out.write_text(json.dumps(result))


def _rss_mb() -> float:
    """Resident set size of this process now (Linux ``VmRSS``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    """Peak resident set size of this process so far (Linux ``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


# --- the benchmark ----------------------------------------------------------------------------


def bench(backend: str, first: Path, following: Path, workdir: Path) -> list[RunResult]:
    """The three scenarios, in order, on a fresh warehouse for ``backend``."""
    folder = workdir / backend
    folder.mkdir(parents=True, exist_ok=True)
    dagster_home(folder)
    results = []
    with fresh_warehouse(backend, folder) as url:
        for n, (scenario, landing) in enumerate(zip(SCENARIOS, (first, following, following),
                                                    strict=True), start=1):  # fmt: skip
            result = run_scenario(backend, scenario, landing, url, folder, n)
            print(f"  {backend}, {scenario}: {result.seconds:.1f} s, "
                  f"{result.peak_mb / 1024:.2f} GB", flush=True)  # fmt: skip
            results.append(result)
    return results


def print_table(results: list[RunResult]) -> None:
    header = ("backend", "scenario", "seconds", "peak GB", "rows read", "residents",
              "source changes")  # fmt: skip
    lines = [header]
    for r in results:
        changes = ", ".join(f"{k} {v:,}" for k, v in sorted(r.changes.items())) or "-"
        lines.append((r.backend, r.scenario, f"{r.seconds:.1f}", f"{r.peak_mb / 1024:.2f}",
                      f"{r.rows_read:,}", f"{r.residents:,}", changes))  # fmt: skip
    _print_aligned(lines, left=(0, 1, 6))


def print_steps(results: list[RunResult]) -> None:
    """Seconds per Dagster step (a step absent from a run is shown as ``-``)."""
    keys = list(dict.fromkeys(k for r in results for k in r.steps))
    header = ("step", *(f"{r.backend[:2]}{n % 3 or 3}" for n, r in enumerate(results, 1)))
    lines = [header]
    for key in keys:
        lines.append((key, *(f"{r.steps[key]:.1f}" if key in r.steps else "-" for r in results)))
    _print_aligned(lines, left=(0,))
    print("  (du/po = duckdb/postgresql, 1-3 = scenario; load average at start: "
          + ", ".join(f"{r.load:.1f}" for r in results) + ")")  # fmt: skip


def _print_aligned(lines: list[tuple[str, ...]], left: tuple[int, ...]) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        cells = [c.ljust(w) if i in left else c.rjust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=True))]  # fmt: skip
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300_000)
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated: duckdb,postgresql")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/padu-bench/daily-sync"))
    parser.add_argument("--child", nargs=3, metavar=("LANDING", "URL", "OUT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    add_result_options(parser)
    args = parser.parse_args(argv)
    if args.child:
        landing, url, out = args.child
        child(Path(landing), url, Path(out))
        return

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - set(BACKENDS):
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    workdir = args.workdir / f"people{args.people}-seed{args.seed}"
    first, following, rows, counts = prepare(args.people, args.seed, workdir)
    results: list[RunResult] = []
    for backend in backends:
        results += bench(backend, first, following, workdir)
    print()
    print_table(results)
    print()
    print_steps(results)
    params: dict[str, Any] = {"region": REGION, "people": args.people, "backends": backends,
                              "seed": args.seed, "snapshots": [FIRST_DAY, NEXT_DAY]}  # fmt: skip
    figures = {"rows": rows, "next_snapshot": counts, "runs": [asdict(r) for r in results]}
    write_result("daily_sync", params, figures, out=args.out, note=args.note)


if __name__ == "__main__":
    main()
