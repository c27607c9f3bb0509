"""What a run's results depend on, as one sha256: when it has not changed since the last
successful run of the region, the published tables are already what this run would publish.

The inputs: each source's file (its checksum), the review decisions, the reference date, the
pseudonym key (as a keyed digest, never the key), and padu's own code (every module of the
packages that compute the results), so a new version of padu is never skipped.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path

import pandas as pd

_PACKAGES = ("connectors", "matching", "expectations", "pipelines")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 of padu's modules and shipped data (mappings, reference table)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".yaml", ".gz"):
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_fingerprint(
    files: pd.DataFrame, decisions: pd.DataFrame, reference: object, key: bytes
) -> str:
    """sha256 of the run's inputs: ``files`` (``source``, ``source_file``, ``checksum``), the
    review ``decisions``, the reference date, the key (keyed digest) and the code."""
    digest = hashlib.sha256()
    for row in files.sort_values("source").itertuples():
        digest.update(f"file\0{row.source}\0{row.source_file}\0{row.checksum}\n".encode())
    ordered = decisions.sort_values(["left_key", "right_key"])
    for row in ordered[["left_key", "right_key", "decision"]].itertuples(index=False):
        digest.update(("decision\0" + "\0".join(map(str, row)) + "\n").encode())
    digest.update(f"reference\0{reference}\n".encode())
    digest.update(hmac.new(key, b"padu-run-fingerprint", hashlib.sha256).digest())
    digest.update(code_fingerprint().encode())
    return digest.hexdigest()
