"""The auditor's report: offline HTML with charts (rendered in headless Chromium), CSVs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.parse
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from connectors.report.charts import histogram
from connectors.report.page import ROWS_PER_KIND, _scores_note, build_report, safe_cell
from connectors.warehouse.engine import Warehouse
from matching.discrepancies import KINDS
from pipelines.cli import main, run_pipeline


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI; .ci/run installs it")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


#: Chromium with no network: every host name fails to resolve, and any request that still
#: tries goes to a proxy nobody listens on.
_OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]


def _probe(page: Path, script: str, profile: Path, width: int = 1400) -> dict:
    """Open ``page`` in headless Chromium without a network, and return what ``script`` (the
    body of a function run once the page has loaded, returning a JSON-able value) found.

    The script runs in a copy of the page beside it, so relative links resolve as for the
    page itself; its result comes back in the dumped DOM."""
    copy = page.with_name(f".probe-{page.name}")
    probe = (
        "<script>window.addEventListener('load', function () { setTimeout(function () {"
        f"var found = (function () {{ {script} }})();"
        "document.title = 'PROBE:' + JSON.stringify(found); }, 300); });</script>"
    )
    text = page.read_text(encoding="utf-8")
    copy.write_text(text.replace("</body>", probe + "</body>"), encoding="utf-8")
    try:
        result = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             *_OFFLINE, f"--window-size={width},900", "--virtual-time-budget=10000",
             f"--user-data-dir={profile}", "--dump-dom", copy.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        copy.unlink()
    found = re.search(r"<title>PROBE:(.*?)</title>", result.stdout, re.DOTALL)
    assert found, result.stderr[-2000:]
    return json.loads(unescape(found.group(1)))


@pytest.fixture(scope="module")
def report(tmp_path_factory, generated):
    base = tmp_path_factory.mktemp("report")
    generated(base / "landing", region="6309", people=1500, seed=4)
    url = f"duckdb:///{base / 'w.duckdb'}"
    assert run_pipeline(base / "landing", url, None, echo=lambda _: None)
    store = Warehouse(url)
    path = build_report(store, base / "out")
    findings = store.read_table("discrepancy")
    store.dispose()
    return path, findings, url


def test_exports_hold_every_finding_with_its_source_rows(report):
    path, findings, _ = report
    exported = pd.read_csv(path.parent / "discrepancy.csv")
    assert len(exported) == len(findings) > 0
    assert exported["source_rows"].str.contains(r"\.csv:\d+").all()
    for name in ("load_audit", "coverage_by_kecamatan", "discrepancy_by_kecamatan", "quality"):
        assert (path.parent / f"{name}.csv").stat().st_size > 0
    quality = pd.read_csv(path.parent / "quality.csv")
    assert set(quality["status"]) <= {"passed", "warning", "failed"} and len(quality) == 6
    for export in path.parent.glob("*.csv"):  # nothing a spreadsheet would run as a formula
        cells = pd.read_csv(export, dtype=str, keep_default_na=False).to_numpy().ravel()
        assert not [c for c in cells if c[:1] in ("=", "+", "@")], export.name


def test_each_verdict_links_its_own_data_docs_page(report):
    """Every suite's verdict names the page of its own validation in the run, and the report
    links those pages by relative paths."""
    path, *_ = report
    quality = pd.read_csv(path.parent / "quality.csv")
    pages = [Path(page) for page in quality["data_docs"]]
    assert len(set(pages)) == len(quality) == 6
    for suite, page in zip(quality["suite"], pages, strict=True):
        assert page.is_file() and f"/validations/{suite}/" in page.as_posix()
    links = [link for link in re.findall(r'href="([^"]+)"', path.read_text(encoding="utf-8"))
             if "validations/" in link]  # fmt: skip
    assert len(links) == 6 and not [link for link in links if ":" in link]
    linked = {(path.parent / urllib.parse.unquote(link)).resolve() for link in links}
    assert linked == {page.resolve() for page in pages}


def test_page_renders_with_its_charts_in_headless_chromium(report, tmp_path):
    path, *_ = report
    result = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    dom = result.stdout
    assert "padu audit report" in dom
    assert dom.count("<svg") >= 3  # findings per kind, coverage, match scores
    assert dom.count("<rect") > 10
    assert "Load accounting per file" in dom and "Data Docs" in dom


def test_no_identifier_in_the_report(report):
    import re

    path, *_ = report
    landing = path.parent.parent / "landing"
    raw = pd.read_csv(next(landing.glob("dukcapil_*.csv")), sep="|", dtype=str)
    identifiers = set(raw["NIK"]) | set(raw["NO_KK"])
    for page in path.parent.iterdir():
        found = set(re.findall(r"\d{16}", page.read_text(encoding="utf-8")))
        assert not (found & identifiers), page.name


def test_formula_like_cells_are_not_passed_on_as_formulas():
    assert safe_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert safe_cell("+1") == "'+1" and safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("BUDI") == "BUDI" and safe_cell(5) == 5


def test_findings_are_listed_per_kind_most_serious_first(report):
    """Each kind of finding has its own heading with its count and its own first rows, in
    the order of seriousness (KINDS), so the voter findings are not buried under hundreds of
    BPS rows."""
    path, findings, _ = report
    html = path.read_text(encoding="utf-8")
    counts = findings["kind"].value_counts()
    sections = re.findall(
        r"<h4 id='kind-([a-z_]+)'><code>[a-z_]+</code>: ([\d,]+) findings?</h4>(.*?)(?=<h4|<h2)",
        html,
        re.DOTALL,
    )
    assert [kind for kind, _, _ in sections] == [k for k in KINDS if counts.get(k, 0)]
    assert len(sections) >= 4  # the region has findings of several kinds
    for kind, count, body in sections:
        assert int(count.replace(",", "")) == counts[kind]
        shown = re.findall(r"<tr><td>R[0-9a-f]+</td>", body)
        assert len(shown) == min(counts[kind], ROWS_PER_KIND), kind
        if counts[kind] > ROWS_PER_KIND:
            assert f"{counts[kind] - ROWS_PER_KIND:,} more rows of this kind" in body
    # The export keeps every finding, in the same order.
    exported = pd.read_csv(path.parent / "discrepancy.csv")
    rank = exported["kind"].map({k: i for i, k in enumerate(KINDS)})
    assert rank.is_monotonic_increasing


def test_counts_print_as_whole_numbers(report):
    """Counts the database sums as floats (coverage per kecamatan) print as integers, in the
    page and in the CSVs."""
    path, *_ = report
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"<td>[\d,]+\.0+</td>", html)
    coverage = pd.read_csv(path.parent / "coverage_by_kecamatan.csv", dtype=str)
    assert (
        len(coverage) and not coverage.map(lambda v: bool(re.fullmatch(r"\d+\.0+", v))).any().any()
    )
    assert re.search(r"<td>\d{1,3}(,\d{3})*</td>", html)


def test_histogram_shows_small_bands_on_a_log_scale():
    """A band of 2 rows next to one of 50,000 is drawn (log scale), with gridlines at powers
    of ten; bands of 0 rows stay empty; the values below the first edge have a bar of their
    own."""
    edges = [0.5 + 0.02 * i for i in range(26)]
    counts = [0] * 18 + [2, 1, 0, 0, 2, 13, 49_350]
    svg = histogram("scores", edges, counts, below=6)
    drawn = re.findall(r'height="([\d.]+)" fill="[^"]+"><title>[^<]*: ([\d,]+)</title>', svg)
    bars = [(float(h), int(n.replace(",", ""))) for h, n in drawn]
    assert len(bars) == 26
    assert all(h >= 3 for h, n in bars if n > 0) and all(h == 0 for h, n in bars if n == 0)
    heights = dict((n, h) for h, n in bars)
    assert heights[2] < heights[13] < heights[49_350] and heights[2] > 0.05 * heights[49_350]
    assert "log scale" in svg and ">10,000</text>" in svg and "&lt;0.50" in svg


def test_the_score_note_says_what_joined_the_rows_below_the_match_level():
    linked = pd.DataFrame(
        {
            "link_method": ["nik", "probabilistic", "double_registration", "review_decision"],
            "link_score": [1.0, 0.97, 0.02, 1.0],
        }
    )
    note = _scores_note(linked)
    assert (
        "4 linked rows" in note
        and "Below 0.95 (1 rows): 1 joined by the double-registration rule" in note
    )
    assert "reviewer&#x27;s decision score 1.00" in note
    assert "No row scores below 0.95" in _scores_note(linked[linked["link_score"] > 0.5])


def test_wide_tables_scroll_and_chart_labels_fit_in_chromium(report, tmp_path):
    """In a real browser: the page is no wider than the window (wide tables scroll inside
    their own box instead of being cut off), and every chart label lies inside its chart."""
    path, *_ = report
    found = _probe(
        path,
        """
        var boxes = Array.from(document.querySelectorAll('table')).map(function (t) {
          var box = t.parentElement;
          return {wide: box.classList.contains('wide'), overflow: getComputedStyle(box).overflowX,
                  scrolls: box.scrollWidth > box.clientWidth};
        });
        var labels = [];
        document.querySelectorAll('svg.chart').forEach(function (svg) {
          var width = svg.getBoundingClientRect();
          svg.querySelectorAll('text').forEach(function (t) {
            var r = t.getBoundingClientRect();
            labels.push({text: t.textContent, inside: r.left >= width.left - 0.5
                         && r.right <= width.right + 0.5});
          });
        });
        return {page: document.documentElement.scrollWidth, window: window.innerWidth,
                boxes: boxes, labels: labels};
        """,
        tmp_path / "profile",
        width=1024,
    )
    assert found["page"] <= found["window"]
    assert found["boxes"] and all(b["wide"] and b["overflow"] == "auto" for b in found["boxes"])
    assert any(b["scrolls"] for b in found["boxes"])  # the per-kecamatan table, at least
    assert [label for label in found["labels"] if not label["inside"]] == []
    assert any(label["text"] == "1.00" for label in found["labels"])


def _docs_root(page: Path) -> Path:
    return next(p for p in page.parents if (p / "validations").is_dir())


def test_data_docs_render_offline_in_chromium(report, tmp_path):
    """With no network, the Data Docs index lists the run's validations (its table is built by
    bootstrap-table, a script the site now holds), and the pages' styles load from local
    files in the site; no page asks a CDN for anything."""
    path, *_ = report
    quality = pd.read_csv(path.parent / "quality.csv")
    page = Path(quality["data_docs"].iloc[0])
    docs = _docs_root(page)
    for html in docs.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert not re.search(r'<script[^>]+src="https?:', text), html
        assert not re.search(r'<link[^>]+rel="stylesheet"[^>]+href="https?:', text), html
        assert not re.search(r'href="https?:[^"]+"[^>]+rel="stylesheet"', text), html
        assert "amazonaws.com" not in text, html
    check = """
        var sheets = Array.from(document.querySelectorAll('link[rel="stylesheet"]'))
          .map(function (l) { return l.href; });
        var nav = document.querySelector('nav');
        return {sheets: sheets, nav: nav ? getComputedStyle(nav).display : null,
                rows: document.querySelectorAll('table tbody tr[data-index]').length,
                text: document.body.innerText,
                table: typeof (window.jQuery && window.jQuery.fn.bootstrapTable)};
    """
    index = _probe(docs / "index.html", check, tmp_path / "index")
    assert index["table"] == "function" and index["rows"] > 0
    for suite in quality["suite"]:
        assert suite in index["text"]
    for found in (index, _probe(page, check, tmp_path / "page")):
        assert found["sheets"] and all(s.startswith("file:") for s in found["sheets"])
        assert found["nav"] == "flex"  # Bootstrap's navbar style applied: it loaded


@pytest.mark.parametrize(
    "command",
    [
        ["report", "--out", "{base}/out"],
        ["review", "list"],
        ["review", "decide", "a.csv:1", "b.csv:2", "match", "--by", "t"],
        ["evaluate", "--truth", "{base}/truth.csv"],
        ["purge", "--source", "kpu", "--before", "2026-01-01"],
        ["rekey", "--new-key-file", "{base}/new.key"],
    ],
)
def test_commands_that_read_a_warehouse_refuse_one_that_does_not_exist(
    command, tmp_path, monkeypatch
):
    """Given a DuckDB path with no file, a command that reads the warehouse names the path
    and fails, instead of creating an empty warehouse and reporting on nothing."""
    monkeypatch.setenv("PADU_PSEUDONYM_KEY", "k" * 40)
    (tmp_path / "truth.csv").write_text("file,row,person_id\n")
    (tmp_path / "new.key").write_text("n" * 40)
    missing = tmp_path / "nowhere" / "w.duckdb"
    args = [a.replace("{base}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(main, [*args, "--warehouse", f"duckdb:///{missing}"])
    assert result.exit_code != 0
    assert f"no warehouse at {missing}" in result.output
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("spelling", ["6309", "63.09"])
def test_a_region_is_found_whichever_way_its_code_is_written(report, tmp_path, spelling):
    *_, url = report
    out = tmp_path / spelling
    result = CliRunner().invoke(
        main, ["report", "--warehouse", url, "--region", spelling, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out / "discrepancy.csv", dtype={"region": "string"})
    assert len(exported) > 0 and set(exported["region"]) == {"63.09"}
