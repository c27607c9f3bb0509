"""Linkage accuracy of a warehouse against a truth file (``padu evaluate``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from connectors.warehouse.engine import Warehouse
from connectors.warehouse.summaries import record_links
from matching.evaluation import Accuracy, accuracy


def evaluate(truth_path: Path, warehouse_url: str, region: str | None = None) -> Accuracy:
    """Compare ``resident_link`` with a truth file of ``file,row,person_id``.

    Only rows present in both count; the caller is told how many truth rows were missing.
    """
    truth = pd.read_csv(truth_path, dtype={"file": "string", "person_id": "string"})
    missing = {"file", "row", "person_id"} - set(truth.columns)
    if missing:
        raise ValueError(f"{truth_path}: missing column(s) {', '.join(sorted(missing))}")
    store = Warehouse(warehouse_url)
    try:
        links = record_links(store, region)
    finally:
        store.dispose()
    labelled = truth.merge(
        links, left_on=["file", "row"], right_on=["source_file", "source_row"], how="inner"
    )
    return accuracy(labelled)
