"""Clerical review decisions: stored in the warehouse, applied by every later run."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from connectors.tables import review_decision
from connectors.warehouse import Warehouse

DECISIONS = ("match", "no_match")


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


def record_decision(
    store: Warehouse, left: tuple[str, int], right: tuple[str, int], decision: str, by: str
) -> None:
    """Record (or replace) the decision on the pair of source rows ``left`` and ``right``."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
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
            )  # fmt: skip
        )


def load_decisions(store: Warehouse) -> pd.DataFrame:
    """All decisions: ``left_key``, ``right_key``, ``decision``."""
    store.create_tables()
    return store.query("SELECT left_key, right_key, decision FROM review_decision")


def decisions_for(records_keys: pd.Series, decisions: pd.DataFrame) -> pd.DataFrame:
    """Decisions as record positions (``left``, ``right``, ``match``) for the linker.

    ``records_keys`` holds each record's key, aligned to the linker's records. A key seen on
    several rows (a voter listed twice) applies to each of them.
    """
    positions = pd.DataFrame({"key": records_keys.to_numpy(), "position": range(len(records_keys))})
    pairs = decisions.merge(positions, left_on="left_key", right_on="key").merge(
        positions, left_on="right_key", right_on="key", suffixes=("_l", "_r")
    )
    return pd.DataFrame(
        {
            "left": pairs["position_l"].to_numpy(dtype="int64"),
            "right": pairs["position_r"].to_numpy(dtype="int64"),
            "match": (pairs["decision"] == "match").to_numpy(),
        }
    )
