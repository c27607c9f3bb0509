"""The whole job on a small generated region: extracts -> Dagster assets -> DuckDB warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import copied_duckdb

from connectors.warehouse.engine import Warehouse
from matching.evaluation import accuracy
from pipelines.cli import run_pipeline

PEOPLE = 3000


@pytest.fixture(scope="module")
def region(tmp_path_factory, generated) -> dict[str, object]:
    base = tmp_path_factory.mktemp("e2e")
    summary = generated(base / "landing", region="6309", people=PEOPLE, seed=11)
    url = f"duckdb:///{base / 'warehouse.duckdb'}"
    messages: list[str] = []
    assert run_pipeline(base / "landing", url, None, echo=messages.append), messages
    return {"base": base, "summary": summary, "url": url, "messages": messages}


def tables(url: str) -> dict[str, pd.DataFrame]:
    store = Warehouse(url)
    try:
        return {
            name: store.read_table(name)
            for name in ("resident", "resident_link", "quarantine", "load_audit")
        }
    finally:
        store.dispose()


def test_every_row_is_accounted_for(region):
    t = tables(region["url"])
    summary = region["summary"]
    audit = t["load_audit"].set_index("source_file")
    assert len(audit) == 3
    for path, rows in summary.rows_per_file.items():
        name = Path(path).name
        linked = int((t["resident_link"]["source_file"] == name).sum())
        quarantined = int((t["quarantine"]["source_file"] == name).sum())
        assert audit.loc[name, "rows_read"] == rows == linked + quarantined
        assert audit.loc[name, "rows_loaded"] == linked
        assert len(audit.loc[name, "checksum"]) == 64


def test_residents_and_links_are_consistent(region):
    t = tables(region["url"])
    residents, links = t["resident"], t["resident_link"]
    assert residents["resident_id"].is_unique
    assert set(links["resident_id"]) == set(residents["resident_id"])
    sizes = links.groupby("resident_id").size()
    pd.testing.assert_series_equal(
        residents.set_index("resident_id")["source_rows"].sort_index(),
        sizes.sort_index(),
        check_dtype=False,
        check_names=False,
    )
    assert set(links["source"]) == {"dukcapil", "kpu", "bps"}
    assert not links.duplicated(["source_file", "source_row"]).any()


def test_blocking_counts_are_published_per_rule(region):
    """linkage_blocking: the region's run, one row per blocking rule, whose new pairs add up
    to the pairs the run compared (its run metadata)."""
    store = Warehouse(region["url"])
    try:
        blocking = store.read_table("linkage_blocking")
        run = store.query("SELECT run_id FROM run_audit WHERE status = 'success'")
    finally:
        store.dispose()
    from matching.blocking import RULES

    assert list(blocking.sort_values("rule_order")["rule"]) == [r.name for r in RULES] + [
        "second_pass"
    ]
    assert set(blocking["region"]) == {"63.09"}
    assert set(blocking["run_id"]) == set(run["run_id"])
    assert blocking["new_pairs"].sum() > 0
    assert (blocking["candidate_pairs"] >= blocking["new_pairs"]).all()
    assert (blocking["match_pairs"] + blocking["review_pairs"] <= blocking["candidate_pairs"]).all()


def test_linkage_matches_the_truth(region):
    t = tables(region["url"])
    truth = pd.read_csv(region["summary"].truth_path)
    labelled = truth.merge(
        t["resident_link"], left_on=["file", "row"], right_on=["source_file", "source_row"]
    )
    assert len(labelled) == len(truth)
    acc = accuracy(labelled)
    assert acc.precision >= 0.99, acc
    assert acc.recall >= 0.99, acc
    assert acc.exact_share >= 0.98, acc


def test_no_nik_or_kk_in_published_analyst_tables_or_data_docs(region):
    import os
    import re

    landing = region["base"] / "landing"
    dukcapil = next(landing.glob("dukcapil_*.csv"))
    raw = pd.read_csv(dukcapil, sep="|", dtype=str)
    identifiers = set(raw["NIK"]) | set(raw["NO_KK"])
    store = Warehouse(region["url"])
    names = ("resident", "resident_link", "load_audit", "review_queue", "resident_history",
             "discrepancy")  # fmt: skip
    published = {name: store.read_table(name) for name in names}
    store.dispose()
    for name, frame in published.items():
        text = frame.astype(str).to_csv(index=False)
        leaked = [i for i in identifiers if i in text]
        assert not leaked, f"{name} holds {len(leaked)} identifiers"
    docs = Path(os.environ["PADU_QUALITY_DOCS"])
    pages = [p for p in docs.rglob("*") if p.is_file()]
    assert any(p.name == "index.html" for p in pages)
    for page in pages:
        found = set(re.findall(r"\d{16}", page.read_text(errors="ignore")))
        assert not (found & identifiers), f"{page} holds identifiers"
    for message in region["messages"]:
        assert not (set(re.findall(r"\d{16}", message)) & identifiers)


def test_rerun_is_idempotent(region, tmp_path):
    before = tables(region["url"])
    messages: list[str] = []
    assert run_pipeline(region["base"] / "landing", region["url"], None, echo=messages.append)
    after = tables(region["url"])
    for name in ("resident", "resident_link", "quarantine"):
        cols = [c for c in before[name].columns if c != "run_id"]
        key = cols[:3]
        left = before[name][cols].sort_values(key).reset_index(drop=True)
        right = after[name][cols].sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right)


def test_failed_run_leaves_last_good_state(region, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(region["base"] / "landing", landing)
    url = copied_duckdb(region["url"], tmp_path)  # the region as published
    good = tables(url)
    # A newer voter list arrives without its NIK column: that asset fails, nothing is published.
    old = next(landing.glob("kpu_dpt_*.csv"))
    text = old.read_text(encoding="utf-8").replace("NIK,", "NIKX,", 1)
    (landing / "kpu_dpt_6309_20261102.csv").write_text(text, encoding="utf-8")
    messages: list[str] = []
    assert not run_pipeline(landing, url, None, echo=messages.append)
    assert any("kpu_dpt_6309_20261102.csv" in m and "NIK" in m for m in messages), messages
    after = tables(url)
    for name in good:
        pd.testing.assert_frame_equal(good[name], after[name])


@pytest.mark.parametrize("content", ["", "R101,R102,R103,R104,R402,R403,R405\n"])
def test_snapshot_without_rows_does_not_replace_the_data(region, tmp_path, content):
    landing = tmp_path / "landing"
    shutil.copytree(region["base"] / "landing", landing)
    url = copied_duckdb(region["url"], tmp_path)  # the region as published
    good = tables(url)
    (landing / "bps_regsosek_6309_20261102.csv").write_text(content, encoding="utf-8")
    messages: list[str] = []
    assert not run_pipeline(landing, url, None, echo=messages.append)
    assert any("bps_regsosek_6309_20261102.csv" in m and "without rows" in m for m in messages)
    pd.testing.assert_frame_equal(good["resident"], tables(url)["resident"])


def test_padu_evaluate_reports_the_accuracy(region):
    from click.testing import CliRunner

    from pipelines.cli import main

    truth = str(region["summary"].truth_path)
    result = CliRunner().invoke(main, ["evaluate", "--truth", truth, "--warehouse", region["url"]])
    assert result.exit_code == 0, result.output
    figures = dict(line.split(":", 1) for line in result.output.splitlines())
    assert float(figures["precision"]) >= 0.99 and float(figures["recall"]) >= 0.99
    assert int(figures["persons"].replace(",", "")) > PEOPLE * 0.95
