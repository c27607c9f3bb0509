"""A region's result from its records: links, residents, review pairs, history and findings.

Pure: what a run reads from the warehouse goes in (the standardised records of every source,
the pseudonym key, the stored review decisions, the links and residents last published for
the region), and what it publishes comes out. The pipeline reads, calls ``link_region`` and
writes; nothing here touches a database or a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from matching.discrepancies import find_discrepancies
from matching.identity import carry_ids, changed_attributes
from matching.linkage import default_linker
from matching.resident import build_residents, record_identity, record_keys
from matching.results import Linker, LinkResult

#: The review decisions a run applies; any other (``unsure``) is stored for a later reviewer
#: and leaves the pair to the model, and in the review queue.
APPLIED_DECISIONS = ("match", "no_match")


@dataclass(frozen=True)
class PreviousState:
    """What the warehouse holds for the region before the run."""

    #: ``record_key`` -> ``resident_id`` as last published (empty on a first run).
    links: pd.DataFrame
    #: The published residents: ``resident_id`` and the tracked attributes
    #: (``matching.identity.TRACKED``).
    residents: pd.DataFrame
    #: Every stored review decision (``left_key``, ``right_key``, ``decision``), unsure ones
    #: included (``decisions_for`` leaves them out).
    decisions: pd.DataFrame


@dataclass(frozen=True)
class RegionResult:
    """Aligned to the input records where per record (``keys``, ``links``)."""

    keys: pd.Series
    links: pd.DataFrame
    residents: pd.DataFrame
    review: pd.DataFrame
    history: pd.DataFrame
    discrepancies: pd.DataFrame
    decisions_applied: int
    linkage: LinkResult
    #: The candidate pairs of each blocking rule and how they scored (``linkage_blocking``).
    blocking: pd.DataFrame


def applied(decisions: pd.DataFrame) -> pd.DataFrame:
    """The decisions a run applies (``APPLIED_DECISIONS``): not the unsure ones."""
    return decisions[decisions["decision"].isin(APPLIED_DECISIONS)]


def decisions_for(records_keys: pd.Series, decisions: pd.DataFrame) -> pd.DataFrame:
    """Decisions as record positions (``left``, ``right``, ``match``) for the linker.

    ``records_keys`` holds each record's key, aligned to the linker's records. A key seen on
    several rows (a voter listed twice) applies to each of them. Only match and no_match
    decisions are applied (``APPLIED_DECISIONS``): an unsure one leaves the pair to the model.
    """
    decisions = applied(decisions)
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


def link_region(
    records: pd.DataFrame,
    key: bytes,
    region: str,
    reference: date,
    previous: PreviousState,
    linker: Linker | None = None,
) -> RegionResult:
    """Link ``records`` (canonical, every source of the region) into residents, carrying the
    IDs of ``previous`` residents over, and find the discrepancies as of ``reference``."""
    identity = record_identity(records)
    keys = record_keys(records, key, identity)
    decisions = decisions_for(keys, previous.decisions)
    result = (linker or default_linker()).link(records, decisions)
    residents, proposed = build_residents(records, result.clusters, key, region, identity)
    record_ids, carried = carry_ids(
        pd.DataFrame({"record_key": keys, "resident_id": proposed}), previous.links
    )
    residents["resident_id"] = residents["resident_id"].map(
        dict(zip(proposed, record_ids, strict=True))
    )
    links = pd.DataFrame(
        {
            "source": records["source"],
            "source_file": records["source_file"],
            "source_row": records["source_row"],
            "resident_id": record_ids.astype("string"),
            "link_method": result.clusters["link_method"].astype("string"),
            "link_score": result.clusters["link_score"],
            "record_key": keys,
        }
    )
    changed = changed_attributes(previous.residents, residents)
    history = pd.concat([carried.astype("string"), changed], ignore_index=True)
    findings = find_discrepancies(records, links, residents, reference_date=reference)
    return RegionResult(
        keys=keys,
        links=links,
        residents=residents,
        review=review_rows(records, keys, result),
        history=history.astype("string"),
        discrepancies=findings.astype("string").assign(reference_date=pd.Timestamp(reference)),
        decisions_applied=len(decisions),
        linkage=result,
        blocking=result.blocking_figures(),
    )


def review_rows(records: pd.DataFrame, keys: pd.Series, result: LinkResult) -> pd.DataFrame:
    """The linker's review pairs as rows of ``review_queue``: each side's source row and key."""
    pairs = result.review()
    left = records.iloc[pairs["left"].to_numpy()]
    right = records.iloc[pairs["right"].to_numpy()]
    return pd.DataFrame(
        {
            "left_source": left["source"].to_numpy(),
            "left_file": left["source_file"].to_numpy(),
            "left_row": left["source_row"].to_numpy(dtype="int64"),
            "right_source": right["source"].to_numpy(),
            "right_file": right["source_file"].to_numpy(),
            "right_row": right["source_row"].to_numpy(dtype="int64"),
            "left_key": keys.iloc[pairs["left"].to_numpy()].to_numpy(),
            "right_key": keys.iloc[pairs["right"].to_numpy()].to_numpy(),
            "match_probability": pairs["match_probability"].to_numpy(dtype=float),
            "match_weight": pairs["match_weight"].to_numpy(dtype=float),
            "explanation": pairs["explanation"].astype("string").to_numpy(),
        }
    ).astype({"left_source": "string", "left_file": "string", "right_source": "string",
              "right_file": "string", "explanation": "string", "left_key": "string",
              "right_key": "string"})  # fmt: skip
