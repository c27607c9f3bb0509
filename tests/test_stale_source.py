"""One broken source does not hold the others back: its newest file is refused and the source
stays on its current snapshot, the run publishes the others, says which source is stale and
since when, and still fails so that an engineer notices."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from conftest import rows_of

from connectors.report.page import build_report
from connectors.warehouse.engine import Warehouse
from pipelines.cli import run_pipeline

OLD, NEW = "20261101", "20261102"


def _next_folder(root: Path, name: str) -> Path:
    """A landing folder with the next day's files, a voter fewer in the voter list."""
    folder = root / name
    folder.mkdir()
    for path in (root / "landing").iterdir():
        shutil.copy(path, folder / path.name.replace(OLD, NEW))
    voters = next(folder.glob("kpu_*"))
    voters.write_text(voters.read_text(encoding="utf-8").rsplit("\n", 2)[0] + "\n", "utf-8")
    return folder


def _current(url: str) -> dict[str, str]:
    rows = rows_of(url, "SELECT source, source_file FROM load_audit WHERE current")
    return dict(zip(rows["source"], rows["source_file"], strict=True))


def test_an_unreadable_registry_file_keeps_the_registry_on_its_snapshot(tmp_path, published):
    url = published.url
    landing = _next_folder(tmp_path, "broken")
    registry = next(landing.glob("dukcapil_*"))
    lines = registry.read_text(encoding="utf-8").splitlines()
    registry.write_text("\n".join(["X" + lines[0][3:], *lines[1:]]) + "\n", encoding="utf-8")
    out: list[str] = []

    assert not run_pipeline(landing, url, None, echo=out.append)  # exits non-zero

    current = _current(url)
    assert current["dukcapil"] == registry.name.replace(NEW, OLD)  # stale: the current snapshot
    assert current["kpu"].endswith(f"{NEW}.csv")  # the new voter list is published
    refused = rows_of(url, "SELECT * FROM refused_file")
    assert list(refused["source_file"]) == [registry.name]
    assert "missing required column(s) NIK" in refused.loc[0, "reason"]
    assert str(refused.loc[0, "stale_since"])[:10] == "2026-11-01"
    audit = rows_of(url, "SELECT status, message FROM run_audit ORDER BY finished_at")
    assert audit["status"].iloc[-1] == "success"
    assert audit["message"].iloc[-1].startswith("dukcapil stale since 2026-11-01")
    assert any("dukcapil_raw.current_snapshot: FAILED" in line for line in out)
    assert any(
        line.startswith("  STALE dukcapil: stays on dukcapil_6309_20261101.csv of 2026-11-01")
        for line in out
    ), out
    linked = rows_of(url, "SELECT DISTINCT source_file FROM resident_link")["source_file"]
    assert set(linked) == set(current.values())

    store = Warehouse(url)
    try:
        page = build_report(store, tmp_path / "report").read_text(encoding="utf-8")
    finally:
        store.dispose()
    stale = page.split("<h2>Stale sources</h2>")[1].split("<h2>")[0]
    assert registry.name in stale and current["dukcapil"] in stale and "2026-11-01" in stale
    exported = pd.read_csv(tmp_path / "report" / "stale_sources.csv")
    assert list(exported["source"]) == ["dukcapil"]


def test_a_file_with_far_fewer_rows_is_refused_with_both_counts(tmp_path, published_region):
    with published_region("duckdb", tmp_path / "landing", people=300, seed=31) as made:
        _refused_with_both_counts(_next_folder(tmp_path, "shrunk"), made.url)


def _refused_with_both_counts(landing: Path, url: str) -> None:
    voters = next(landing.glob("kpu_*"))
    lines = voters.read_text(encoding="utf-8").splitlines()
    voters.write_text("\n".join(lines[:11]) + "\n", encoding="utf-8")
    before = rows_of(url, "SELECT rows_read FROM load_audit WHERE current AND source = 'kpu'")

    assert not run_pipeline(landing, url, None, echo=lambda _: None)

    reason = rows_of(url, "SELECT reason FROM refused_file")["reason"].iloc[0]
    assert f"holds 10 rows, the current snapshot kpu_dpt_6309_{OLD}.csv" in reason
    assert f"{int(before['rows_read'].iloc[0]):,}" in reason
    assert _current(url)["kpu"].endswith(f"{OLD}.csv")


def test_a_region_with_no_earlier_snapshot_still_fails(tmp_path, generated):
    generated(tmp_path / "landing", region="6309", people=300, seed=5)
    registry = next((tmp_path / "landing").glob("dukcapil_*"))
    registry.write_bytes(b"NAMA_LGKP|ALAMAT\nBUDI|JL. MAWAR\n")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    assert not run_pipeline(tmp_path / "landing", url, None, echo=lambda _: None)
    assert rows_of(url, "SELECT count(*) AS n FROM resident")["n"].iloc[0] == 0
    assert rows_of(url, "SELECT count(*) AS n FROM refused_file")["n"].iloc[0] == 0


def test_rows_read_that_do_not_reconcile_with_the_lines_stop_the_region(
    tmp_path, monkeypatch, generated
):
    """The line count is a blocking check of its own: were the reader to lose a line, nothing
    of the region would be published."""
    from connectors.agencies import extract

    scan = extract._scan

    def one_line_more(path):  # type: ignore[no-untyped-def]
        found = scan(path)
        return extract._Scan(found.checksum, found.line_break, found.lines + 1)

    monkeypatch.setattr(extract, "_scan", one_line_more)
    generated(tmp_path / "landing", region="6309", people=300, seed=6)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    out: list[str] = []
    assert not run_pipeline(tmp_path / "landing", url, None, echo=out.append)
    assert any("line_accounting" in line for line in out), out
    assert rows_of(url, "SELECT count(*) AS n FROM resident")["n"].iloc[0] == 0
