"""Views for statisticians, in SQL that DuckDB and PostgreSQL both run.

* ``v_population_by_desa``: living residents per region, desa, sex and five-year age group,
  as reconciled and as each source holds them;
* ``v_coverage_by_kecamatan``: residents per kecamatan by which sources hold them;
* ``v_voter_list_quality_by_kecamatan``: voters per kecamatan and the voter-list findings
  of the auditor's list;
* ``resident_change``: per run, residents new, merged, split, retired, or with changed
  attributes (which ones, not their values).

Ages are completed years on the day the view is read. The desa and kecamatan are the
registered ones (civil registry, else voter list), else where BPS found the person; their
names come from the region reference (table ``place``), empty for a code it does not know.
"""

from __future__ import annotations

import hashlib
import re

_AGE = """(EXTRACT(YEAR FROM CURRENT_DATE) - EXTRACT(YEAR FROM r.birth_date)
    - CASE WHEN EXTRACT(MONTH FROM CURRENT_DATE) * 100 + EXTRACT(DAY FROM CURRENT_DATE)
             < EXTRACT(MONTH FROM r.birth_date) * 100 + EXTRACT(DAY FROM r.birth_date)
           THEN 1 ELSE 0 END)"""

_GROUPS = "\n".join(
    f"        WHEN {_AGE} < {upper} THEN '{upper - 5:02d}-{upper - 1:02d}'"
    for upper in range(5, 80, 5)
)


def _count(condition: str) -> str:
    """How many rows meet ``condition``, as a whole number on both backends (a bare SUM is a
    HUGEINT on DuckDB, which reaches pandas as a float, and a NUMERIC on PostgreSQL)."""
    return f"CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)"


def _flag(column: str) -> str:
    return _count(f"r.{column}")


POPULATION_BY_DESA = f"""
CREATE OR REPLACE VIEW v_population_by_desa AS
WITH placed AS (
    SELECT r.*, COALESCE(r.desa_code, r.domicile_desa_code) AS place_code FROM resident r
)
SELECT r.region,
       r.place_code AS desa_code,
       d.name AS desa_name,
       d.kec_code,
       k.name AS kec_name,
       r.sex,
       CASE WHEN r.birth_date IS NULL THEN 'unknown'
{_GROUPS}
            ELSE '75+' END AS age_group,
       COUNT(*) AS residents,
       {_flag("in_dukcapil")} AS in_dukcapil,
       {_flag("in_kpu")} AS in_kpu,
       {_flag("in_bps")} AS in_bps
FROM placed r
LEFT JOIN place d ON d.region = r.region AND d.code = r.place_code
LEFT JOIN place k ON k.region = r.region AND k.code = d.kec_code
WHERE r.alive IS NULL OR r.alive
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

COVERAGE_BY_KECAMATAN = f"""
CREATE OR REPLACE VIEW v_coverage_by_kecamatan AS
WITH placed AS (
    SELECT r.*, COALESCE(r.kec_code, SUBSTRING(r.domicile_desa_code, 1, 8)) AS place_code
    FROM resident r
)
SELECT r.region,
       r.place_code AS kec_code,
       k.name AS kec_name,
       COUNT(*) AS residents,
       {_count("r.in_dukcapil AND r.in_kpu AND r.in_bps")} AS in_all_three,
       {_count("r.sources = 'dukcapil'")} AS only_dukcapil,
       {_count("r.sources = 'kpu'")} AS only_kpu,
       {_count("r.sources = 'bps'")} AS only_bps,
       {_count("r.sources = 'dukcapil,kpu'")} AS dukcapil_and_kpu_only,
       {_count("r.sources = 'dukcapil,bps'")} AS dukcapil_and_bps_only,
       {_count("r.sources = 'kpu,bps'")} AS kpu_and_bps_only,
       {_flag("in_dukcapil")} AS in_dukcapil,
       {_flag("in_kpu")} AS in_kpu,
       {_flag("in_bps")} AS in_bps
FROM placed r
LEFT JOIN place k ON k.region = r.region AND k.code = r.place_code
WHERE r.alive IS NULL OR r.alive
GROUP BY 1, 2, 3
"""

VOTER_KINDS = (
    "voter_deceased", "voter_underage", "voter_duplicate", "voter_not_in_registry",
    "eligible_missing_from_voter_list", "voter_ineligible_occupation",
)  # fmt: skip

_FINDINGS = ",\n".join(f"       {_count(f'd.kind = {kind!r}')} AS {kind}" for kind in VOTER_KINDS)

VOTER_LIST_QUALITY = f"""
CREATE OR REPLACE VIEW v_voter_list_quality_by_kecamatan AS
WITH places AS (
    SELECT r.region, r.resident_id, r.in_kpu,
           COALESCE(r.kec_code, SUBSTRING(r.domicile_desa_code, 1, 8)) AS kec_code
    FROM resident r
)
SELECT p.region, p.kec_code, k.name AS kec_name,
       COUNT(DISTINCT CASE WHEN p.in_kpu THEN p.resident_id END) AS voters,
{_FINDINGS}
FROM places p
LEFT JOIN discrepancy d ON d.resident_id = p.resident_id AND d.region = p.region
LEFT JOIN place k ON k.region = p.region AND k.code = p.kec_code
GROUP BY 1, 2, 3
"""

RESIDENT_CHANGE = """
CREATE OR REPLACE VIEW resident_change AS
SELECT h.region, h.run_id, a.finished_at AS run_finished_at, h.event AS change,
       h.resident_id, h.related_id, h.details AS changed_attributes
FROM resident_history h
LEFT JOIN run_audit a ON a.run_id = h.run_id AND a.status = 'success'
"""

VIEWS = (POPULATION_BY_DESA, COVERAGE_BY_KECAMATAN, VOTER_LIST_QUALITY, RESIDENT_CHANGE)
#: The views' names, in the order of VIEWS.
VIEW_NAMES = tuple(re.search(r"CREATE OR REPLACE VIEW (\w+)", v).group(1) for v in VIEWS)  # type: ignore[union-attr]
#: The comment each view carries on PostgreSQL: names its definition, so a run can tell that
#: the views are this padu's without re-creating them.
VIEW_COMMENTS = {
    name: f"padu view, definition sha256 {hashlib.sha256(view.encode()).hexdigest()[:16]}"
    for name, view in zip(VIEW_NAMES, VIEWS, strict=True)
}
