"""What commands, checks and the auditor's report show of the published warehouse.

Every value (a region, a run, a limit) is bound as a parameter; a region filter that may be
absent adds its clause with a bound value, never the value itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from connectors.warehouse.engine import Warehouse


def _region_clause(region: str | None, column: str = "region", word: str = "WHERE") -> str:
    return f"{word} {column} = :region" if region else ""


def _params(region: str | None, **more: object) -> dict[str, object]:
    return {**({"region": region} if region else {}), **more}


def file_accounting(store: Warehouse, region: str) -> pd.DataFrame:
    """Per current file of the region: rows read, rows linked, rows quarantined."""
    return store.query(
        """
        SELECT a.source_file, a.rows_read,
               (SELECT count(*) FROM resident_link l
                 WHERE l.source_file = a.source_file AND l.region = a.region) AS rows_loaded,
               (SELECT count(*) FROM quarantine q
                 WHERE q.source_file = a.source_file AND q.region = a.region) AS rows_quarantined
        FROM load_audit a WHERE a.region = :region AND a.current
        ORDER BY a.source_file
        """,
        {"region": region},
    )


def current_file_counts(store: Warehouse, region: str) -> pd.DataFrame:
    """The region's current files as load_audit records them, by source."""
    return store.query(
        "SELECT source_file, rows_read, rows_loaded, rows_quarantined, run_id FROM load_audit "
        "WHERE region = :region AND current ORDER BY source",
        {"region": region},
    )


def resident_count(store: Warehouse, region: str) -> int:
    return int(
        store.scalar("SELECT count(*) FROM resident WHERE region = :region", {"region": region})
    )


def refused_in_run(store: Warehouse, run_id: str) -> pd.DataFrame:
    """The files a run refused, and the snapshot each source stayed on."""
    return store.query(
        "SELECT source, source_file, reason, current_file, stale_since FROM refused_file "
        "WHERE run_id = :run",
        {"run": run_id},
    )


def linked_region_count(store: Warehouse) -> int:
    return int(store.scalar("SELECT count(DISTINCT region) FROM resident_link"))


def cross_region_methods(store: Warehouse) -> pd.DataFrame:
    """Residents registered in another region, per method that found them (``n``)."""
    return store.query(
        "SELECT method, count(*) AS n FROM cross_region_link GROUP BY method ORDER BY method"
    )


def waiting_pairs(store: Warehouse, limit: int) -> pd.DataFrame:
    """The pairs waiting for review, most likely matches first: the undecided ones, then
    those a reviewer marked unsure (``decision``, ``note``, ``decided_by``, ``decided_at``)."""
    return store.query(
        "SELECT q.left_file, q.left_row, q.right_file, q.right_row, q.match_probability, "
        "q.explanation, d.decision, d.note, d.decided_by, d.decided_at FROM review_queue q "
        "LEFT JOIN review_decision d ON d.left_key = least(q.left_key, q.right_key) "
        "AND d.right_key = greatest(q.left_key, q.right_key) "
        "WHERE d.decision IS NULL OR d.decision = :unsure "
        "ORDER BY CASE WHEN d.decision IS NULL THEN 0 ELSE 1 END, q.match_probability DESC "
        "LIMIT :limit",
        {"limit": int(limit), "unsure": "unsure"},
    )


def record_links(store: Warehouse, region: str | None = None) -> pd.DataFrame:
    """Which resident each source row belongs to (of one region, or of all)."""
    return store.query(
        f"SELECT source_file, source_row, resident_id FROM resident_link {_region_clause(region)}",
        _params(region),
    )


@dataclass(frozen=True)
class ReportTables:
    """What the auditor's report shows, as read from the warehouse."""

    audit: pd.DataFrame
    stale: pd.DataFrame
    findings: pd.DataFrame
    coverage: pd.DataFrame
    verdicts: pd.DataFrame
    link_scores: pd.DataFrame


def report_tables(store: Warehouse, region: str | None = None) -> ReportTables:
    """The report's tables, of one region or of all."""
    where, params = _region_clause(region), _params(region)
    audit = store.query(
        "SELECT region, source, source_file, snapshot_date, rows_read, rows_loaded, "
        f"rows_quarantined, file_issues, checksum FROM load_audit {where} ORDER BY region, source",
        params,
    )
    # Sources whose newest file the region's last run refused: they stay on an older snapshot.
    stale = store.query(
        "SELECT f.region, f.source, f.current_file, f.stale_since, f.source_file AS refused_file, "
        "f.snapshot_date AS refused_snapshot, f.reason FROM refused_file f "
        "WHERE f.run_id = (SELECT a.run_id FROM run_audit a WHERE a.region = f.region AND "
        "a.status = 'success' ORDER BY a.finished_at DESC LIMIT 1) "
        f"{_region_clause(region, 'f.region', 'AND')} ORDER BY f.region, f.source",
        params,
    )
    # A resident registered in another kab/kota (the cross-region pass) says where: a voter
    # "not in the registry" of this region may well be in another one's.
    findings = store.query(
        "SELECT d.region, d.kind, d.resident_id, "
        "COALESCE(r.kec_code, SUBSTRING(r.domicile_desa_code, 1, 8)) AS kec_code, "
        "d.source_rows, d.details, x.registry_region AS registered_in_region, "
        "x.registry_resident_id AS registered_as, "
        "d.reference_date FROM discrepancy d LEFT JOIN resident r "
        "ON r.resident_id = d.resident_id LEFT JOIN cross_region_link x "
        f"ON x.resident_id = d.resident_id {_region_clause(region, 'd.region')} "
        "ORDER BY d.kind, d.resident_id",
        params,
    )
    coverage = store.query(
        f"SELECT * FROM v_coverage_by_kecamatan {where} ORDER BY kec_code", params
    )
    # The verdicts of the runs whose tables are published now.
    verdicts = store.query(
        "SELECT region, suite, status, rows, failed_blocking, warnings, data_docs "
        "FROM quality_result WHERE run_id IN (SELECT DISTINCT run_id FROM load_audit) "
        f"{_region_clause(region, word='AND')} ORDER BY region, suite",
        params,
    )
    link_scores = store.query(
        "SELECT link_method, link_score FROM resident_link WHERE link_score IS NOT NULL "
        f"{_region_clause(region, word='AND')}",
        params,
    )
    return ReportTables(audit, stale, findings, coverage, verdicts, link_scores)
