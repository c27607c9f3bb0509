"""Clerical review: decisions recorded with padu review are respected by every later run."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from connectors.synthetic import generate
from connectors.warehouse import Warehouse
from pipelines.cli import main, run_pipeline


def _resident_of(url: str, file: str, row: int) -> str:
    store = Warehouse(url)
    try:
        return store.scalar(
            "SELECT resident_id FROM resident_link WHERE source_file = :f AND source_row = :r",
            {"f": file, "r": row},
        )
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    base = tmp_path_factory.mktemp("review")
    generate(region="6309", people=1500, seed=5, out=base / "landing")
    url = f"duckdb:///{base / 'w.duckdb'}"
    assert run_pipeline(base / "landing", url, None, echo=lambda _: None)
    return base, url


def test_decisions_override_the_model_also_in_the_next_snapshot(region):
    base, url = region
    store = Warehouse(url)
    links = store.query("SELECT source, source_file, source_row, resident_id FROM resident_link")
    store.dispose()
    # A registry row and the voter row linked to it; and two rows of different residents.
    voters = links[links["source"] == "kpu"]
    joined = voters.merge(links[links["source"] == "dukcapil"], on="resident_id").iloc[0]
    kpu_ref = f"{joined['source_file_x']}:{joined['source_row_x']}"
    duk_ref = f"{joined['source_file_y']}:{joined['source_row_y']}"
    strangers = links[links["source"] == "bps"].merge(
        links[links["source"] == "dukcapil"], how="cross"
    )
    strangers = strangers[strangers["resident_id_x"] != strangers["resident_id_y"]].iloc[0]
    bps_ref = f"{strangers['source_file_x']}:{strangers['source_row_x']}"
    other_ref = f"{strangers['source_file_y']}:{strangers['source_row_y']}"

    runner = CliRunner()
    for args in ([kpu_ref, duk_ref, "no_match"], [bps_ref, other_ref, "match"]):
        result = runner.invoke(main, ["review", "decide", *args, "--warehouse", url, "--by", "t"])
        assert result.exit_code == 0, result.output

    def resident(ref: str, folder_date: str | None = None) -> str:
        file, row = ref.rsplit(":", 1)
        if folder_date:
            file = file.replace("20261101", folder_date)
        return _resident_of(url, file, int(row))

    assert resident(kpu_ref) == resident(duk_ref)  # not applied until the next run
    assert run_pipeline(base / "landing", url, None, echo=lambda _: None)
    assert resident(kpu_ref) != resident(duk_ref)
    assert resident(bps_ref) == resident(other_ref)

    # The next snapshot renames every file: the decisions still hold. (Same content would be
    # recognised as already loaded and keep the old names; reload reads the files as new.)
    later = base / "later"
    later.mkdir()
    for path in (base / "landing").iterdir():
        shutil.copy(path, later / path.name.replace("20261101", "20261201"))
    assert run_pipeline(later, url, None, echo=lambda _: None, reload=True)
    assert resident(kpu_ref, "20261201") != resident(duk_ref, "20261201")
    assert resident(bps_ref, "20261201") == resident(other_ref, "20261201")


def test_unknown_row_is_a_clear_error(region):
    _, url = region
    result = CliRunner().invoke(
        main, ["review", "decide", "nope.csv:1", "nope.csv:2", "match", "--warehouse", url]
    )
    assert result.exit_code != 0 and "nope.csv row 1 is not in resident_link" in result.output


def test_review_list_shows_pairs_without_identifiers(region):
    base, url = region
    result = CliRunner().invoke(main, ["review", "list", "--warehouse", url, "--limit", "50"])
    assert result.exit_code == 0
    import re

    assert not re.search(r"\d{16}", result.output)


def _queue(url: str) -> list[dict]:
    store = Warehouse(url)
    try:
        frame = store.query(
            "SELECT left_file, left_row, right_file, right_row, left_key, right_key "
            "FROM review_queue ORDER BY match_probability DESC, left_key, right_key"
        )
    finally:
        store.dispose()
    return frame.to_dict("records")


def _pair(row: dict) -> frozenset[str]:
    return frozenset((row["left_key"], row["right_key"]))


def _decide(url: str, row: dict, decision: str) -> None:
    refs = [f"{row['left_file']}:{row['left_row']}", f"{row['right_file']}:{row['right_row']}"]
    result = CliRunner().invoke(
        main, ["review", "decide", *refs, decision, "--warehouse", url, "--by", "t"]
    )
    assert result.exit_code == 0, result.output


def test_decided_pairs_leave_the_review_queue(tmp_path, warehouse_url):
    """review_queue holds only the pairs awaiting a decision: after a rerun, pairs decided
    either way are gone from it and the decisions hold; a later decision still overrides."""
    url = warehouse_url
    generate(region="6309", people=300, seed=23, out=tmp_path / "landing")
    assert run_pipeline(tmp_path / "landing", url, None, echo=lambda _: None)
    queue = _queue(url)
    assert len(queue) >= 4
    rejected, accepted = queue[:2], queue[2:4]
    for row in rejected:
        _decide(url, row, "no_match")
    for row in accepted:
        _decide(url, row, "match")

    def same_resident(row: dict) -> bool:
        left = _resident_of(url, row["left_file"], int(row["left_row"]))
        return left == _resident_of(url, row["right_file"], int(row["right_row"]))

    assert run_pipeline(tmp_path / "landing", url, None, echo=lambda _: None)
    waiting = {_pair(row) for row in _queue(url)}
    assert not waiting & {_pair(row) for row in rejected + accepted}
    # Undecided pairs still wait, unless the decisions made their rows one resident.
    undecided = [row for row in queue[4:] if not same_resident(row)]
    assert {_pair(row) for row in undecided} <= waiting
    assert not any(same_resident(row) for row in rejected)
    assert all(same_resident(row) for row in accepted)

    # A reviewer changes their mind: the new decision is applied, and the pair stays out.
    _decide(url, rejected[0], "match")
    assert run_pipeline(tmp_path / "landing", url, None, echo=lambda _: None)
    assert same_resident(rejected[0]) and not same_resident(rejected[1])
    assert _pair(rejected[0]) not in {_pair(row) for row in _queue(url)}
