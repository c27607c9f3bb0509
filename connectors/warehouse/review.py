"""Clerical review decisions: stored in the warehouse, applied by every later run.

Before a decision is recorded, ``pair_evidence`` gathers what the two rows say about their
person (name, sex, birth date, desa, and whether their NIKs agree, compared inside the
warehouse: no NIK or KK number is read), so that a reviewer who typed the wrong row is told
when the rows contradict the decision (``PairEvidence.against``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import review_decision, source_record
from matching.region import APPLIED_DECISIONS

#: What a reviewer may decide on a pair. ``unsure`` is stored (with its note, for a senior
#: reviewer to settle) but not applied: the run decides the pair as if undecided, and it
#: stays in the review queue, after the undecided pairs.
DECISIONS = ("match", "no_match", "unsure")
UNSURE = "unsure"
#: Birth dates at least this far apart (days) speak against one person: two years, more than
#: a mistyped digit of the day, month or last digit of the year usually makes.
BIRTHS_APART_DAYS = 730


class ReviewError(ValueError):
    """A decision that cannot be recorded (unknown pair or decision)."""


def find_row_key(store: Warehouse, file: str, row: int) -> str:
    """The record_key of a published source row."""
    store.create_tables()
    with store.transaction() as conn:
        key = conn.execute(
            sa.text(
                "SELECT record_key FROM resident_link WHERE source_file = :f AND source_row = :r"
            ),
            {"f": file, "r": row},
        ).scalar()
    if key is None:
        raise ReviewError(f"{file} row {row} is not in resident_link")
    return str(key)


@dataclass(frozen=True)
class ReviewedRow:
    """What one source row says about its person: never its NIK or KK number."""

    ref: str  # FILE:ROW
    source: str
    name: str | None
    sex: str | None  # M or F
    birth_date: date | None
    desa: str | None  # Kemendagri code and name
    has_nik: bool  # the row has a usable NIK

    def describe(self) -> str:
        born = self.birth_date.isoformat() if self.birth_date else "unknown"
        return (
            f"{self.ref} ({self.source}): {self.name or '(no name)'}, sex {self.sex or '?'}, "
            f"born {born}, desa {self.desa or 'unknown'}"
            + ("" if self.has_nik else ", no usable NIK")
        )


@dataclass(frozen=True)
class PairEvidence:
    """The two rows of a decision, and whether their NIKs agree: ``None`` when either row has
    no usable NIK."""

    left: ReviewedRow
    right: ReviewedRow
    same_nik: bool | None

    def nik_text(self) -> str:
        if self.same_nik is None:
            return "not comparable (a row has no usable NIK)"
        return "the same" if self.same_nik else "different"

    def against(self, decision: str) -> list[str]:
        """What in the rows speaks strongly against ``decision``: for ``match``, different
        sex, birth dates years apart or different NIKs; for ``no_match``, the same NIK."""
        a, b = self.left, self.right
        if decision not in APPLIED_DECISIONS:
            return []
        if decision == "no_match":
            return ["both rows carry the same NIK"] if self.same_nik else []
        reasons = []
        if a.sex and b.sex and a.sex != b.sex:
            reasons.append(f"different sex ({a.sex} and {b.sex})")
        if a.birth_date and b.birth_date:
            apart = abs((a.birth_date - b.birth_date).days)
            if apart >= BIRTHS_APART_DAYS:
                reasons.append(
                    f"birth dates {apart / 365.25:.0f} years apart "
                    f"({a.birth_date.isoformat()} and {b.birth_date.isoformat()})"
                )
        if self.same_nik is False:
            reasons.append("different NIKs")
        return reasons


def pair_evidence(store: Warehouse, left: tuple[str, int], right: tuple[str, int]) -> PairEvidence:
    """The two published source rows ``left`` and ``right`` (file, row), side by side.

    ``ReviewError`` if either is not in ``resident_link`` or both are the same record."""
    if find_row_key(store, *left) == find_row_key(store, *right):
        raise ReviewError("both rows are the same record")
    rows = [_reviewed_row(store, *ref) for ref in (left, right)]
    # Compared in the warehouse: only whether they agree comes back.
    same = store.scalar(
        f"SELECT a.nik = b.nik FROM {source_record.fullname} a, {source_record.fullname} b "
        "WHERE a.source_file = :lf AND a.source_row = :lr AND b.source_file = :rf "
        "AND b.source_row = :rr AND a.nik IS NOT NULL AND b.nik IS NOT NULL",
        {"lf": left[0], "lr": left[1], "rf": right[0], "rr": right[1]},
    )
    return PairEvidence(rows[0], rows[1], None if same is None else bool(same))


def _reviewed_row(store: Warehouse, file: str, row: int) -> ReviewedRow:
    found = store.query(
        "SELECT l.source, r.name_raw, r.sex, r.birth_date, r.desa_code, "
        "r.nik IS NOT NULL AS has_nik FROM resident_link l "
        f"LEFT JOIN {source_record.fullname} r "
        "ON r.source_file = l.source_file AND r.source_row = l.source_row "
        "WHERE l.source_file = :f AND l.source_row = :r",
        {"f": file, "r": row},
    ).iloc[0]
    birth = found["birth_date"]
    return ReviewedRow(
        ref=f"{file}:{row}",
        source=str(found["source"]),
        name=_text(found["name_raw"]),
        sex=_text(found["sex"]),
        birth_date=None if pd.isna(birth) else pd.Timestamp(birth).date(),
        desa=_desa(_text(found["desa_code"])),
        has_nik=bool(found["has_nik"]) if not pd.isna(found["has_nik"]) else False,
    )


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)  # type: ignore[arg-type]


def _desa(code: str | None) -> str | None:
    """A desa code with its name from the region reference, when known."""
    if code is None:
        return None
    from connectors.reference.regions import crosswalk

    table = crosswalk()
    names = table.loc[
        (table["level"] == "desa") & (table["kemendagri_code"] == code), "name"
    ].tolist()
    return f"{code} {names[0]}" if names else code


def record_decision(
    store: Warehouse,
    left: tuple[str, int],
    right: tuple[str, int],
    decision: str,
    by: str,
    note: str | None = None,
) -> None:
    """Record (or replace) the decision on the pair of source rows ``left`` and ``right``,
    with the reviewer's ``note`` (free text; blank is none)."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not by.strip():
        raise ReviewError("say who decided: the reviewer's name may not be empty")
    keys = sorted([(find_row_key(store, *left), left), (find_row_key(store, *right), right)])
    (left_key, left_ref), (right_key, right_ref) = keys
    if left_key == right_key:
        raise ReviewError("both rows are the same record")
    with store.transaction() as conn:
        conn.execute(
            sa.delete(review_decision).where(
                (review_decision.c.left_key == left_key)
                & (review_decision.c.right_key == right_key)
            )
        )
        conn.execute(
            sa.insert(review_decision).values(
                left_key=left_key,
                right_key=right_key,
                decision=decision,
                left_file=left_ref[0],
                left_row=left_ref[1],
                right_file=right_ref[0],
                right_row=right_ref[1],
                decided_by=by,
                decided_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
                note=(note or "").strip() or None,
            )  # fmt: skip
        )


def load_decisions(store: Warehouse) -> pd.DataFrame:
    """All decisions, unsure ones too: ``left_key``, ``right_key``, ``decision``
    (``matching.region.applied`` keeps those a run applies)."""
    store.create_tables()
    return store.query("SELECT left_key, right_key, decision FROM review_decision")
