"""Clerical review: decisions recorded with padu review are respected by every later run."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BACKENDS

from connectors.warehouse.engine import Warehouse
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
def region(tmp_path_factory, generated):
    base = tmp_path_factory.mktemp("review")
    generated(base / "landing", people=1500, seed=5)
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
        result = runner.invoke(
            main, ["review", "decide", *args, "--warehouse", url, "--by", "t", "--yes"]
        )
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
        main,
        ["review", "decide", "nope.csv:1", "nope.csv:2", "match", "--warehouse", url, "--by", "t"],
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
        main, ["review", "decide", *refs, decision, "--warehouse", url, "--by", "t", "--yes"]
    )
    assert result.exit_code == 0, result.output


@pytest.fixture(params=BACKENDS)
def queued(request, tmp_path, published_region):  # type: ignore[no-untyped-def]
    """A small region whose review queue holds several pairs, published on each backend."""
    with published_region(request.param, tmp_path / "landing", people=300, seed=23) as made:
        yield made


def test_decided_pairs_leave_the_review_queue(queued):
    """review_queue holds only the pairs awaiting a decision: after a rerun, pairs decided
    either way are gone from it and the decisions hold; a later decision still overrides."""
    url = queued.url
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

    assert run_pipeline(queued.landing, url, None, echo=lambda _: None)
    waiting = {_pair(row) for row in _queue(url)}
    assert not waiting & {_pair(row) for row in rejected + accepted}
    # Undecided pairs still wait, unless the decisions made their rows one resident.
    undecided = [row for row in queue[4:] if not same_resident(row)]
    assert {_pair(row) for row in undecided} <= waiting
    assert not any(same_resident(row) for row in rejected)
    assert all(same_resident(row) for row in accepted)

    # A reviewer changes their mind: the new decision is applied, and the pair stays out.
    _decide(url, rejected[0], "match")
    assert run_pipeline(queued.landing, url, None, echo=lambda _: None)
    assert same_resident(rejected[0]) and not same_resident(rejected[1])
    assert _pair(rejected[0]) not in {_pair(row) for row in _queue(url)}


@pytest.fixture
def unsure_region(tmp_path, published_region):  # type: ignore[no-untyped-def]
    with published_region("duckdb", tmp_path / "landing", people=300, seed=23) as made:
        yield made


def test_an_unsure_decision_is_kept_but_not_applied(unsure_region):
    """Unsure, with a note: the next run leaves the pair to the model and in the queue, after
    the undecided pairs, with the note; a later match replaces it and is applied."""
    url = unsure_region.url
    queue = _queue(url)
    assert len(queue) >= 2
    row = queue[0]
    refs = [f"{row['left_file']}:{row['left_row']}", f"{row['right_file']}:{row['right_row']}"]

    def same_resident() -> bool:
        left = _resident_of(url, row["left_file"], int(row["left_row"]))
        return left == _resident_of(url, row["right_file"], int(row["right_row"]))

    before = same_resident()
    note = "same birth date; maybe twins, ask the desa"
    result = CliRunner().invoke(
        main, ["review", "decide", *refs, "unsure", "--note", note, "--warehouse", url,
               "--by", "ayu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "unsure by ayu (not applied" in result.output
    assert run_pipeline(unsure_region.landing, url, None, echo=lambda _: None)
    assert same_resident() == before
    assert _pair(row) in {_pair(r) for r in _queue(url)}

    listed = CliRunner().invoke(main, ["review", "list", "--warehouse", url, "--limit", "500"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    pair_lines = [line for line in lines if not line.startswith("    ")]
    assert pair_lines[-1].startswith(f"{refs[0]}  {refs[1]}  ") or pair_lines[-1].startswith(
        f"{refs[1]}  {refs[0]}  "
    )
    assert re.fullmatch(rf"    unsure \(ayu, \d{{4}}-\d\d-\d\d [\d:]+\): {note}", lines[-1])
    assert len(pair_lines) == len(queue)

    _decide(url, row, "match")
    assert run_pipeline(unsure_region.landing, url, None, echo=lambda _: None)
    assert same_resident()
    assert _pair(row) not in {_pair(r) for r in _queue(url)}
    stored = Warehouse(url)
    try:
        decided = stored.query("SELECT decision, note, decided_by FROM review_decision")
    finally:
        stored.dispose()
    assert decided.to_dict("records") == [{"decision": "match", "note": None, "decided_by": "t"}]


@pytest.fixture(scope="module")
def small(tmp_path_factory, published_region):
    """A small region of its own: the decisions recorded here change no other test's runs."""
    base = tmp_path_factory.mktemp("decide")
    with published_region("duckdb", base / "landing", people=300, seed=31) as made:
        store = Warehouse(made.url)
        try:
            rows = store.query(
                "SELECT l.source_file, l.source_row, l.resident_id, l.link_method, r.sex, "
                "r.birth_date, r.nik IS NOT NULL AS has_nik, r.name_raw "
                "FROM resident_link l JOIN restricted.source_record r "
                "ON r.source_file = l.source_file AND r.source_row = l.source_row"
            )
        finally:
            store.dispose()
        yield made.url, rows


def _ref(row) -> str:
    return f"{row.source_file}:{row.source_row}"


def _decisions(url: str) -> pd.DataFrame:
    store = Warehouse(url)
    try:
        return store.query(
            "SELECT left_file, left_row, right_file, right_row, decision, decided_by "
            "FROM review_decision"
        )
    finally:
        store.dispose()


def _recorded(url: str, a, b) -> pd.DataFrame:
    found = _decisions(url)
    refs = {(a.source_file, a.source_row), (b.source_file, b.source_row)}
    pairs = [{(d.left_file, d.left_row), (d.right_file, d.right_row)} for d in found.itertuples()]
    return found[[pair == refs for pair in pairs]]


def test_decide_shows_both_rows_and_asks_before_an_unlikely_match(small):
    """A match between a man and a woman born years apart, with different NIKs: both rows
    are shown (never a NIK or KK number), and nothing is recorded unless the reviewer says
    yes."""
    url, rows = small
    men = rows[(rows.sex == "M") & rows.has_nik & rows.birth_date.notna()]
    women = rows[(rows.sex == "F") & rows.has_nik & rows.birth_date.notna()]
    man = men.iloc[0]
    woman = women[(women.birth_date - man.birth_date).abs() > pd.Timedelta(days=5 * 365)].iloc[0]
    args = ["review", "decide", _ref(man), _ref(woman), "match", "--warehouse", url, "--by", "ana"]
    runner = CliRunner()

    refused = runner.invoke(main, args, input="n\n")
    assert refused.exit_code != 0
    out = refused.output
    for person in (man, woman):
        assert _ref(person) in out and person.name_raw in out
        assert f"born {pd.Timestamp(person.birth_date).date().isoformat()}" in out
    assert "sex M" in out and "sex F" in out and "desa 63.09." in out
    assert "NIKs:  different" in out
    assert "different sex" in out and "years apart" in out and "different NIKs" in out
    assert "Record match anyway?" in out and "nothing recorded" in out
    assert not re.search(r"\d{16}", out)
    assert _recorded(url, man, woman).empty

    accepted = runner.invoke(main, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    recorded = _recorded(url, man, woman)
    assert list(recorded["decision"]) == ["match"] and list(recorded["decided_by"]) == ["ana"]


def test_decide_asks_before_splitting_rows_with_the_same_nik(small):
    url, rows = small
    linked = rows[(rows.link_method == "nik") & rows.has_nik]
    pair = linked.merge(linked, on="resident_id").query("source_file_x < source_file_y").iloc[0]
    a = rows[(rows.source_file == pair.source_file_x) & (rows.source_row == pair.source_row_x)]
    b = rows[(rows.source_file == pair.source_file_y) & (rows.source_row == pair.source_row_y)]
    a, b = a.iloc[0], b.iloc[0]
    args = ["review", "decide", _ref(a), _ref(b), "no_match", "--warehouse", url, "--by", "ana"]
    runner = CliRunner()
    refused = runner.invoke(main, args, input="n\n")
    assert refused.exit_code != 0 and "NIKs:  the same" in refused.output
    assert "both rows carry the same NIK" in refused.output
    assert _recorded(url, a, b).empty
    # A script says --yes: no question asked.
    done = runner.invoke(main, [*args, "--yes"])
    assert done.exit_code == 0, done.output
    assert "anyway?" not in done.output
    assert list(_recorded(url, a, b)["decision"]) == ["no_match"]


def test_decide_without_evidence_against_asks_nothing(small):
    """A plausible decision (no_match on rows with different NIKs) is recorded at once."""
    url, rows = small
    with_nik = rows[rows.has_nik]
    a = with_nik.iloc[0]
    b = with_nik[with_nik.resident_id != a.resident_id].iloc[0]
    args = ["review", "decide", _ref(a), _ref(b), "no_match", "--warehouse", url, "--by", "ana"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "anyway?" not in done.output and "recorded:" in done.output


def test_decided_by_is_the_reviewer_never_unknown(small, monkeypatch):
    """Without --by the decision is $USER's; with neither, decide refuses and records
    nothing."""
    url, rows = small
    with_nik = rows[rows.has_nik]
    a = with_nik.iloc[1]
    b = with_nik[with_nik.resident_id != a.resident_id].iloc[1]
    args = ["review", "decide", _ref(a), _ref(b), "no_match", "--warehouse", url]
    monkeypatch.delenv("USER", raising=False)
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "--by" in refused.output
    assert _recorded(url, a, b).empty
    monkeypatch.setenv("USER", "siti")
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert list(_recorded(url, a, b)["decided_by"]) == ["siti"]
    assert "unknown" not in set(_decisions(url)["decided_by"])
