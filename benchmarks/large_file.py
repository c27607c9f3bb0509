"""Reading one very large extract: time and peak memory of the connector on a ~2 GB file.

It builds a civil-registry extract of the requested size by repeating the data rows of a
generated one (the header once), then reads it with ``connectors.agencies.dukcapil.read`` in a fresh
Python process and prints the rows read, the wall time and the process's peak resident memory
(``VmHWM``), next to the file's size. A reader that loaded the file whole would need several
times the file's size; padu reads it in 1 MiB blocks. The figures go to
``benchmarks/results/large_file-<UTC time>.json`` (``--out``).

    python -m benchmarks.large_file [--gigabytes 2] [--workdir /tmp/padu-bench/large-file]
        [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# Adds nothing to the child's memory that the reader does not load anyway (pandas, numpy).
from benchmarks.common import add_result_options, write_result

NAME = "dukcapil_6309_20261101.csv"


def build(folder: Path, gigabytes: float) -> Path:
    """A registry extract of about ``gigabytes`` GB (reused when it is already there)."""
    from synthetic import generate

    target = folder / NAME
    size = int(gigabytes * 1e9)
    if target.exists() and target.stat().st_size >= size:
        return target
    generate(region="6309", people=20_000, seed=1, out=folder / "seed")
    header, *rows = (folder / "seed" / NAME).read_bytes().splitlines(keepends=True)
    block = b"".join(rows)
    with target.open("wb") as out:
        out.write(header)
        written = len(header)
        while written < size:
            out.write(block)
            written += len(block)
    return target


def child(path: Path, result: Path) -> None:
    """Read ``path`` and write what it cost to ``result`` (run in a process of its own)."""
    from connectors.agencies import dukcapil

    started = time.perf_counter()
    raw = dukcapil.read(path)
    elapsed = time.perf_counter() - started
    peak_kb = next(
        int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    result.write_text(json.dumps({"rows": raw.rows_read, "quarantined": len(raw.quarantined),
                                  "seconds": elapsed, "peak_gb": peak_kb / 1e6}))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/padu-bench/large-file"))
    add_result_options(parser)
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = build(args.workdir, args.gigabytes)
    result = args.workdir / "result.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.large_file", "--child", str(path), str(result)],
        check=True,
    )
    figures = json.loads(result.read_text())
    size = path.stat().st_size / 1e9
    print(f"file: {path.name}, {size:.2f} GB")
    print(f"rows read: {figures['rows']:,} ({figures['quarantined']:,} quarantined)")
    print(f"time: {figures['seconds']:.1f} s ({size / figures['seconds'] * 1000:.0f} MB/s)")
    print(f"peak memory: {figures['peak_gb']:.2f} GB ({figures['peak_gb'] / size:.2f} x the file)")
    figures |= {"file_gb": size, "mb_per_second": size / figures["seconds"] * 1000,
                "peak_per_file_size": figures["peak_gb"] / size}  # fmt: skip
    params = {"gigabytes": args.gigabytes, "file": path.name}
    write_result("large_file", params, figures, out=args.out, note=args.note)


if __name__ == "__main__":
    main()
