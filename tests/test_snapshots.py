"""A second snapshot with about 1% of rows changed keeps the IDs of unchanged people."""

from __future__ import annotations

import numpy as np
import pandas as pd

from connectors.warehouse.engine import Warehouse
from pipelines.cli import run_pipeline


def _links(url: str) -> pd.DataFrame:
    store = Warehouse(url)
    try:
        return store.query("SELECT source_file, source_row, resident_id FROM resident_link")
    finally:
        store.dispose()


def test_second_snapshot_keeps_ids_of_unchanged_people(tmp_path, generated):
    generated(tmp_path / "landing", region="6309", people=4000, seed=8)
    truth = pd.read_csv(tmp_path / "truth.csv")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    assert run_pipeline(tmp_path / "landing", url, None, echo=lambda _: None)
    before = truth.merge(
        _links(url), left_on=["file", "row"], right_on=["source_file", "source_row"]
    )

    # The next snapshot: every file again, with ~1% of rows changed (a name respelt, an
    # address moved, a row dropped), under the next day's name.
    rng = np.random.default_rng(3)
    changed_people: set[str] = set()
    later = tmp_path / "later"
    later.mkdir()
    new_truth = []
    for path in sorted((tmp_path / "landing").iterdir()):
        sep = "|" if path.name.startswith("dukcapil") else ","
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
        rows = truth[truth["file"] == path.name].set_index("row")["person_id"]
        frame["_person"] = rows.reindex(range(1, len(frame) + 1)).to_numpy()
        pick = rng.random(len(frame)) < 0.01
        name_col = {"d": "NAMA_LGKP", "k": "NAMA", "b": "R402"}[path.name[0]]
        respelt = pick & (rng.random(len(frame)) < 0.5)
        frame.loc[respelt, name_col] = frame.loc[respelt, name_col].str.replace("A", "O", n=1)
        dropped = pick & ~respelt
        changed_people |= set(frame.loc[pick, "_person"])
        frame = frame[~dropped].reset_index(drop=True)
        name = path.name.replace("20261101", "20261102")
        new_truth.append(pd.DataFrame({"file": name, "row": range(1, len(frame) + 1),
                                       "person_id": frame["_person"]}))  # fmt: skip
        frame.drop(columns="_person").to_csv(later / name, sep=sep, index=False)
    assert run_pipeline(later, url, None, echo=lambda _: None)
    after = pd.concat(new_truth).merge(
        _links(url), left_on=["file", "row"], right_on=["source_file", "source_row"]
    )
    old_id = before.groupby("person_id")["resident_id"].agg(lambda s: s.mode().iloc[0])
    new_id = after.groupby("person_id")["resident_id"].agg(lambda s: s.mode().iloc[0])
    unchanged = [p for p in old_id.index.intersection(new_id.index) if p not in changed_people]
    kept = (old_id[unchanged] == new_id[unchanged]).mean()
    print(f"kept {kept:.4%} of {len(unchanged)} unchanged people")
    assert len(unchanged) > 3500
    assert kept >= 0.999, f"{kept:.4%} of unchanged people kept their resident_id"
