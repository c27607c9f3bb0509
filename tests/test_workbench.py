"""padu serve on an embedded warehouse made by really running padu on a small generated region:
every page answers, source values are escaped, no NIK or KK reaches a page, every POST needs
its CSRF token, displays of personal fields are logged, the CSV export is formula-escaped,
and serving beyond this machine needs a token."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from connectors.warehouse.engine import Warehouse
from pipelines.cli import main, run_pipeline
from workbench import ServeRefused, ServeSettings, check_binding, create_app
from workbench.app import MAX_FORM

HOSTILE = "<script>window.pwned = 1</script>LESTARI"
#: As the registry's reader keeps it (names are upper-cased).
HOSTILE_READ = HOSTILE.upper()
#: A run of 16 digits: a NIK or KK number (no page may show one whole).
WHOLE_NUMBER = re.compile(r"(?<!\d)\d{16}(?!\d)")


def make_region(base: Path, generated) -> tuple[str, Path]:  # type: ignore[no-untyped-def]
    """A warehouse of the generated region (300 people, seed 23: it has pairs to review),
    its first registry row renamed to a hostile name; returns its URL and landing folder."""
    landing = base / "landing"
    generated(landing, people=300, seed=23)
    registry = next(landing.glob("dukcapil_*.csv"))
    lines = registry.read_text(encoding="utf-8").splitlines()
    fields = lines[1].split("|")
    fields[2] = HOSTILE
    lines[1] = "|".join(fields)
    registry.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = f"duckdb:///{base / 'w.duckdb'}"
    assert run_pipeline(landing, url, None, echo=lambda _: None)
    return url, landing


def query(url: str, sql: str, params: dict | None = None):  # type: ignore[no-untyped-def]
    store = Warehouse(url)
    try:
        return store.query(sql, params)
    finally:
        store.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


#: The workbench's address on this machine, as a browser there names it.
LOCAL = "http://127.0.0.1:8750"


@pytest.fixture(scope="module")
def served(tmp_path_factory, generated):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("workbench")
    url, _ = make_region(base, generated)
    app = create_app(ServeSettings(url))
    with TestClient(app, base_url=LOCAL) as client:
        yield url, client


def test_every_page_answers_without_identifiers(served):
    url, client = served
    resident_id = query(url, "SELECT resident_id FROM resident LIMIT 1").iloc[0, 0]
    for path in ("/", "/review", "/discrepancies", "/quality", f"/resident/{resident_id}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert not WHOLE_NUMBER.search(response.text), f"a whole NIK or KK on {path}"
        assert "content-security-policy" in response.headers
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "<script>" not in response.text.split("</head>")[1], path
    assert client.get("/resident/nobody").status_code == 404


def test_hostile_name_is_escaped(served):
    url, client = served
    row = query(
        url,
        "SELECT l.resident_id FROM resident_link l JOIN restricted.source_record r "
        "ON r.source_file = l.source_file AND r.source_row = l.source_row "
        "WHERE r.name_raw = :name",
        {"name": HOSTILE_READ},
    )
    assert len(row) == 1
    page = client.get(f"/resident/{row.iloc[0, 0]}").text
    assert "&lt;SCRIPT&gt;WINDOW.PWNED = 1&lt;/SCRIPT&gt;LESTARI" in page
    assert "<SCRIPT>" not in page.upper().split("</HEAD>")[1]


def test_review_pair_masks_identifiers_but_the_differing_digits(served):
    url, client = served
    page = client.get("/review").text
    nik_row = re.search(
        r"<th>NIK</th><td class=\"value\">([^<]*)</td><td class=\"value\">([^<]*)<", page
    )
    assert nik_row, "no NIK row in the pair view"
    for shown in nik_row.groups():
        assert shown == "none" or "•" in shown
        assert sum(c.isdigit() for c in shown) < 16
    assert "0 decided /" in page and "waterfall" in page
    assert 'data-key="m"' in page and 'data-key="n"' in page and 'data-key="u"' in page
    assert 'name="left_key"' in client.get("/review?region=63.09").text
    elsewhere = client.get("/review?region=63.10").text
    assert "Nothing to review" in elsewhere and "0 decided / 0 queued" in elsewhere


def test_posts_without_the_csrf_token_are_refused(served):
    url, client = served
    pair = query(url, "SELECT left_key, right_key FROM review_queue LIMIT 1").iloc[0]
    form = {"left_key": pair["left_key"], "right_key": pair["right_key"], "decision": "match"}
    for extra in ({}, {"csrf": "forged"}):
        response = client.post("/review/decide", data={**form, **extra}, follow_redirects=False)
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert query(url, "SELECT count(*) AS n FROM review_decision").iloc[0, 0] == 0


DECISIONS = "SELECT left_key, right_key, decision, note, decided_by FROM review_decision"
NOTE = '<b onclick="x()">twins?</b> ask the desa'


def test_a_decision_is_recorded_as_padu_review_records_it(served):
    url, client = served
    page = client.get("/review").text
    left = re.search(r'name="left_key" value="([^"]+)"', page).group(1)
    right = re.search(r'name="right_key" value="([^"]+)"', page).group(1)
    assert 'name="note"' in page
    # Unsure is stored with its note, and the pair goes after the undecided ones.
    client.post(
        "/review/decide",
        data={"csrf": csrf_of(page), "left_key": left, "right_key": right, "decision": "unsure",
              "note": f"  {NOTE}  "},
    )  # fmt: skip
    stored = query(url, DECISIONS)
    assert len(stored) == 1 and stored.iloc[0]["decision"] == "unsure"
    assert stored.iloc[0]["note"] == NOTE and stored.iloc[0]["decided_by"]
    after = client.get("/review").text
    shown = (
        re.search(r'name="left_key" value="([^"]+)"', after).group(1),
        re.search(r'name="right_key" value="([^"]+)"', after).group(1),
    )
    assert shown != (left, right)
    assert "0 decided /" in after and "1 marked unsure" in after
    # The pair shows the earlier reviewer's note, escaped, with who marked it.
    page = client.get(f"/review/pair?left={left}&right={right}").text
    assert "Marked unsure by" in page
    assert "&lt;b onclick=&#34;x()&#34;&gt;twins?&lt;/b&gt; ask the desa" in page
    assert "<b onclick" not in page
    response = client.post(
        "/review/decide",
        data={"csrf": csrf_of(page), "left_key": left, "right_key": right, "decision": "no_match"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    stored = query(url, DECISIONS)
    assert len(stored) == 1
    assert set(stored.iloc[0][["left_key", "right_key"]]) == {left, right}
    assert stored.iloc[0]["decision"] == "no_match" and stored.iloc[0]["decided_by"]
    assert stored.iloc[0]["note"] is None
    review = client.get("/review").text
    assert "1 decided /" in review and "1 marked unsure" not in review
    assert (
        client.post(
            "/review/decide",
            data={"csrf": csrf_of(page), "left_key": left, "right_key": right, "decision": "maybe"},
        ).status_code
        == 400
    )


def test_every_display_of_personal_fields_is_logged(served):
    url, client = served
    before = query(url, "SELECT count(*) AS n FROM access_log").iloc[0, 0]
    client.get("/review")
    after = query(url, "SELECT purpose, record_key, accessed_by FROM access_log")
    assert len(after) == before + 2
    assert set(after["purpose"].tail(2)) == {"review"}
    resident_id = query(url, "SELECT resident_id FROM resident WHERE source_rows = 3 LIMIT 1")
    client.get(f"/resident/{resident_id.iloc[0, 0]}")
    logged = query(url, "SELECT purpose FROM access_log")
    assert len(logged) == before + 2 + 3 and list(logged["purpose"]).count("resident") >= 3


def test_discrepancies_filter_page_and_export_formula_escaped(served):
    url, client = served
    store = Warehouse(url)
    try:
        store.append(
            "discrepancy",
            query(url, "SELECT * FROM discrepancy LIMIT 1").assign(
                kind="voter_duplicate", details='=HYPERLINK("http://x")'
            ),
        )
    finally:
        store.dispose()
    page = client.get("/discrepancies?kind=voter_duplicate").text
    kinds = set(re.findall(r"<tr>\s*<td>(\w+)</td>", page))
    assert kinds == {"voter_duplicate"}
    resident = re.search(r'class="resident" href="(/resident/[^"]+)"', page).group(1)
    assert client.get(resident).status_code == 200
    exported = client.get("/discrepancies.csv?kind=voter_duplicate")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["kind"] for r in rows} == {"voter_duplicate"}
    assert '\'=HYPERLINK("http://x")' in {r["details"] for r in rows}
    total = query(url, "SELECT count(*) AS n FROM discrepancy").iloc[0, 0]
    assert f"{total:,} findings" in client.get("/discrepancies").text
    # A page number typed by hand, however odd, shows a page of the list.
    last = f"page {max((total + 49) // 50, 1)} of"
    for odd in ("99999999999999999999", "-5", "x", "0"):
        shown = client.get(f"/discrepancies?page={odd}")
        assert shown.status_code == 200, odd
        assert ("page 1 of" in shown.text) or (last in shown.text), odd


def test_data_docs_and_the_report_are_served_to_signed_in_people(served, tmp_path):
    from connectors.report.page import build_report

    url, _ = served
    docs = Path(os.environ["PADU_QUALITY_DOCS"])
    store = Warehouse(url)
    try:
        build_report(store, tmp_path / "report")
    finally:
        store.dispose()
    settings = ServeSettings(url, token="s3cret", docs_dir=docs, report_dir=tmp_path / "report")
    with TestClient(create_app(settings)) as client:
        for path in ("/report/report.html", "/data-docs/index.html"):
            assert client.get(path, follow_redirects=False).status_code == 303
        form = client.get("/signin").text
        client.post("/signin", data={"csrf": csrf_of(form), "name": "siti", "secret": "s3cret"})
        overview = client.get("/").text
        assert 'href="/report/report.html"' in overview
        links = re.findall(r'href="(/data-docs/[^"]+)"', overview)
        assert links, "no verdict links to its Data Docs page"
        page = client.get(links[0])
        assert (
            page.status_code == 200 and "'unsafe-inline'" in page.headers["content-security-policy"]
        )
        assert client.get("/report/report.html").status_code == 200


def test_session_cookie_is_httponly_and_strict(tmp_path_factory, served):
    url, _ = served
    with TestClient(create_app(ServeSettings(url)), base_url=LOCAL) as fresh:
        cookie = fresh.get("/").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_without_a_sign_in_only_requests_to_this_machine_are_answered(served):
    """A page elsewhere pointing its own name at 127.0.0.1 (DNS rebinding) reads nothing."""
    url, _ = served
    app = create_app(ServeSettings(url))
    for base in ("http://127.0.0.1:8750", "http://localhost:8750", "http://[::1]:8750"):
        with TestClient(app, base_url=base) as client:
            assert client.get("/").status_code == 200, base
    with TestClient(app, base_url="http://attacker.example:8750") as client:
        refused = client.get("/")
        assert refused.status_code == 421 and "this machine only" in refused.text
        assert client.get("/discrepancies.csv").status_code == 421
    # With a token everybody signs in, and the cookie is the host's own: any name answers.
    with TestClient(create_app(ServeSettings(url, token="s3cret")),
                    base_url="http://padu.example") as client:  # fmt: skip
        assert client.get("/signin").status_code == 200


def test_off_this_machine_only_with_a_token(served):
    url, _ = served
    with pytest.raises(ServeRefused, match="token"):
        check_binding(ServeSettings(url, host="0.0.0.0"))
    check_binding(ServeSettings(url, host="0.0.0.0", token="s3cret"))
    result = CliRunner().invoke(
        main, ["serve", "--warehouse", url, "--host", "0.0.0.0"], env={"PADU_SERVE_TOKEN": ""}
    )
    assert result.exit_code != 0 and "refusing to serve" in result.output


def test_with_a_token_everyone_signs_in(served):
    url, _ = served
    with TestClient(create_app(ServeSettings(url, token="s3cret"))) as client:
        first = client.get("/review", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].startswith("/signin")
        form = client.get("/signin").text
        refused = client.post(
            "/signin", data={"csrf": csrf_of(form), "name": "siti", "secret": "wrong"}
        )
        assert refused.status_code == 401 and "wrong access token" in refused.text
        signed = client.post(
            "/signin",
            data={"csrf": csrf_of(refused.text), "name": "siti", "secret": "s3cret", "next": "/"},
        )
        assert signed.status_code == 200 and "signed in as <strong>siti</strong>" in signed.text
        # A sign-in goes on to a page of this site only.
        form = client.get("/signin").text
        elsewhere = client.post(
            "/signin",
            data={"csrf": csrf_of(form), "name": "siti", "secret": "s3cret",
                  "next": "//elsewhere.example/"},
            follow_redirects=False,
        )  # fmt: skip
        assert elsewhere.headers["location"] == "/"


def test_quality_sample_is_a_second_review_queue(served):
    """The clerical quality sample (connectors/warehouse/quality_sample.py) is labelled in the
    same side-by-side view, with a note, and its estimates are on /quality."""
    from connectors.warehouse import quality_sample

    url, client = served
    assert "Nothing to label in 63.09" in client.get("/quality/review").text
    store = Warehouse(url)
    try:
        quality_sample.draw_sample(store, "63.09", 12, seed=1, drawn_by="test")
    finally:
        store.dispose()
    page = client.get("/quality/review?region=63.09")
    assert page.status_code == 200 and 'class="pair"' in page.text
    assert not WHOLE_NUMBER.search(page.text)
    item = re.search(r'name="item_id" value="(\d+)"', page.text).group(1)
    labelled = client.post(
        "/quality/label",
        data={"csrf": csrf_of(page.text), "item_id": item, "region": "63.09",
              "decision": "no_match", "note": "different mother"},
    )  # fmt: skip
    assert labelled.status_code == 200
    stored = query(url, "SELECT label, note, decided_by FROM quality_item WHERE item_id = :i",
                   {"i": int(item)})  # fmt: skip
    assert list(stored.iloc[0][["label", "note"]]) == ["no_match", "different mother"]
    assert "quality" in set(query(url, "SELECT purpose FROM access_log")["purpose"])
    assert "precision" in client.get("/quality").text
    # A hand-made item number is refused as a request, not a fault.
    for odd in ("\u00b2", "9" * 40, "-1", ""):
        refused = client.post(
            "/quality/label",
            data={"csrf": csrf_of(page.text), "item_id": odd, "decision": "match"},
        )
        assert refused.status_code == 400 and "no such sample item" in refused.text, odd


def test_a_form_larger_than_any_page_sends_is_refused_unread(served):
    _, client = served
    page = client.get("/review").text
    huge = {"csrf": csrf_of(page), "note": "x" * (MAX_FORM + 1)}
    refused = client.post("/review/decide", data=huge)
    assert refused.status_code == 413


def test_findings_filter_on_the_residents_kecamatan_desa_and_tps(served):
    """Registered place, else where BPS found the person (as the statisticians' views)."""
    url, client = served
    seen = query(
        url,
        "SELECT d.resident_id, r.domicile_desa_code AS desa FROM discrepancy d "
        "JOIN resident r ON r.resident_id = d.resident_id "
        "WHERE d.kind = 'bps_not_in_registry' AND r.desa_code IS NULL LIMIT 1",
    ).iloc[0]
    desa, kec = seen["desa"], seen["desa"][:8]
    for name, value in (("desa", desa), ("kec", kec)):
        page = client.get(f"/discrepancies?kind=bps_not_in_registry&{name}={value}").text
        assert f"/resident/{seen['resident_id']}" in page
        assert set(re.findall(r"<td>(63\.09\.\d\d)(?:\.\d{4})? ", page)) == {kec}
    voter = query(
        url,
        "SELECT r.tps, count(*) AS n FROM discrepancy d JOIN resident r "
        "ON r.resident_id = d.resident_id WHERE r.tps IS NOT NULL GROUP BY r.tps LIMIT 1",
    ).iloc[0]
    page = client.get(f"/discrepancies?tps={voter['tps']}").text
    assert f"{voter['n']:,} findings" in page
    assert set(re.findall(r"</td><td>([^<]*)</td>\s*<td>[^<]*:", page)) == {voter["tps"]}


def test_quality_shows_the_candidate_pairs_of_each_blocking_rule(served):
    url, client = served
    page = client.get("/quality").text
    figures = query(url, "SELECT rule, candidate_pairs, new_pairs FROM linkage_blocking")
    assert len(figures) > 1 and "Candidate pairs per blocking rule" in page
    for row in figures.itertuples():
        assert f"<td>{row.rule}</td>" in page
    assert "<td>all (pairs scored)</td>" in page
    assert f"<td>{figures['new_pairs'].sum():,}</td>" in page
