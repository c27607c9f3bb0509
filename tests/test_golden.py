"""The published tables of a fixed small region, by content hash: a change to the code that
changes any published row shows here, table by table.

A deliberate change of output (a linkage improvement, a new column) updates the golden file:
``PADU_UPDATE_GOLDEN=1 pytest tests/test_golden.py``, and the diff of
``tests/golden/published_hashes.json`` goes into the same commit, saying why."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ops_helpers import content_hashes

from pipelines.cli import run_pipeline

GOLDEN = Path(__file__).parent / "golden" / "published_hashes.json"
#: A fixed key, so that pseudonyms and resident IDs are the same on every machine.
KEY = "golden-test-key-" + "0" * 48


def test_published_tables_are_unchanged(tmp_path, monkeypatch, generated):
    monkeypatch.setenv("PADU_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("PADU_PSEUDONYM_KEY_FILE", raising=False)
    generated(tmp_path / "landing", region="6309", people=600, seed=21)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    assert run_pipeline(tmp_path / "landing", url, None, echo=lambda _: None)
    hashes = content_hashes(url)
    if os.environ.get("PADU_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(hashes, indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    changed = sorted(t for t in golden.keys() | hashes.keys() if golden.get(t) != hashes.get(t))
    assert not changed, f"published tables changed: {changed}"
