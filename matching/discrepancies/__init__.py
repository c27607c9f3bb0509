"""Discrepancies between the registries that an auditor wants listed (docs/domain.md).

``find_discrepancies`` takes the canonical records, the links (which resident each source row
belongs to) and the residents, and returns one row per finding:

* ``kind``: one of ``KINDS``;
* ``resident_id``: the resident concerned;
* ``source_rows``: the rows involved, ``file:row`` separated by ``;`` (registry rows first),
  so the auditor can open the files and see for themselves;
* ``details``: a short explanation with counts, dates and region codes, never a NIK or KK.

Who a person is follows the authorities: birth date and alive from the resident (the golden
record, civil registry first), marital status and occupation from the civil-registry rows
(the voter list's own marital status when the person is not registered).

Findings are only as good as the linkage under them. Where linkage can merge two people
(two registry rows sharing a NIK, a voter row whose mistyped NIK is someone else's), the
voter-duplicate and double-registration rules check names and birth dates inside the resident
rather than trusting the merge; a double registration that linkage leaves as a resident of
its own cannot be seen here (it shows as an eligible person missing from the voter list).

Everything is vectorised: residents are numbered once and per-resident facts are counted with
``numpy.bincount``; text is built only for the rows that end up in a finding (about 3 s for
1.27 million records).

The package root is the public face; the stages live in their own modules:

* ``facts``: the records joined to their residents, and the per-resident facts;
* ``findings``: the kinds, the columns, and how a finding row is built;
* ``same_person``: whether two rows of one resident name the same person;
* ``voter_list``, ``identity``, ``bps``: the findings about each, by kind.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from matching.discrepancies.bps import bps_not_in_registry, domicile_differs
from matching.discrepancies.facts import VOTING_AGE, Facts, work_frame
from matching.discrepancies.findings import COLUMNS, KINDS, empty_findings
from matching.discrepancies.identity import multiple_niks, nik_birthdate_mismatch, nik_conflicts
from matching.discrepancies.voter_list import eligible_missing, voter_findings

__all__ = ["COLUMNS", "KINDS", "find_discrepancies", "summarise"]


def find_discrepancies(
    records: pd.DataFrame,
    links: pd.DataFrame,
    residents: pd.DataFrame,
    *,
    reference_date: date | pd.Timestamp,
    voting_age: int = VOTING_AGE,
) -> pd.DataFrame:
    """Every discrepancy of ``KINDS`` in one region's data; see the module docstring.

    ``records``: canonical records (``connectors.schema``). ``links``: ``source_file``,
    ``source_row``, ``resident_id`` for each record (the ``resident_link`` table).
    ``residents``: the ``resident`` table (``resident_id``, ``birth_date``, ``alive``).
    ``reference_date``: the day ages are counted on (voting day, or the snapshot day).
    """
    work = work_frame(records, links)
    if work.empty:
        return empty_findings()
    facts = Facts(work, residents, pd.Timestamp(reference_date), voting_age)
    frames = [
        voter_findings(facts),
        eligible_missing(facts),
        nik_conflicts(facts),
        multiple_niks(facts),
        nik_birthdate_mismatch(facts),
        domicile_differs(facts),
        bps_not_in_registry(facts),
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_findings()
    found = pd.concat(frames, ignore_index=True)
    order = found["kind"].map({k: i for i, k in enumerate(KINDS)})
    found = found.assign(_order=order).sort_values(["_order", "resident_id", "source_rows"])
    return found[list(COLUMNS)].astype("string").reset_index(drop=True)


def summarise(findings: pd.DataFrame) -> dict[str, int]:
    """Number of findings per kind, every kind present (0 when none): for run metadata."""
    counts = findings["kind"].value_counts()
    return {kind: int(counts.get(kind, 0)) for kind in KINDS}
