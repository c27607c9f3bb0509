"""The auditor's report: one self-contained HTML page and CSV exports, readable offline.

It shows load accounting per file, the data-quality verdicts with links into Data Docs,
discrepancy counts per kind and kecamatan, coverage between the three sources and the
match-score distribution; every finding lists the resident and the source files and rows
behind it (also in ``discrepancy.csv``). No NIK or KK number is read.
"""

from __future__ import annotations

import csv
import os
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.report.charts import bar_chart, histogram
from connectors.warehouse import quality_sample
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.summaries import report_tables
from matching.discrepancies import KINDS

#: What each kind of finding means, in the order the report lists them: most serious first
#: (``matching.discrepancies.KINDS``).
KIND_MEANING = {
    "voter_deceased": "on the voter list, but dead according to the civil registry",
    "voter_underage": "on the voter list, but under voting age on the reference date",
    "voter_duplicate": "listed more than once on the voter list",
    "voter_not_in_registry": "on the voter list, but not found in the civil registry",
    "eligible_missing_from_voter_list": "of voting age in the civil registry, not on the list",
    "voter_ineligible_occupation": "on the voter list while serving in the TNI or POLRI",
    "nik_conflict": "one NIK used by clearly different people in the civil registry",
    "multiple_niks": "one person under several NIKs in the civil registry (double registration)",
    "nik_birthdate_mismatch": "a NIK that encodes another birth date or sex than the row",
    "domicile_differs": "enumerated by BPS in another desa than any registered one",
    "bps_not_in_registry": "enumerated by BPS, but not found in the civil registry",
}
#: Findings of each kind shown on the page; every finding is in discrepancy.csv.
ROWS_PER_KIND = 50
#: Below this a link is not the model's alone (``matching.engine.LinkageSettings``).
MATCH_LEVEL = 0.95
#: What joined a row whose strongest link scores below ``MATCH_LEVEL``, per link_method.
_LOW_SCORE_METHOD = {
    "double_registration": (
        "joined by the double-registration rule: a second civil-registry row of a person "
        "with the same birth date, sex and mother's name and a resembling name, whose "
        "different NIK and family card keep the model's probability low"
    ),
    "probabilistic": "linked by the model below the match level",
    "nik": "joined by a link whose NIKs agree",
}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula (``=cmd|...``): text starting with
    = + - @ gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.map(safe_cell).to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)


def _table(frame: pd.DataFrame, limit: int | None = None, more: str = "in the CSV export") -> str:
    """An HTML table inside a box that scrolls sideways when the table is wider than the
    page, so no column is cut off."""
    shown = frame if limit is None else frame.head(limit)
    head = "".join(f"<th>{escape(str(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    rest = (
        f"<p class='note'>{len(frame) - limit:,} more rows {escape(more)}.</p>"
        if limit is not None and len(frame) > limit
        else ""
    )
    return (
        f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f"</table></div>{rest}"
    )


def _whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns that hold only whole numbers (counts summed by the database come back as
    floats) as integers, so that 1146 prints as ``1,146``, not ``1,146.0000``, here and in
    the CSVs."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if not pd.api.types.is_float_dtype(values.dtype):
            continue
        known = values.dropna()
        if len(known) and bool((known == np.floor(known)).all()) and known.abs().max() < 2**53:
            out[column] = values.astype("Int64")
    return out


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


def _docs_link(page: object, out: Path) -> str:
    """The link from the report in ``out`` to a Data Docs page: relative, so that the two
    folders can be moved or served together; a file URL where no relative path exists."""
    if not isinstance(page, str) or not page:
        return ""
    target = Path(page).resolve()
    try:
        relative = os.path.relpath(target, out.resolve())
    except ValueError:  # another drive
        return target.as_uri()
    return urllib.parse.quote(Path(relative).as_posix())


def build_report(store: Warehouse, out: Path, region: str | None = None) -> Path:
    """Write ``report.html`` and CSV exports into ``out``; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    store.create_tables()
    frames = _read_frames(store, region)
    kinds = _kinds(frames.findings)
    per_kec = _per_kecamatan(frames.findings, kinds)
    _write_exports(frames, per_kec, out)
    path = out / "report.html"
    path.write_text(_page(frames, kinds, per_kec, out), encoding="utf-8")
    return path


@dataclass(frozen=True)
class _Frames:
    """What the report shows, read from the warehouse; counts as whole numbers
    (``_whole_numbers``), findings most serious first."""

    audit: pd.DataFrame
    stale: pd.DataFrame
    findings: pd.DataFrame
    coverage: pd.DataFrame
    latest_runs: pd.DataFrame
    linked: pd.DataFrame
    #: Precision and recall estimated from each region's labelled quality sample (none: empty).
    linkage_quality: pd.DataFrame


def _linkage_quality(store: Warehouse, region: str | None) -> pd.DataFrame:
    """The estimates of each region's current quality sample that has labels."""
    regions = [region] if region else quality_sample.sampled_regions(store)
    frames = [quality_sample.estimates(store, r) for r in regions]
    found = [f for f in frames if len(f) and f["labelled"].sum() > 0]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame()


def _read_frames(store: Warehouse, region: str | None) -> _Frames:
    tables = report_tables(store, region)
    findings = _by_severity(tables.findings)
    audit, stale, findings, coverage, latest_runs = (
        _whole_numbers(frame)
        for frame in (tables.audit, tables.stale, findings, tables.coverage, tables.verdicts)
    )
    return _Frames(
        audit, stale, findings, coverage, latest_runs, tables.link_scores,
        _linkage_quality(store, region),
    )  # fmt: skip


def _per_kecamatan(findings: pd.DataFrame, kinds: list[str]) -> pd.DataFrame:
    """Findings counted per kecamatan (``unknown`` where none is known) and kind."""
    if not len(findings):
        return pd.DataFrame({"kec_code": []})
    return (
        findings.assign(kec_code=findings["kec_code"].fillna("unknown"))
        .groupby(["kec_code", "kind"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=[k for k in kinds if k in set(findings["kind"])])
        .reset_index()
    )


def _write_exports(frames: _Frames, per_kec: pd.DataFrame, out: Path) -> None:
    write_csv(frames.audit, out / "load_audit.csv")
    write_csv(frames.stale, out / "stale_sources.csv")
    write_csv(frames.findings, out / "discrepancy.csv")
    write_csv(per_kec, out / "discrepancy_by_kecamatan.csv")
    write_csv(frames.coverage, out / "coverage_by_kecamatan.csv")
    write_csv(frames.latest_runs, out / "quality.csv")
    if len(frames.linkage_quality):
        write_csv(frames.linkage_quality, out / "linkage_quality.csv")


#: The coverage chart's bars: the sources that hold a living resident, and the column of the
#: coverage table that counts them.
_COVERAGE_COMBOS = {
    "in all three": "in_all_three",
    "only civil registry": "only_dukcapil",
    "only voter list": "only_kpu",
    "only BPS": "only_bps",
    "registry + voter list": "dukcapil_and_kpu_only",
    "registry + BPS": "dukcapil_and_bps_only",
    "voter list + BPS": "kpu_and_bps_only",
}


def _page(frames: _Frames, kinds: list[str], per_kec: pd.DataFrame, out: Path) -> str:
    """The report's HTML page, written into ``out``."""
    audit, stale, findings, coverage = frames.audit, frames.stale, frames.findings, frames.coverage
    by_kind = findings["kind"].value_counts().reindex(kinds, fill_value=0)
    coverage_totals = [
        float(coverage[c].sum()) if len(coverage) else 0.0 for c in _COVERAGE_COMBOS.values()
    ]
    coverage_chart = bar_chart(
        "Living residents by the sources that hold them", list(_COVERAGE_COMBOS), coverage_totals
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    regions = ", ".join(sorted(set(audit["region"]))) or "none"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>padu audit report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 0.5em 0; font-size: 13px; }}
.wide {{ max-width: 100%; overflow-x: auto; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
th {{ background: #eef3f6; }} .note {{ color: #555; font-size: 13px; }}
</style></head><body>
<h1>padu audit report</h1>
<p>Regions: {escape(regions)}. Generated {generated}. Residents are identified by their padu
resident ID; every finding lists the source files and rows behind it. CSV exports sit next
to this page.</p>
<h2>Stale sources</h2>
{_table(stale) if len(stale) else '<p class="note">None: every source is on its newest file.</p>'}
<p class="note">A source whose newest file was refused (unreadable, or far fewer rows than
its current snapshot) stays on the snapshot it had; its residents are as of that date.</p>
<h2>Load accounting per file</h2>
{_table(audit)}
<h2>Data quality</h2>
{_quality_html(frames.latest_runs, out)}
<h2>Discrepancies</h2>
{bar_chart("Findings per kind", list(by_kind.index), [float(v) for v in by_kind.values])}
<h3>Per kecamatan</h3>
{_table(per_kec)}
{_findings_html(findings, kinds)}
<h2>Coverage between the sources</h2>
{coverage_chart}
{_table(coverage)}
<h2>Match scores</h2>
{_scores_chart(frames.linked)}
<p class="note">{_scores_note(frames.linked)}</p>
{_linkage_quality_html(frames.linkage_quality)}
</body></html>
"""


def _linkage_quality_html(estimates: pd.DataFrame) -> str:
    """Precision and recall per source pair from the labelled quality sample; nothing when
    no region has one."""
    if estimates.empty:
        return ""

    def shown(value: float, low: float, high: float) -> str:
        return "" if pd.isna(value) else f"{value:.3f} ({low:.3f} to {high:.3f})"

    table = pd.DataFrame(
        {
            "region": estimates["region"],
            "source pair": estimates["source_pair"],
            "precision (95% interval)": [
                shown(*v) for v in
                estimates[["precision", "precision_low", "precision_high"]].to_numpy()
            ],
            "recall (95% interval)": [
                shown(*v) for v in estimates[["recall", "recall_low", "recall_high"]].to_numpy()
            ],
            "labelled": estimates["labelled"].astype(int),
            "unsure": estimates["unsure"].astype(int),
            "strata without a label": estimates["strata_unlabelled"].astype(int),
        }
    )  # fmt: skip
    return f"""<h2>Linkage quality (clerical sample)</h2>
{_table(table)}
<p class="note">Estimated from a stratified random sample of candidate pairs that reviewers
labelled (padu quality): precision is the share of linked pairs that are one person, recall the
share of pairs of one person that padu linked, each weighted by the size of its stratum.
Pairs labelled unsure are left out and counted.</p>"""


def _quality_html(latest_runs: pd.DataFrame, out: Path) -> str:
    """The latest verdict of each suite and the links to their Data Docs pages."""
    quality_rows = latest_runs.assign(
        data_docs=latest_runs["data_docs"].map(lambda page: _docs_link(page, out))
    )
    quality_html = _table(quality_rows[["region", "suite", "status", "rows", "failed_blocking",
                                        "warnings"]])  # fmt: skip
    docs_links = "".join(
        f'<li><a href="{escape(row.data_docs)}">Data Docs ({escape(row.region)}, '
        f"{escape(row.suite)})</a></li>"
        for row in quality_rows.itertuples()
        if row.data_docs
    )
    return f"{quality_html}<ul>{docs_links}</ul>"


def _scores_chart(linked: pd.DataFrame) -> str:
    """The histogram of each linked row's strongest match score, from 0.5 up."""
    scores = linked["link_score"].to_numpy(dtype=float)
    edges = np.linspace(0.5, 1.0, 26)
    counts, _ = np.histogram(np.clip(scores, 0.5, 1.0)[scores >= 0.5], bins=edges)
    return histogram(
        "Match probability of each row's strongest link",
        list(edges),
        counts.tolist(),
        below=int((scores < 0.5).sum()),
    )


def _kinds(findings: pd.DataFrame) -> list[str]:
    """Every kind, most serious first; kinds the report does not know follow, by name."""
    return [*KINDS, *sorted(set(findings["kind"].dropna()) - set(KINDS))]


def _by_severity(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings most serious kind first, then by resident (``KINDS``)."""
    rank = {kind: i for i, kind in enumerate(_kinds(findings))}
    order = findings["kind"].map(rank)
    return (
        findings.assign(_rank=order)
        .sort_values(["_rank", "resident_id"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def _findings_html(findings: pd.DataFrame, kinds: list[str]) -> str:
    """Per kind, most serious first: what it means, how many, and its first findings."""
    counts = findings["kind"].value_counts()
    summary = pd.DataFrame(
        {
            "kind": kinds,
            "meaning": [KIND_MEANING.get(kind, "") for kind in kinds],
            "findings": [int(counts.get(kind, 0)) for kind in kinds],
        }
    )
    parts = [
        "<h3>Findings by kind</h3>",
        f"<p class='note'>Most serious first. The page shows the first {ROWS_PER_KIND} findings "
        "of each kind; discrepancy.csv holds every one.</p>",
        _table(summary),
    ]
    columns = ["resident_id", "kec_code", "source_rows", "details", "registered_in_region"]
    for kind in kinds:
        rows = findings[findings["kind"] == kind]
        if rows.empty:
            continue
        meaning = KIND_MEANING.get(kind)
        parts.append(
            f"<h4 id='kind-{escape(kind)}'><code>{escape(kind)}</code>: {len(rows):,} "
            f"finding{'s' if len(rows) != 1 else ''}</h4>"
            + (f"<p class='note'>{escape(meaning)}.</p>" if meaning else "")
        )
        parts.append(
            _table(rows[columns], limit=ROWS_PER_KIND, more="of this kind in discrepancy.csv")
        )
    return "\n".join(parts)


def _scores_note(linked: pd.DataFrame) -> str:
    """What the match-score chart shows, and what joined the rows scored below the match
    level (``link_method``), counted."""
    total = len(linked)
    low = linked[linked["link_score"] < MATCH_LEVEL]
    text = (
        f"{total:,} linked rows. A row's score is the match probability of its strongest link; "
        f"the model links pairs at or above {MATCH_LEVEL:.2f}, and rows joined by a reviewer's "
        "decision score 1.00. "
    )
    if low.empty:
        return escape(text + f"No row scores below {MATCH_LEVEL:.2f}.")
    per_method = low["link_method"].value_counts()
    reasons = "; ".join(
        f"{count:,} {_LOW_SCORE_METHOD.get(str(method), f'linked by {method}')}"
        for method, count in per_method.items()
    )
    return escape(text + f"Below {MATCH_LEVEL:.2f} ({len(low):,} rows): {reasons}.")
