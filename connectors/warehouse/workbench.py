"""The queries behind the reviewers' and auditors' workbench (``padu serve``, ``workbench/``).

Every value is bound as a parameter. The workbench reads with the signed-in person's own
database role (on PostgreSQL), so a query on a table the role may not read fails with
``Forbidden`` naming the table, which the workbench shows as "your role may not read X".

Raw NIK and KK numbers are read only by ``source_rows`` (for masking beside each other in the
review view, ``workbench.masking``) and are never returned by any other query here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import access_log, source_record

#: The resident's kecamatan and desa as the statisticians' views take them: the registered
#: ones (civil registry, else voter list), else where BPS found the person.
_KEC = "COALESCE(r.kec_code, SUBSTRING(r.domicile_desa_code, 1, 8))"
_DESA = "COALESCE(r.desa_code, r.domicile_desa_code)"
#: Discrepancy filters: the query parameter and the resident's column it filters on.
FINDING_FILTERS = {"kind": "d.kind", "kec": _KEC, "desa": _DESA, "tps": "r.tps"}
_DENIED = re.compile(r"permission denied for (table|relation|view|schema) ([\w.]+)")


class Forbidden(PermissionError):
    """The signed-in role may not read (or write) ``what``."""

    def __init__(self, what: str) -> None:
        super().__init__(f"your role may not read {what}")
        self.what = what


class ServingWarehouse(Warehouse):
    """A warehouse the workbench reads as the signed-in person.

    It never changes the schema: a reviewer's or auditor's role may not, and the schema is
    brought up to date by ``padu warehouse init`` and every run. (``connectors.warehouse.review``
    calls ``create_tables`` before it reads; here that is a no-op.)

    A page's queries share one connection (``one_connection``), opened while the page is
    built, so on an embedded DuckDB file ``padu run`` takes turns with the pages; a page
    waits at most ``lock_timeout`` seconds (30) for a run's turn to end before it says the
    warehouse is busy."""

    def __init__(self, url: str, lock_timeout: float = 30.0) -> None:
        super().__init__(url, lock_timeout=lock_timeout)
        self._open = threading.local()

    @contextmanager
    def one_connection(self) -> Iterator[None]:
        """The block's queries share one connection (one turn on an embedded file), each in a
        transaction of its own: a page opens the warehouse once, not once per query."""
        if getattr(self._open, "connection", None) is not None:
            yield
            return
        with self._turn(), self.connect() as connection:
            self._open.connection = connection
            try:
                yield
            finally:
                self._open.connection = None

    def create_tables(self, connection: sa.Connection | None = None, refresh: bool = False) -> None:
        return None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        shared: sa.Connection | None = getattr(self._open, "connection", None)
        try:
            if shared is not None:
                with shared.begin():
                    yield shared
            else:
                with super().transaction() as conn:
                    yield conn
        except sa.exc.ProgrammingError as err:
            raise _forbidden(err) or err from None


def _forbidden(err: sa.exc.DBAPIError) -> Forbidden | None:
    """The ``Forbidden`` a refused statement means, else ``None``; only the table's name is
    taken from the server's message (never the statement or its parameters)."""
    found = _DENIED.search(str(err.orig))
    if not found:
        return None
    kind, name = found.groups()
    return Forbidden(f"the {name} schema" if kind == "schema" else name)


def _query(store: Warehouse, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    return store.query(sql, params)


# -- overview ------------------------------------------------------------------------------


def regions(store: Warehouse) -> pd.DataFrame:
    """Every published region with its residents and sources."""
    return _query(
        store,
        "SELECT region, count(*) AS residents, sum(CASE WHEN in_dukcapil THEN 1 ELSE 0 END) "
        "AS in_dukcapil, sum(CASE WHEN in_kpu THEN 1 ELSE 0 END) AS in_kpu, "
        "sum(CASE WHEN in_bps THEN 1 ELSE 0 END) AS in_bps FROM resident "
        "GROUP BY region ORDER BY region",
    )


def latest_runs(store: Warehouse, limit: int = 20) -> pd.DataFrame:
    return _query(
        store,
        "SELECT run_id, region, started_by, started_at, finished_at, duration_seconds, status, "
        "message FROM run_audit ORDER BY finished_at DESC LIMIT :limit",
        {"limit": limit},
    )


def load_accounting(store: Warehouse) -> pd.DataFrame:
    """Every current file: rows read, loaded, quarantined."""
    return _query(
        store,
        "SELECT region, source, source_file, snapshot_date, rows_read, rows_loaded, "
        "rows_quarantined, file_issues, loaded_at FROM load_audit WHERE current "
        "ORDER BY region, source",
    )


def latest_verdicts(store: Warehouse) -> pd.DataFrame:
    """Each region's and suite's latest data-quality verdict."""
    return _query(
        store,
        "SELECT q.region, q.suite, q.status, q.rows, q.failed_blocking, q.warnings, q.data_docs, "
        "q.checked_at FROM quality_result q JOIN (SELECT region, suite, max(checked_at) AS at "
        "FROM quality_result GROUP BY region, suite) l ON l.region = q.region "
        "AND l.suite = q.suite AND l.at = q.checked_at ORDER BY q.region, q.suite",
    )


def quality_history(store: Warehouse, limit: int = 500) -> pd.DataFrame:
    return _query(
        store,
        "SELECT run_id, region, suite, status, rows, failed_blocking, warnings, data_docs, "
        "checked_at FROM quality_result ORDER BY checked_at DESC, suite LIMIT :limit",
        {"limit": limit},
    )


def stale_sources(store: Warehouse, limit: int = 50) -> pd.DataFrame:
    """Newest files refused by runs, newest first."""
    return _query(
        store,
        "SELECT region, source, source_file, snapshot_date, reason, current_file, stale_since, "
        "refused_at FROM refused_file ORDER BY refused_at DESC LIMIT :limit",
        {"limit": limit},
    )


# -- review queue --------------------------------------------------------------------------

_QUEUE = (
    "SELECT q.region, q.left_source, q.left_file, q.left_row, q.left_key, q.right_source, "
    "q.right_file, q.right_row, q.right_key, q.match_probability, q.match_weight, "
    "q.explanation, d.decision, d.note, d.decided_by, d.decided_at FROM review_queue q "
    "LEFT JOIN review_decision d ON d.left_key = least(q.left_key, q.right_key) "
    "AND d.right_key = greatest(q.left_key, q.right_key)"
)


_DECISION_VALUES = {"match": "match", "no_match": "no_match", "unsure": "unsure"}


def _in_region(region: str | None, word: str = "WHERE") -> tuple[str, dict[str, str]]:
    return (f" {word} q.region = :region", {"region": region}) if region else ("", {})


def review_progress(store: Warehouse, region: str | None = None) -> dict[str, int]:
    """Pairs queued (in ``region``, else in all), how many of them are decided (match or
    no_match: applied by the next run) and how many are marked unsure (still queued)."""
    where, params = _in_region(region)
    row = _query(
        store,
        "SELECT count(*) AS queued, "
        "sum(CASE WHEN d.decision IN (:match, :no_match) THEN 1 ELSE 0 END) AS decided, "
        "sum(CASE WHEN d.decision = :unsure THEN 1 ELSE 0 END) AS unsure FROM review_queue q "
        "LEFT JOIN review_decision d ON d.left_key = least(q.left_key, q.right_key) "
        f"AND d.right_key = greatest(q.left_key, q.right_key){where}",
        {**params, **_DECISION_VALUES},
    ).iloc[0]
    return {k: 0 if pd.isna(row[k]) else int(row[k]) for k in ("queued", "decided", "unsure")}


def next_pairs(store: Warehouse, limit: int = 50, region: str | None = None) -> pd.DataFrame:
    """The pairs waiting (of ``region``, else of all), most useful first: the undecided
    ones, the model's probability closest to 0.5 (where a decision teaches the most), then
    the higher match weight; after them those a reviewer marked unsure, oldest first, for a
    senior reviewer to settle."""
    where, params = _in_region(region, "AND")
    return _query(
        store,
        f"{_QUEUE} WHERE (d.decision IS NULL OR d.decision = :unsure){where} "
        "ORDER BY CASE WHEN d.decision IS NULL THEN 0 ELSE 1 END, d.decided_at, "
        "abs(q.match_probability - 0.5), q.match_weight DESC, q.left_key, q.right_key "
        "LIMIT :limit",
        {"limit": limit, "unsure": _DECISION_VALUES["unsure"], **params},
    )


def queue_regions(store: Warehouse) -> list[str]:
    """The regions with pairs in the review queue."""
    found = _query(store, "SELECT DISTINCT region FROM review_queue ORDER BY region")
    return [str(r) for r in found["region"]]


def queued_pair(store: Warehouse, left_key: str, right_key: str) -> pd.Series | None:
    """The queue's pair of these two record keys (either order), with any decision on it."""
    found = _query(
        store,
        f"{_QUEUE} WHERE (q.left_key = :a AND q.right_key = :b) "
        "OR (q.left_key = :b AND q.right_key = :a)",
        {"a": left_key, "b": right_key},
    )
    return None if found.empty else found.iloc[0]


def rival_pairs(store: Warehouse, key: str) -> pd.DataFrame:
    """The other queued pairs a record is in."""
    return _query(
        store,
        f"{_QUEUE} WHERE q.left_key = :k OR q.right_key = :k ORDER BY q.match_probability DESC",
        {"k": key},
    )


def linked_rows_of_record(store: Warehouse, key: str) -> pd.DataFrame:
    """The rows linked to the same resident as the record ``key`` (its current row too)."""
    return _query(
        store,
        "SELECT o.resident_id, o.source, o.source_file, o.source_row, o.record_key, "
        "o.link_method, o.link_score FROM resident_link l JOIN resident_link o "
        "ON o.resident_id = l.resident_id WHERE l.record_key = :k "
        "ORDER BY o.source, o.source_file, o.source_row",
        {"k": key},
    )


def source_rows(store: Warehouse, refs: list[tuple[str, int]]) -> pd.DataFrame:
    """The canonical records of source rows ``refs`` (file, row) with their snapshot date and
    the desa's name: restricted (raw identifiers); every display must be logged
    (``log_access``)."""
    if not refs:
        return pd.DataFrame()
    clauses: list[str] = []
    params: dict[str, object] = {}
    for i, (file, row) in enumerate(refs):
        clauses.append(f"(r.source_file = :f{i} AND r.source_row = :r{i})")
        params[f"f{i}"], params[f"r{i}"] = file, int(row)
    return _query(
        store,
        f"SELECT r.*, a.snapshot_date AS file_snapshot, p.name AS desa_name "
        f"FROM {source_record.fullname} r "
        "LEFT JOIN load_audit a ON a.source_file = r.source_file "
        "LEFT JOIN place p ON p.region = r.region AND p.code = r.desa_code "
        f"WHERE {' OR '.join(clauses)}",
        params,
    )


def log_access(store: Warehouse, by: str, rows: pd.DataFrame, purpose: str) -> None:
    """Record that ``by`` was shown the personal fields of ``rows`` (``record_key``,
    ``region``), one access_log row per record."""
    if rows.empty:
        return
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    values = [
        {"accessed_at": now, "accessed_by": by, "record_key": str(r["record_key"]),
         "region": None if pd.isna(r["region"]) else str(r["region"]), "purpose": purpose}
        for _, r in rows.iterrows()
        if isinstance(r["record_key"], str)
    ]  # fmt: skip
    if values:
        with store.transaction() as conn:
            conn.execute(sa.insert(access_log), values)


def access_entries(store: Warehouse, limit: int = 100) -> pd.DataFrame:
    return _query(
        store,
        "SELECT accessed_at, accessed_by, record_key, region, purpose FROM access_log "
        "ORDER BY accessed_at DESC LIMIT :limit",
        {"limit": limit},
    )


# -- residents -----------------------------------------------------------------------------


def resident(store: Warehouse, resident_id: str) -> pd.Series | None:
    found = _query(
        store,
        "SELECT r.*, k.name AS kec_name, d.name AS desa_name, m.name AS domicile_name "
        "FROM resident r LEFT JOIN place k ON k.region = r.region AND k.code = r.kec_code "
        "LEFT JOIN place d ON d.region = r.region AND d.code = r.desa_code "
        "LEFT JOIN place m ON m.region = r.region AND m.code = r.domicile_desa_code "
        "WHERE r.resident_id = :id",
        {"id": resident_id},
    )
    return None if found.empty else found.iloc[0]


def resident_links(store: Warehouse, resident_id: str) -> pd.DataFrame:
    """Every source row linked to the resident, with its file's snapshot date."""
    return _query(
        store,
        "SELECT l.source, l.source_file, l.source_row, l.record_key, l.link_method, "
        "l.link_score, a.snapshot_date, l.region FROM resident_link l "
        "LEFT JOIN load_audit a ON a.source_file = l.source_file "
        "WHERE l.resident_id = :id ORDER BY l.source, l.source_file, l.source_row",
        {"id": resident_id},
    )


def resident_history(store: Warehouse, resident_id: str) -> pd.DataFrame:
    return _query(
        store,
        "SELECT h.run_id, h.event, h.related_id, h.details, h.recorded_at FROM resident_history h "
        "WHERE h.resident_id = :id OR h.related_id = :id ORDER BY h.recorded_at, h.event",
        {"id": resident_id},
    )


def resident_findings(store: Warehouse, resident_id: str) -> pd.DataFrame:
    return _query(
        store,
        "SELECT kind, source_rows, details, reference_date, run_id FROM discrepancy "
        "WHERE resident_id = :id ORDER BY kind",
        {"id": resident_id},
    )


def resident_cross_region(store: Warehouse, resident_id: str) -> pd.DataFrame:
    return _query(
        store,
        "SELECT resident_id, region, registry_resident_id, registry_region, method, run_id "
        "FROM cross_region_link WHERE resident_id = :id OR registry_resident_id = :id",
        {"id": resident_id},
    )


# -- discrepancies -------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingFilter:
    kind: str | None = None
    kec: str | None = None
    desa: str | None = None
    tps: str | None = None

    def where(self) -> tuple[str, dict[str, str]]:
        clauses, params = [], {}
        for name, column in FINDING_FILTERS.items():
            value = getattr(self, name)
            if value:
                clauses.append(f"{column} = :{name}")
                params[name] = value
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_FINDINGS = (
    "FROM discrepancy d LEFT JOIN resident r ON r.resident_id = d.resident_id "
    f"LEFT JOIN place k ON k.region = r.region AND k.code = {_KEC} "
    f"LEFT JOIN place p ON p.region = r.region AND p.code = {_DESA}"
)


def findings(
    store: Warehouse, where: FindingFilter, limit: int | None = 50, offset: int = 0
) -> pd.DataFrame:
    """Findings matching ``where``, by kind and resident; all of them when ``limit`` is None."""
    clause, params = where.where()
    page = ""
    if limit is not None:
        page = " LIMIT :limit OFFSET :offset"
        params = {**params, "limit": limit, "offset": offset}  # type: ignore[dict-item]
    return _query(
        store,
        f"SELECT d.kind, d.resident_id, d.region, {_KEC} AS kec_code, k.name AS kec_name, "
        f"{_DESA} AS desa_code, p.name AS desa_name, r.tps, d.source_rows, d.details, "
        f"d.reference_date {_FINDINGS}"
        f"{clause} ORDER BY d.kind, d.resident_id, d.source_rows{page}",
        params,
    )


def finding_count(store: Warehouse, where: FindingFilter) -> int:
    clause, params = where.where()
    return int(store.scalar(f"SELECT count(*) {_FINDINGS}{clause}", params))


def finding_kinds(store: Warehouse) -> list[str]:
    return [str(k) for k in _query(store, "SELECT DISTINCT kind FROM discrepancy")["kind"]]


# -- model and blocking figures ------------------------------------------------------------


def run_outputs(store: Warehouse) -> pd.DataFrame:
    """Each region's latest successful run with its published row counts (JSON)."""
    return _query(
        store,
        "SELECT a.region, a.run_id, a.finished_at, a.outputs FROM run_audit a JOIN "
        "(SELECT region, max(finished_at) AS at FROM run_audit WHERE status = 'success' "
        "GROUP BY region) l ON l.region = a.region AND l.at = a.finished_at "
        "WHERE a.status = 'success' ORDER BY a.region",
    )


def blocking_figures(store: Warehouse) -> pd.DataFrame:
    """Each region's latest blocking counts (``linkage_blocking``), rules in the order they
    ran."""
    return _query(
        store,
        "SELECT region, rule, blocks, candidate_pairs, new_pairs, capped_blocks, "
        "capped_records, match_pairs, review_pairs, match_probability, review_probability, "
        "run_id FROM linkage_blocking ORDER BY region, rule_order",
    )


def queue_weights(store: Warehouse) -> pd.DataFrame:
    return _query(store, "SELECT region, match_weight, match_probability FROM review_queue")


def link_scores(store: Warehouse) -> pd.DataFrame:
    """Links per region and method, with the scores of the probabilistic ones."""
    return _query(
        store, "SELECT region, link_method, link_score FROM resident_link WHERE link_score > 0"
    )


def link_methods(store: Warehouse) -> pd.DataFrame:
    return _query(
        store,
        "SELECT region, link_method, count(*) AS source_rows FROM resident_link "
        "GROUP BY region, link_method ORDER BY region, link_method",
    )


def current_rows_of_keys(store: Warehouse, keys: list[str]) -> pd.DataFrame:
    """The current source rows (``resident_link``) of records ``keys``: ``record_key``,
    ``source_file``, ``source_row``, ``resident_id``."""
    if not keys:
        return pd.DataFrame(columns=["record_key", "source_file", "source_row", "resident_id"])
    names = {f"k{i}": key for i, key in enumerate(keys)}
    return _query(
        store,
        "SELECT record_key, source_file, source_row, resident_id FROM resident_link "
        f"WHERE record_key IN ({', '.join(':' + n for n in names)}) "
        "ORDER BY record_key, source_file, source_row",
        names,
    )


def may_read(store: Warehouse, table: str) -> bool:
    """Whether the signed-in role may read ``table`` (always, on an embedded warehouse)."""
    if store.backend != "postgresql":
        return True
    return bool(
        store.scalar("SELECT has_table_privilege(current_user, :t, 'SELECT')", {"t": table})
    )
