"""Views for statisticians, in SQL that DuckDB and PostgreSQL both run.

* ``v_population_by_desa``: living residents per region, desa, sex and five-year age group,
  as reconciled and as each source holds them;
* ``v_coverage_by_kecamatan``: residents per kecamatan by which sources hold them;
* ``v_voter_list_quality_by_kecamatan``: voters per kecamatan and the voter-list findings
  of the auditor's list;
* ``resident_change``: per run, residents new, merged, split, retired, or with changed
  attributes (which ones, not their values).

Ages are completed years on the day the view is read. The desa and kecamatan are the
registered ones (civil registry, else voter list), else where BPS found the person.
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


def _flag(column: str) -> str:
    return f"SUM(CASE WHEN r.{column} THEN 1 ELSE 0 END)"


POPULATION_BY_DESA = f"""
CREATE OR REPLACE VIEW v_population_by_desa AS
SELECT r.region,
       COALESCE(r.desa_code, r.domicile_desa_code) AS desa_code,
       r.sex,
       CASE WHEN r.birth_date IS NULL THEN 'unknown'
{_GROUPS}
            ELSE '75+' END AS age_group,
       COUNT(*) AS residents,
       {_flag("in_dukcapil")} AS in_dukcapil,
       {_flag("in_kpu")} AS in_kpu,
       {_flag("in_bps")} AS in_bps
FROM resident r
WHERE r.alive IS NULL OR r.alive
GROUP BY 1, 2, 3, 4
"""

COVERAGE_BY_KECAMATAN = f"""
CREATE OR REPLACE VIEW v_coverage_by_kecamatan AS
SELECT r.region,
       COALESCE(r.kec_code, SUBSTRING(r.domicile_desa_code, 1, 8)) AS kec_code,
       COUNT(*) AS residents,
       SUM(CASE WHEN r.in_dukcapil AND r.in_kpu AND r.in_bps THEN 1 ELSE 0 END) AS in_all_three,
       SUM(CASE WHEN r.sources = 'dukcapil' THEN 1 ELSE 0 END) AS only_dukcapil,
       SUM(CASE WHEN r.sources = 'kpu' THEN 1 ELSE 0 END) AS only_kpu,
       SUM(CASE WHEN r.sources = 'bps' THEN 1 ELSE 0 END) AS only_bps,
       SUM(CASE WHEN r.sources = 'dukcapil,kpu' THEN 1 ELSE 0 END) AS dukcapil_and_kpu_only,
       SUM(CASE WHEN r.sources = 'dukcapil,bps' THEN 1 ELSE 0 END) AS dukcapil_and_bps_only,
       SUM(CASE WHEN r.sources = 'kpu,bps' THEN 1 ELSE 0 END) AS kpu_and_bps_only,
       {_flag("in_dukcapil")} AS in_dukcapil,
       {_flag("in_kpu")} AS in_kpu,
       {_flag("in_bps")} AS in_bps
FROM resident r
WHERE r.alive IS NULL OR r.alive
GROUP BY 1, 2
"""

VOTER_KINDS = (
    "voter_deceased", "voter_underage", "voter_duplicate", "voter_not_in_registry",
    "eligible_missing_from_voter_list", "voter_ineligible_occupation",
)  # fmt: skip

_FINDINGS = ",\n".join(
    f"       SUM(CASE WHEN d.kind = '{kind}' THEN 1 ELSE 0 END) AS {kind}" for kind in VOTER_KINDS
)

VOTER_LIST_QUALITY = f"""
CREATE OR REPLACE VIEW v_voter_list_quality_by_kecamatan AS
WITH places AS (
    SELECT r.region, r.resident_id, r.in_kpu,
           COALESCE(r.kec_code, SUBSTRING(r.domicile_desa_code, 1, 8)) AS kec_code
    FROM resident r
)
SELECT p.region, p.kec_code,
       COUNT(DISTINCT CASE WHEN p.in_kpu THEN p.resident_id END) AS voters,
{_FINDINGS}
FROM places p
LEFT JOIN discrepancy d ON d.resident_id = p.resident_id AND d.region = p.region
GROUP BY 1, 2
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
