"""Rotating the pseudonym key keeps resident IDs and review decisions."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import rows_of

from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import access_log
from matching.nik import pseudonymise
from pipelines.cli import main, run_pipeline

OLD = "an old key of forty bytes, 0123456789ab"
NEW = "the new key, also long enough: 0123456789abcdef"


def _links(url: str) -> pd.DataFrame:
    store = Warehouse(url)
    try:
        return store.query(
            "SELECT source_file, source_row, resident_id, record_key FROM resident_link "
            "ORDER BY source_file, source_row"
        )
    finally:
        store.dispose()


def test_rekey_keeps_ids_and_decisions(tmp_path, monkeypatch, generated):
    landing = tmp_path / "landing"
    generated(landing, region="6309", people=300, seed=51)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    monkeypatch.setenv("PADU_PSEUDONYM_KEY", OLD)
    assert run_pipeline(landing, url, None, echo=lambda _: None)
    links = _links(url)
    pair = links.merge(links, on="resident_id").query("source_file_x < source_file_y").iloc[0]
    left = f"{pair['source_file_x']}:{pair['source_row_x']}"
    right = f"{pair['source_file_y']}:{pair['source_row_y']}"
    runner = CliRunner()
    decided = runner.invoke(main, ["review", "decide", left, right, "no_match", "--note",
                                   "father and son", "--warehouse", url, "--by", "t",
                                   "--yes"])  # fmt: skip
    assert decided.exit_code == 0, decided.output
    assert run_pipeline(landing, url, None, echo=lambda _: None)
    before = _links(url)
    # A clerical quality sample, and a reviewer shown one record: both name records by key.
    sampled = runner.invoke(main, ["quality", "sample", "--region", "6309", "--size", "20",
                                   "--seed", "1", "--by", "t", "--warehouse", url])  # fmt: skip
    assert sampled.exit_code == 0, sampled.output
    shown = before.iloc[0]
    store = Warehouse(url)
    try:
        with store.transaction() as conn:
            conn.execute(
                sa.insert(access_log),
                {"accessed_at": datetime(2026, 12, 1), "accessed_by": "t", "region": "63.09",
                 "record_key": shown["record_key"], "purpose": "review"},
            )  # fmt: skip
    finally:
        store.dispose()

    wrong = tmp_path / "wrong"
    wrong.write_text(NEW)
    (tmp_path / "new").write_text(NEW)
    monkeypatch.setenv("PADU_PSEUDONYM_KEY", NEW)  # not the key in use: refused
    refused = runner.invoke(main, ["rekey", "--new-key-file", str(wrong), "--warehouse", url])
    assert refused.exit_code != 0 and "new key is the key in use" in refused.output
    monkeypatch.setenv("PADU_PSEUDONYM_KEY", OLD + "x")
    refused = runner.invoke(main, ["rekey", "--new-key-file", str(wrong), "--warehouse", url])
    assert refused.exit_code != 0 and "not made with the configured key" in refused.output

    monkeypatch.setenv("PADU_PSEUDONYM_KEY", OLD)
    done = runner.invoke(main, ["rekey", "--new-key-file", str(tmp_path / "new"),
                                "--warehouse", url])  # fmt: skip
    assert done.exit_code == 0, done.output
    monkeypatch.setenv("PADU_PSEUDONYM_KEY", NEW)
    events_before = len(rows_of(url, "SELECT * FROM resident_history"))
    assert run_pipeline(landing, url, None, echo=lambda _: None)
    after = _links(url)

    assert (after["resident_id"] == before["resident_id"]).all()  # IDs kept
    assert not (after["record_key"] == before["record_key"]).any()  # every key rekeyed
    # The sample and the access log name the same records by their new keys.
    keys = set(after["record_key"])
    items = rows_of(url, "SELECT left_key, right_key FROM quality_item")
    assert len(items) and set(items["left_key"]) | set(items["right_key"].dropna()) <= keys
    logged = rows_of(url, "SELECT record_key FROM access_log")["record_key"]
    assert list(logged) == [after.loc[0, "record_key"]]
    assert len(rows_of(url, "SELECT * FROM resident_history")) == events_before  # no churn
    ids = after.set_index(["source_file", "source_row"])["resident_id"]
    assert (
        ids[(pair["source_file_x"], pair["source_row_x"])]
        != ids[(pair["source_file_y"], pair["source_row_y"])]
    )  # the decision still holds
    notes = rows_of(url, "SELECT decision, note FROM review_decision")
    assert notes.to_dict("records") == [{"decision": "no_match", "note": "father and son"}]
    niks = rows_of(url, "SELECT DISTINCT nik FROM restricted.source_record WHERE nik IS NOT NULL")
    expected = set(pseudonymise(niks["nik"], NEW.encode(), purpose="nik"))
    published = set(rows_of(url, "SELECT nik_pseudonym FROM resident")["nik_pseudonym"].dropna())
    assert published and published <= expected
