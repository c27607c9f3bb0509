"""Data-quality suites (expectations/): clean data passes, each rule catches data broken on
purpose, and no NIK or KK number reaches a result or the Data Docs.

Great Expectations is slow to import and to set up, so every suite of this module runs in two
batched calls of ``run_suites`` (one for the clean data, one for all broken variants), shared
through module-scoped fixtures.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors.agencies import standardise_folder
from expectations.nik import date_matches, encoded_differences, region_known, structure_ok
from expectations.rules import SuiteSpec
from expectations.runner import SuiteResult, run_suites
from expectations.settings import QualitySettings, Range, load_settings
from expectations.suites import (
    all_suites,
    coverage_frame,
    coverage_suite,
    records_suite,
    resident_link_suite,
    resident_suite,
)
from matching.linkage import default_linker
from matching.resident import build_residents

PEOPLE = 2500
KEY = b"test-key"
SNAPSHOT = pd.Timestamp("2026-11-01")
# Kecamatan of a 2,500-person region hold ~200 people: judge them all.
SETTINGS = QualitySettings.from_mapping({"coverage_min_registry_persons": 50})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, generated) -> dict[str, pd.DataFrame]:
    base = tmp_path_factory.mktemp("quality")
    generated(base / "landing", region="6309", people=PEOPLE, seed=21)
    records = standardise_folder(base / "landing")
    result = default_linker().link(records)
    residents, ids = build_residents(records, result.clusters, KEY)
    links = pd.DataFrame(
        {
            "source": records["source"],
            "source_file": records["source_file"],
            "source_row": records["source_row"],
            "resident_id": ids.astype("string"),
            "link_method": result.clusters["link_method"].astype("string"),
            "link_score": result.clusters["link_score"],
        }
    )
    return {"records": records, "residents": residents, "links": links}


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docs") / "quality"


@pytest.fixture(scope="module")
def clean_results(data, docs_dir) -> dict[str, SuiteResult]:
    specs = all_suites(data["records"], data["residents"], data["links"], SETTINGS)
    return {r.name: r for r in run_suites(specs, docs_dir=docs_dir)}


def test_suites_pass_on_clean_generated_data(clean_results):
    assert set(clean_results) == {
        "records_dukcapil", "records_kpu", "records_bps", "resident", "resident_link",
        "coverage",
    }  # fmt: skip
    for result in clean_results.values():
        failed = [(o.rule, o.unexpected_percent, o.error) for o in result.results if not o.success]
        assert result.status == "passed", (result.name, failed)
        assert all(o.error is None for o in result.results)


def test_results_carry_counts_severity_and_data_docs(clean_results, docs_dir):
    kpu = clean_results["records_kpu"]
    assert kpu.rows > 0 and kpu.data_docs_index == docs_dir.resolve() / "index.html"
    assert kpu.data_docs_index.is_file()
    by_rule = {o.rule: o for o in kpu.results}
    assert by_rule["nik_structure"].severity == "blocking"
    assert by_rule["nik_date_matches"].severity == "warning"
    # Generated voter lists carry a few planted NIK problems: counted, not fatal.
    assert by_rule["nik_date_matches"].unexpected_count > 0
    assert by_rule["nik_date_matches"].expectation_type == "expect_column_values_to_be_in_set"
    assert by_rule["nik_date_matches"].column == "nik_date_matches"
    meta = kpu.metadata()
    assert meta["status"] == "passed" and "warning:nik_date_matches unexpected %" in meta
    html = list(docs_dir.rglob("*.html"))
    assert any("records_kpu" in p.name for p in html)
    # The result names the page of its own validation, not the site's index.
    page = kpu.data_docs_page
    assert page is not None and page.is_file() and page != kpu.data_docs_index
    assert page.is_relative_to(docs_dir.resolve() / "validations" / "records_kpu")
    assert meta["data_docs"] == str(page) and meta["data_docs_index"] == str(kpu.data_docs_index)


def _small_suite(name: str) -> SuiteSpec:
    from expectations.rules import Rule, Severity

    rule = Rule(
        "code_known",
        "ExpectColumnValuesToBeInSet",
        {"column": "code", "value_set": ["a", "b"]},
        Severity.BLOCKING,
        "known code",
    )
    return SuiteSpec(name, pd.DataFrame({"code": ["a", "b", "a"]}), (rule,))


def test_data_docs_keep_every_suite_of_every_run(tmp_path):
    """Each call adds its validations to the site: the pages of the suites and runs before it
    stay, each result names its own page, and the index links every one of them."""
    docs = tmp_path / "docs"
    first = run_suites([_small_suite("alpha"), _small_suite("beta")], docs_dir=docs,
                       run_name="run-one")  # fmt: skip
    second = run_suites([_small_suite("beta"), _small_suite("gamma")], docs_dir=docs,
                        run_name="run-two")  # fmt: skip
    results = [*first, *second]
    pages = [r.data_docs_page for r in results]
    assert all(p is not None for p in pages) and len(set(pages)) == 4
    index = (docs / "index.html").read_text(encoding="utf-8")
    for result, page in zip(results, pages, strict=True):
        assert page is not None and page.is_file(), page
        assert result.data_docs_index == docs.resolve() / "index.html"
        relative = page.relative_to(docs.resolve())
        assert relative.parts[:2] == ("validations", result.name)
        assert relative.as_posix() in index
    run_names = [p.relative_to(docs.resolve()).parts[2] for p in pages if p is not None]
    assert run_names == ["run-one", "run-one", "run-two", "run-two"]
    # Both runs of suite beta are listed, and every suite's page of expectations is kept.
    assert {p.stem for p in (docs / "expectations").glob("*.html")} == {"alpha", "beta", "gamma"}


def test_data_docs_builds_compile_the_page_templates_once_per_process(tmp_path, monkeypatch):
    """A later build reuses the templates an earlier one compiled (every build makes new Jinja
    environments) and renders the same page."""
    import jinja2

    docs = tmp_path / "docs"
    (first,) = run_suites([_small_suite("alpha")], docs_dir=docs, run_name="run-one")
    compiled: list[str] = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[no-untyped-def]
        compiled.append(name)
        return original(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    (second,) = run_suites([_small_suite("alpha")], docs_dir=tmp_path / "other", run_name="run-one")
    assert compiled == []
    assert first.data_docs_page is not None and second.data_docs_page is not None

    def page(path: Path) -> str:  # the same page but for the times and IDs in it
        return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d{8}T\d{6}\.\d+Z|\d{4}-\d\d-\d\d[T ][\d:.]+",
                      "", path.read_text(encoding="utf-8"))  # fmt: skip

    assert page(first.data_docs_page) == page(second.data_docs_page)


# --- each rule fails on data broken on purpose ----------------------------------------------

Frames = dict[str, pd.DataFrame]


def _rows(frame: pd.DataFrame, source: str, share: float = 1.0, at_least: int = 1) -> pd.Index:
    index = frame.index[frame["source"] == source] if "source" in frame else frame.index
    count = max(at_least, int(round(share * len(index))))
    return index[np.linspace(0, len(index) - 1, count).astype(int)]


def _set(column: str, value, source: str, share: float = 0.0):  # type: ignore[no-untyped-def]
    def change(d: Frames) -> None:
        records = d["records"]
        rows = _rows(records, source, share)
        records.loc[rows, column] = value

    return change


def _nik_digits(positions: slice, text: str, source: str = "dukcapil", share: float = 0.05):  # type: ignore[no-untyped-def]
    """Overwrite some digits of a share of the usable NIKs."""

    def change(d: Frames) -> None:
        records = d["records"]
        rows = records.index[(records["source"] == source) & records["nik"].notna()]
        rows = rows[:: max(1, int(1 / share))]
        nik = records.loc[rows, "nik"].astype(str)
        records.loc[rows, "nik"] = (
            nik.str.slice(0, positions.start) + text + nik.str.slice(positions.stop)
        )

    return change


def _shift_birth_years(d: Frames) -> None:
    records = d["records"]
    rows = _rows(records, "dukcapil", 0.1)
    records.loc[rows, "birth_date"] = records.loc[rows, "birth_date"] - pd.DateOffset(years=1)


def _duplicate_row(frame_name: str, source: str | None = None):  # type: ignore[no-untyped-def]
    def change(d: Frames) -> None:
        frame = d[frame_name]
        row = frame[frame["source"] == source].iloc[[0]] if source else frame.iloc[[0]]
        d[frame_name] = pd.concat([frame, row], ignore_index=True)

    return change


def _set_in(frame_name: str, column: str, value, rows: int = 1):  # type: ignore[no-untyped-def]
    def change(d: Frames) -> None:
        frame = d[frame_name]
        frame.loc[frame.index[:rows], column] = value

    return change


def _drop_kpu_half(d: Frames) -> None:
    records = d["records"]
    kpu = records.index[records["source"] == "kpu"]
    d["records"] = records.drop(kpu[::2])


def _double_bps(d: Frames) -> None:
    records = d["records"]
    d["records"] = pd.concat([records, records[records["source"] == "bps"]], ignore_index=True)


def _no_source(d: Frames) -> None:
    for column in ("in_dukcapil", "in_kpu", "in_bps"):
        d["residents"].loc[d["residents"].index[:3], column] = False


def _records(source: str) -> Callable[[Frames], SuiteSpec]:
    return lambda d: records_suite(d["records"], source, SETTINGS)


def _resident(d: Frames) -> SuiteSpec:
    return resident_suite(d["residents"], d["links"]["resident_id"], SETTINGS, snapshot=SNAPSHOT)


def _resident_link(d: Frames) -> SuiteSpec:
    return resident_link_suite(d["links"], d["residents"]["resident_id"], SETTINGS)


def _coverage(d: Frames) -> SuiteSpec:
    return coverage_suite(d["records"], SETTINGS)


DUK, KPU, BPS = _records("dukcapil"), _records("kpu"), _records("bps")
B, W = "blocking", "warning"

# (case id, suite builder, breakage, rule that must fail, its severity)
BROKEN: list[tuple[str, Callable[[Frames], SuiteSpec], Callable[[Frames], None], str, str]] = [
    ("nik_kab_00", DUK, _nik_digits(slice(2, 4), "00"), "nik_structure", B),
    ("nik_kec_00", KPU, _nik_digits(slice(4, 6), "00", "kpu"), "nik_structure", B),
    ("nik_month_13", DUK, _nik_digits(slice(8, 10), "13"), "nik_structure", B),
    ("nik_day_35", BPS, _nik_digits(slice(6, 8), "35", "bps"), "nik_structure", B),
    ("nik_serial_0000", DUK, _nik_digits(slice(12, 16), "0000"), "nik_structure", B),
    ("nik_province_unknown", DUK, _nik_digits(slice(0, 2), "10"), "nik_structure", B),
    ("nik_region_unknown", DUK, _nik_digits(slice(2, 4), "98", share=0.1), "nik_region_known", W),
    ("nik_date_mismatch", DUK, _shift_birth_years, "nik_date_matches", W),
    ("nik_sex_mismatch", KPU, _set("sex", "F", "kpu", 0.2), "nik_date_matches", W),
    ("desa_unknown", DUK, _set("desa_code", "63.09.99.9999", "dukcapil", 0.05),
     "desa_code_known", B),
    ("birth_1850", BPS, _set("birth_date", pd.Timestamp("1850-01-01"), "bps", 0.01),
     "birth_date_plausible", B),
    ("age_121", DUK, _set("birth_date", pd.Timestamp("1905-01-01"), "dukcapil", 0.01),
     "age_plausible", W),
    ("sex_code", KPU, _set("sex", "X", "kpu"), "sex_code", B),
    ("marital_code", BPS, _set("marital_status", "married", "bps"), "marital_status_code", B),
    ("religion_code", DUK, _set("religion", 9, "dukcapil"), "religion_code", B),
    ("occupation_code", DUK, _set("occupation", 120, "dukcapil"), "occupation_code", B),
    ("alive_missing", DUK, _set("alive", pd.NA, "dukcapil"), "alive_known", B),
    ("disability_code", KPU, _set("disability", 9, "kpu"), "disability_code", B),
    ("records_row_key", KPU, _duplicate_row("records", "kpu"), "row_key_unique", B),
    ("resident_id_duplicate", _resident, _duplicate_row("residents"), "resident_id_unique", B),
    ("resident_id_null", _resident, _set_in("residents", "resident_id", pd.NA),
     "resident_id_not_null", B),
    ("resident_sex", _resident, _set_in("residents", "sex", "X"), "sex_code", B),
    ("resident_birth", _resident, _set_in("residents", "birth_date", pd.Timestamp("2030-01-01"),
                                          rows=20), "birth_date_plausible", B),
    ("resident_desa", _resident, _set_in("residents", "desa_code", "99.99.99.9999", rows=100),
     "desa_code_known", B),
    ("resident_domicile", _resident,
     _set_in("residents", "domicile_desa_code", "63.09.01.0000", rows=100),
     "domicile_desa_code_known", B),
    ("resident_no_source", _resident, _no_source, "in_some_source", B),
    ("resident_zero_rows", _resident, _set_in("residents", "source_rows", 0), "source_rows", B),
    ("resident_without_links", _resident, _set_in("residents", "resident_id", "R-nobody"),
     "has_links", B),
    ("link_resident_null", _resident_link, _set_in("links", "resident_id", pd.NA),
     "resident_id_not_null", B),
    ("link_resident_unknown", _resident_link, _set_in("links", "resident_id", "R-unknown"),
     "resident_known", B),
    ("link_row_key", _resident_link, _duplicate_row("links"), "row_key_unique", B),
    ("link_source", _resident_link, _set_in("links", "source", "dinsos"), "source", B),
    ("link_method", _resident_link, _set_in("links", "link_method", "guess"), "link_method", B),
    ("link_score", _resident_link, _set_in("links", "link_score", 150.0), "link_score", B),
    ("coverage_kpu_low", _coverage, _drop_kpu_half, "kpu_per_dukcapil_adult", W),
    ("coverage_bps_high", _coverage, _double_bps, "bps_per_dukcapil", W),
]  # fmt: skip


@pytest.fixture(scope="module")
def broken_results(data, docs_dir) -> dict[str, SuiteResult]:
    specs = []
    for case, build, breakage, _, _ in BROKEN:
        frames = {name: frame.copy() for name, frame in data.items()}
        breakage(frames)
        spec = build(frames)
        specs.append(dataclasses.replace(spec, name=f"{spec.name}__{case}"))
    return {r.name.split("__")[1]: r for r in run_suites(specs, docs_dir=docs_dir)}


@pytest.mark.parametrize(
    ("case", "rule", "severity"),
    [(c, r, s) for c, _, _, r, s in BROKEN],
    ids=[c[0] for c in BROKEN],
)
def test_each_rule_fails_on_broken_data(broken_results, case, rule, severity):
    result = broken_results[case]
    outcome = {o.rule: o for o in result.results}[rule]
    assert not outcome.success, (case, outcome)
    assert outcome.error is None, outcome.error
    assert outcome.severity == severity
    if severity == "blocking":
        assert not result.passed and rule in result.failed_blocking
        assert result.status == "failed"
    else:
        assert result.passed and rule in result.warnings and result.status == "warning"


# --- personal data ---------------------------------------------------------------------------

_DIGITS = re.compile(r"\d{16,}")
_WORDS = re.compile(r"[A-Za-z0-9_-]{8,}")


def _leaked(text: str, identifiers: set[str]) -> set[str]:
    found = set()
    for run in _DIGITS.findall(text):
        found |= {run[i : i + 16] for i in range(len(run) - 15)} & identifiers
    return found


@pytest.fixture(scope="module")
def canary_result(data, docs_dir) -> SuiteResult:
    """A suite that does validate raw NIKs and fails on every one of them: the result format
    alone must keep them out of results and Data Docs."""
    records = data["records"]
    from expectations.rules import Rule, Severity

    spec = SuiteSpec(
        "canary_raw_identifiers",
        pd.DataFrame({"nik": records["nik"].astype(str), "kk": records["kk"].astype(str)}),
        (
            Rule("nik_in_empty_set", "ExpectColumnValuesToBeInSet",
                 {"column": "nik", "value_set": ["x"]}, Severity.BLOCKING, "canary"),
            Rule("kk_unique", "ExpectColumnValuesToBeUnique", {"column": "kk"},
                 Severity.BLOCKING, "canary"),
            # Comparing text with numbers raises inside GX: reported as a failure with its
            # error, and the error must not carry values either.
            Rule("kk_between", "ExpectColumnValuesToBeBetween",
                 {"column": "kk", "min_value": 0, "max_value": 1}, Severity.WARNING, "canary"),
        ),
    )  # fmt: skip
    (result,) = run_suites([spec], docs_dir=docs_dir)
    return result


def test_no_nik_or_kk_in_results_or_data_docs(
    data, docs_dir, clean_results, broken_results, canary_result
):
    records = data["records"]
    identifiers = set(records["nik"].dropna()) | set(records["kk"].dropna())
    assert len(identifiers) > PEOPLE
    # Resident IDs are not personal data, but failing ones must not be listed either.
    resident_ids = set(data["residents"]["resident_id"]) | {"R-nobody", "R-unknown"}
    assert not canary_result.passed  # it did see them, and failed on them
    raised = {o.rule: o for o in canary_result.results}["kk_between"]
    assert not raised.success and raised.error
    results = [*clean_results.values(), *broken_results.values(), canary_result]
    serialised = json.dumps([r.to_dict() for r in results], default=str)
    assert not _leaked(serialised, identifiers)
    assert not set(_WORDS.findall(serialised)) & resident_ids
    files = [p for p in docs_dir.rglob("*") if p.is_file()]
    assert len(files) > 10
    pages = 0
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        assert not _leaked(text, identifiers), path
        assert not set(_WORDS.findall(text)) & resident_ids, path
        pages += "canary_raw_identifiers" in text
    assert pages > 0  # the canary's page was written, and scanned


# --- the NIK rules themselves, and the settings -------------------------------------------


PROVINCES = frozenset({"63", "65", "93"})


@pytest.mark.parametrize(
    ("nik", "ok"),
    [
        ("6309013112850001", True),  # man, 31 December 1985
        ("6309017112850001", True),  # woman: day 31 + 40
        ("6509012902000001", True),  # 29 February in a year ending 00
        ("6309012902010001", False),  # 29 February 2001 does not exist
        ("6309013104850001", False),  # 31 April
        ("6309003112850001", False),  # kec 00
        ("6300013112850001", False),  # kab 00
        ("1009013112850001", False),  # province 10 does not exist
        ("6309013113850001", False),  # month 13
        ("6309013500850001", False),  # day 35, month 00
        ("6309017212850001", False),  # woman, day 32
        ("6309013112850000", False),  # serial 0000
        ("630901311285000", False),  # 15 digits
        ("63090131128500A1", False),  # not digits
        ("9309013112850001", True),  # Papua Selatan: a newer province, configured
    ],
)
def test_nik_structure_rules(nik, ok):
    assert structure_ok(pd.Series([nik]), PROVINCES).iloc[0] == ok


def test_nik_rules_leave_missing_values_open():
    niks = pd.Series(["6309013112850001", None], dtype="string")
    assert structure_ok(niks, PROVINCES).isna().tolist() == [False, True]
    assert region_known(niks, frozenset({"630901"})).tolist()[0] is True
    births = pd.Series([pd.Timestamp("1985-12-31"), pd.NaT])
    assert date_matches(niks, births, pd.Series(["M", "M"])).tolist()[0] is True
    assert pd.isna(date_matches(niks, births, pd.Series(["M", "M"])).iloc[1])


def test_nik_encoded_differences_name_the_part():
    niks = pd.Series(["6309013112850001"] * 4)
    births = pd.Series(pd.to_datetime(["1985-12-31", "1986-12-31", "1985-12-13", "1985-12-31"]))
    sexes = pd.Series(["M", "M", "M", "F"])
    diff = encoded_differences(niks, births, sexes)
    assert diff.astype(bool).to_numpy().tolist() == [
        [False, False, False, False],
        [False, False, True, False],
        [True, False, False, False],
        [False, False, False, True],
    ]


def test_settings_override_from_mapping_and_yaml(tmp_path):
    path = tmp_path / "quality.yaml"
    path.write_text(
        "kpu_per_dukcapil_adult: [0.75, 1.15]\n"
        "bps_per_dukcapil: {min: 0.85}\n"
        "nik_date_mismatch_max_share: {bps: 0.1}\n"
        "earliest_birth_date: 1880-01-01\n"
    )
    settings = load_settings(path)
    assert settings.kpu_per_dukcapil_adult == Range(0.75, 1.15)
    assert settings.bps_per_dukcapil == Range(0.85, 1.2)
    assert settings.nik_date_mismatch_for("bps") == 0.1
    assert settings.nik_date_mismatch_for("kpu") == 0.02
    assert settings.earliest_birth_date.year == 1880
    assert load_settings({"max_age": "110"}).max_age == 110
    with pytest.raises(ValueError, match="unknown quality settings"):
        load_settings({"kpu_per_dukcapil_adults": [0.7, 1.2]})
    with pytest.raises(ValueError, match="between 0 and 1"):
        load_settings({"nik_structure_min_share": 1.5})
    with pytest.raises(ValueError, match="above its maximum"):
        load_settings({"bps_per_dukcapil": [1.2, 0.8]})


def test_coverage_bounds_come_from_settings(data):
    frame = coverage_frame(data["records"], SETTINGS)
    assert frame["kpu_per_dukcapil_adult"].between(0.7, 1.2).all()
    strict = SETTINGS.override({"kpu_per_dukcapil_adult": [1.1, 1.3]})
    spec = coverage_suite(data["records"], strict)
    rule = {r.name: r for r in spec.rules}["kpu_per_dukcapil_adult"]
    assert (rule.kwargs["min_value"], rule.kwargs["max_value"]) == (1.1, 1.3)
    assert rule.severity == "warning"


def test_libraries_import_neither_great_expectations_nor_dagster():
    import subprocess
    import sys

    code = (
        "import sys, expectations.runner, expectations.suites, expectations.settings, "
        "matching.discrepancies; "
        "print(sorted(m for m in ('great_expectations', 'dagster') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
