"""Stable resident IDs across runs, with a history of merges and splits.

A new run proposes residents (clusters of records). Each proposed resident inherits the ID
of the previous resident that most of its records belonged to (records are recognised
across snapshots by their keyed ``record_key``), one-to-one, largest overlaps first. So a
statistician's counts and an auditor's references stay valid:

* unchanged people keep their IDs;
* two residents found to be one person (a **merge**): the larger keeps its ID, the other
  is recorded as merged into it;
* one resident found to be two people (a **split**): the part with most records keeps the
  ID, the other part gets a new ID recorded as split from it;
* a resident with no records left is **retired**; one with no previous records is **new**.
"""

from __future__ import annotations

import hashlib

import pandas as pd


def _fresh(proposed: str, old: str) -> str:
    """A deterministic new ID for a part split off ``old`` (never equal to a proposed ID)."""
    return "R" + hashlib.sha256(f"{proposed}/split-from/{old}".encode()).hexdigest()[:15]


def carry_ids(current: pd.DataFrame, previous: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Final resident IDs for ``current`` and the history events of this run.

    ``current``: one row per record with ``record_key`` and the proposed ``resident_id``;
    ``previous``: the same for the last published run (may be empty). Returns the final ID
    per row of ``current`` (aligned) and events with ``resident_id``, ``event``,
    ``related_id``.
    """
    if previous.empty:
        proposed = current["resident_id"]
        first = pd.DataFrame({"resident_id": proposed.drop_duplicates().to_numpy(),
                              "event": "new", "related_id": None})  # fmt: skip
        return proposed.copy(), first
    old_of = previous.drop_duplicates("record_key").set_index("record_key")["resident_id"]
    pairs = current[["resident_id", "record_key"]].assign(old=current["record_key"].map(old_of))
    overlap = (
        pairs.dropna(subset=["old"])
        .groupby(["resident_id", "old"])
        .size()
        .rename("records")
        .reset_index()
        .sort_values(["records", "resident_id", "old"], ascending=[False, True, True])
    )
    assigned: dict[str, str] = {}
    taken: set[str] = set()
    for proposed, old in zip(overlap["resident_id"], overlap["old"], strict=True):
        if proposed in assigned or old in taken:
            continue
        assigned[proposed] = old
        taken.add(old)

    final: dict[str, str] = {}
    events: list[tuple[str, str, str | None]] = []
    old_ids = set(previous["resident_id"])
    for proposed in current["resident_id"].drop_duplicates():
        if proposed in assigned:
            final[proposed] = assigned[proposed]
            continue
        parents = overlap.loc[overlap["resident_id"] == proposed, "old"]
        if len(parents):  # its records were part of a resident whose ID went elsewhere
            parent = str(parents.iloc[0])
            final[proposed] = _fresh(proposed, parent)
            events.append((final[proposed], "split", parent))
        else:
            final[proposed] = proposed if proposed not in old_ids else _fresh(proposed, "")
            events.append((final[proposed], "new", None))
    # Old residents whose ID went nowhere: merged into the resident holding their records,
    # or retired when none of their records is left.
    for old, group in overlap[~overlap["old"].isin(taken)].groupby("old", sort=True):
        events.append((str(old), "merged", final[str(group["resident_id"].iloc[0])]))
    merged_or_kept = taken | set(overlap["old"])
    for old in sorted(old_ids - merged_or_kept):
        events.append((old, "retired", None))
    ids = current["resident_id"].map(final)
    history = pd.DataFrame(events, columns=["resident_id", "event", "related_id"])
    return ids, history


#: The attributes of a resident whose change is worth recording between runs.
TRACKED = (
    "display_name", "birth_date", "sex", "kec_code", "desa_code", "domicile_desa_code", "tps",
    "alive", "nik_pseudonym", "sources",
)  # fmt: skip


def changed_attributes(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """``changed`` events for residents (same ID in both frames) whose tracked attributes
    differ; ``details`` names the attributes (never their values)."""
    columns = ["resident_id", *TRACKED]
    both = current[columns].merge(previous[columns], on="resident_id", suffixes=("", "_before"))
    differs = {}
    for column in TRACKED:
        a, b = both[column], both[f"{column}_before"]
        if str(a.dtype).startswith("datetime") or str(b.dtype).startswith("datetime"):
            a, b = pd.to_datetime(a), pd.to_datetime(b)
        else:
            a, b = a.astype("string"), b.astype("string")
        same = (a == b).fillna(False).astype(bool) | (a.isna() & b.isna())
        differs[column] = ~same.to_numpy()
    flags = pd.DataFrame(differs)
    changed = flags.any(axis=1).to_numpy()
    names = pd.Index(TRACKED)
    details = [",".join(names[row]) for row in flags.to_numpy()[changed]]
    return pd.DataFrame(
        {
            "resident_id": both.loc[changed, "resident_id"].astype("string").to_numpy(),
            "event": "changed",
            "related_id": pd.NA,
            "details": details,
        }
    ).astype("string")
