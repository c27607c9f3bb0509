"""The clerical quality sample against the truth: a generated region run through padu, its
published links given known errors, samples drawn and labelled from truth.csv (perfect
reviewers), and the estimated precision and recall compared with the true ones
(connectors/warehouse/quality_sample.py, padu quality)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from connectors.warehouse import quality_sample as qs
from connectors.warehouse.engine import Warehouse
from pipelines.cli import main, run_pipeline
from pipelines.evaluate import evaluate

REGION = "63.09"
PEOPLE = 800
#: Known errors put into the published links: voter rows moved into another person's
#: resident (a wrong link and a missed one each), BPS rows split off into residents of
#: their own (missed links).
MOVED, SPLIT = 20, 20
SIZE = 500
DRAWS = 3


@pytest.fixture(scope="module")
def region(tmp_path_factory, generated) -> tuple[str, Path]:
    base = tmp_path_factory.mktemp("quality")
    landing = base / "landing"
    generated(landing, region="6309", people=PEOPLE, seed=11)
    url = f"duckdb:///{base / 'w.duckdb'}"
    assert run_pipeline(landing, url, None, echo=lambda _: None)
    _plant_errors(url)
    return url, base / "truth.csv"


def _plant_errors(url: str) -> None:
    store = Warehouse(url)
    try:
        links = store.query(
            "SELECT source, source_file, source_row, resident_id FROM resident_link"
        )
        registered = sorted(set(links.loc[links["source"] == "dukcapil", "resident_id"]))
        voters = links[(links["source"] == "kpu") & links["resident_id"].isin(registered)]
        voters = voters.sort_values(["source_file", "source_row"]).iloc[::7].head(MOVED)
        bps = links[links["source"] == "bps"].sort_values("source_row").iloc[::5].head(SPLIT)
        rng = np.random.default_rng(0)
        moves = []
        for row in voters.itertuples(index=False):
            others = [r for r in registered if r != row.resident_id]
            moves.append((row, others[int(rng.integers(len(others)))]))
        moves += [(row, f"Rsplit{i}") for i, row in enumerate(bps.itertuples(index=False))]
        with store.transaction() as conn:
            for row, resident in moves:
                conn.exec_driver_sql(
                    "UPDATE resident_link SET resident_id = ? WHERE source_file = ? "
                    "AND source_row = ?",
                    (resident, row.source_file, int(row.source_row)),
                )
    finally:
        store.dispose()


def _truth(url: str, truth_path: Path) -> tuple[dict[str, tuple[float, float]], pd.DataFrame]:
    """True precision and recall per source pair, pairwise as padu evaluate counts them."""
    truth = pd.read_csv(truth_path, dtype={"file": "string", "person_id": "string"})
    store = Warehouse(url)
    try:
        links = store.query(
            "SELECT source, source_file, source_row, resident_id FROM resident_link"
        )
    finally:
        store.dispose()
    rows = links.merge(truth, left_on=["source_file", "source_row"], right_on=["file", "row"])
    order = {"dukcapil": 0, "kpu": 1, "bps": 2}
    out, counts = {}, []
    for a in order:
        for b in order:
            if order[b] < order[a]:
                continue

            def pairs(by: list[str], a: str = a, b: str = b) -> int:
                n = rows.groupby([*by, "source"]).size().unstack("source", fill_value=0)
                na = n.get(a, pd.Series(0, index=n.index))
                nb = n.get(b, pd.Series(0, index=n.index))
                return int((na * (na - 1) // 2).sum() if a == b else (na * nb).sum())

            true = pairs(["person_id"])
            linked = pairs(["resident_id"])
            correct = pairs(["person_id", "resident_id"])
            counts.append((true, linked, correct))
            if true and linked:
                out[f"{a}-{b}"] = (correct / linked, correct / true)
    return out, pd.DataFrame(counts, columns=["true", "linked", "correct"])


def _label_from_truth(url: str, truth_path: Path) -> None:
    """Label every waiting item of the current sample as a perfect reviewer would."""
    truth = pd.read_csv(truth_path, dtype={"file": "string", "person_id": "string"})
    person = dict(zip(zip(truth["file"], truth["row"], strict=True), truth["person_id"],
                      strict=True))  # fmt: skip
    store = Warehouse(url)
    try:
        items = qs.sample_items(store, REGION)
        labels = [
            "match"
            if isinstance(it.right_key, str)
            and person[(it.left_file, int(it.left_row))]
            == person[(it.right_file, int(it.right_row))]
            else "no_match"
            for it in items.itertuples(index=False)
        ]
        qs.label_items(store, pd.DataFrame({"item_id": items["item_id"], "label": labels}), "truth")
    finally:
        store.dispose()


def test_estimates_cover_the_true_precision_and_recall(region):
    url, truth_path = region
    true, counts = _truth(url, truth_path)
    # The per-pair truth adds up to what padu evaluate measures.
    overall = evaluate(truth_path, url, REGION)
    assert tuple(counts.sum()) == (
        overall.true_pairs, overall.predicted_pairs, overall.correct_pairs,
    )  # fmt: skip
    assert true["dukcapil-kpu"][0] < 0.99 and true["dukcapil-bps"][1] < 0.99  # errors planted

    covered, intervals, far = 0, 0, []
    for seed in range(DRAWS):
        store = Warehouse(url)
        try:
            drawn = qs.draw_sample(store, REGION, SIZE, seed=seed, drawn_by="test")
        finally:
            store.dispose()
        assert drawn.items == SIZE
        _label_from_truth(url, truth_path)
        store = Warehouse(url)
        try:
            found = qs.estimates(store, REGION).set_index("source_pair")
        finally:
            store.dispose()
        assert (found["unsure"] == 0).all() and found["labelled"].sum() == SIZE
        for pair, (precision, recall) in true.items():
            row = found.loc[pair]
            for measure, value in (("precision", precision), ("recall", recall)):
                low, high = row[f"{measure}_low"], row[f"{measure}_high"]
                intervals += 1
                covered += bool(low <= value <= high)
                if (
                    pair in ("dukcapil-kpu", "dukcapil-bps", "kpu-bps")
                    and abs(row[measure] - value) > 0.06
                ):
                    far.append((seed, pair, measure, row[measure], value))
    # 95% intervals: of 3 draws x (3 source pairs and the duplicates within sources) x 2,
    # at most a few may miss; and every estimate of the three source pairs is close.
    assert covered >= 0.9 * intervals, (covered, intervals)
    assert not far, far


def test_items_name_records_by_key_and_labels_are_checked(region):
    url, _ = region
    store = Warehouse(url)
    try:
        qs.draw_sample(store, REGION, 60, seed=99)
        items = qs.sample_items(store, REGION, unlabelled_only=False)
        wanted = {"item_id", "region", "stratum", "left_key", "right_key", "probability",
                  "left_file", "left_row", "right_file", "right_row"}  # fmt: skip
        assert wanted <= set(items.columns)
        assert len(items) == 60 and (items["region"] == REGION).all()
        text = items.astype(str).to_csv(index=False)
        assert not re.search(r"\d{16}", text)  # no NIK or KK, only keys, files and rows
        waiting = qs.sample_items(store, REGION)
        # Records without any candidate are labelled no_match by padu.
        padu_labelled = items[items["decided_by"] == qs.NO_CANDIDATE_BY]
        assert padu_labelled["right_key"].isna().all()
        assert (padu_labelled["label"] == "no_match").all()
        assert len(waiting) == len(items) - len(padu_labelled)

        first, second = (int(i) for i in waiting["item_id"].head(2))
        qs.label_item(store, first, "unsure", "rina", note="blurred scan")
        qs.label_item(store, second, "match", "rina")
        qs.label_item(store, second, "no_match", "budi")  # a later label replaces it
        left = qs.sample_items(store, REGION)
        assert first not in set(left["item_id"]) and len(left) == len(waiting) - 2
        labelled = qs.sample_items(store, REGION, unlabelled_only=False).set_index("item_id")
        assert labelled.loc[second, ["label", "decided_by"]].tolist() == ["no_match", "budi"]
        assert labelled.loc[first, "note"] == "blurred scan"
        assert qs.estimates(store, REGION)["unsure"].sum() == 1

        for bad in (
            lambda: qs.label_item(store, first, "maybe", "rina"),
            lambda: qs.label_item(store, first, "match", "  "),
            lambda: qs.label_item(store, 10**9, "match", "rina"),
        ):
            with pytest.raises(qs.QualityError):
                bad()
    finally:
        store.dispose()


def test_padu_quality_commands(region):
    url, _ = region
    runner = CliRunner()

    def padu(*args: str) -> str:
        result = runner.invoke(main, ["quality", *args, "--warehouse", url])
        assert result.exit_code == 0, result.output
        return result.output

    drawn = padu("sample", "--region", "6309", "--size", "30", "--seed", "5", "--by", "t")
    assert re.search(r"sample \d+ of 63\.09: 30 items", drawn)
    assert "dukcapil-kpu | linked | >=0.99:" in drawn
    listed = padu("list", "--region", "6309", "--limit", "3")
    assert listed.startswith("63.09: ") and len(listed.splitlines()) == 4
    assert padu("list", "--limit", "3") == listed  # every sampled region: here, one
    item = listed.splitlines()[1].split()[0]
    assert f"item {item}: match by ana" in padu("label", item, "match", "--by", "ana")
    estimated = padu("estimate", "--region", "6309")
    assert "dukcapil-kpu" in estimated and "precision [95% CI]" in estimated
    assert not re.search(r"\d{16}", drawn + listed + estimated)
    result = runner.invoke(main, ["quality", "estimate", "--region", "6301", "--warehouse", url])
    assert result.exit_code != 0 and "no quality sample for 63.01" in result.output


def test_the_same_sample_on_postgresql(region, postgres_url):
    """The region's published state copied into PostgreSQL: the same seed draws the same
    items there, and the same labels give the same estimates."""
    url, truth_path = region
    here, there = Warehouse(url), Warehouse(postgres_url)
    try:
        for table in ("load_audit", "restricted.source_record", "resident_link"):
            there.append(table, here.read_table(table))
        for store in (here, there):
            qs.draw_sample(store, REGION, 80, seed=7)
        items = [
            qs.sample_items(store, REGION).drop(columns=["sample_id", "item_id", "decided_at"])
            for store in (here, there)
        ]
        pd.testing.assert_frame_equal(items[0], items[1], check_dtype=False)
    finally:
        here.dispose()
        there.dispose()
    found = []
    for store_url in (url, postgres_url):
        _label_from_truth(store_url, truth_path)
        store = Warehouse(store_url)
        try:
            found.append(qs.estimates(store, REGION).drop(columns=["sample_id"]))
        finally:
            store.dispose()
    pd.testing.assert_frame_equal(found[0], found[1], check_dtype=False)
    assert (found[1]["labelled"] > 0).all()


def test_the_auditors_report_shows_the_estimates(region, tmp_path):
    from connectors.report.page import build_report

    url, truth_path = region
    store = Warehouse(url)
    try:
        qs.draw_sample(store, REGION, 100, seed=3)
    finally:
        store.dispose()
    _label_from_truth(url, truth_path)
    store = Warehouse(url)
    try:
        page = build_report(store, tmp_path / "report", REGION).read_text(encoding="utf-8")
        wanted = qs.estimates(store, REGION).set_index("source_pair")
    finally:
        store.dispose()
    section = page[page.index("<h2>Linkage quality (clerical sample)</h2>") :]
    row = wanted.loc["dukcapil-kpu"]
    assert (
        f"<td>dukcapil-kpu</td><td>{row['precision']:.3f} ({row['precision_low']:.3f} to "
        f"{row['precision_high']:.3f})</td>"
    ) in section
    exported = pd.read_csv(tmp_path / "report" / "linkage_quality.csv")
    assert list(exported["source_pair"]) == list(wanted.index)
