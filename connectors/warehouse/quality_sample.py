"""The clerical quality sample in the warehouse: drawing it, its review queue, its labels and
the precision and recall estimated from them (``padu quality``; the statistics are
``matching.quality``).

A sample is drawn against the region's published result without a stored table of scored
pairs: the region's current records are read back (``state.stored_records``), the engine
scores them again with the stored review decisions (the same code and settings as the run,
so the same pairs and probabilities), and the published links say which pairs are linked.

Items name records by their keyed pseudonym (``record_key``) and their file and row, never by
NIK or KK. Every statement binds its values; only padu's own table and column names are in
the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from connectors.schema import COLUMNS, Source, conform
from connectors.warehouse import state
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.review import load_decisions
from connectors.warehouse.tables import quality_item, quality_sample, quality_stratum
from matching import quality
from matching.engine import FellegiSunterLinker
from matching.region import decisions_for

LABELS = ("match", "no_match", "unsure")
#: Who labels an item whose record had no candidate at all: padu, as "no match" (there is no
#: pair to be one person); a reviewer may still change it.
NO_CANDIDATE_BY = "padu"
NO_CANDIDATE_NOTE = "no candidate: no record of the other source of this sex born within a year"
ITEM_COLUMNS = (
    "item_id", "region", "sample_id", "stratum", "source_pair", "linked", "probability",
    "left_source", "left_key", "left_file", "left_row", "right_source", "right_key",
    "right_file", "right_row", "inclusion", "label", "note", "decided_by", "decided_at",
)  # fmt: skip
ESTIMATE_COLUMNS = ("region", "sample_id", *quality.estimate(pd.DataFrame(
    columns=list(quality.STRATUM_COLUMNS))).columns)  # fmt: skip


class QualityError(ValueError):
    """A sample that cannot be drawn, or a label that cannot be recorded."""


@dataclass(frozen=True)
class DrawnSample:
    sample_id: int
    items: int
    strata: pd.DataFrame  # stratum, source_pair, linked, band, population, sampled, inclusion


def region_records(store: Warehouse, region: str) -> tuple[pd.DataFrame, pd.Series]:
    """The region's current records of every source (as the run read them: sources in
    order, rows in file order) and each one's record key, aligned."""
    store.create_tables()
    files = state.current_files(store, region)
    frames = [
        state.stored_records(store, region, str(files[s.value]), [*COLUMNS, "record_key"])
        for s in Source
        if s.value in files.index
    ]
    if not frames:
        return conform(pd.DataFrame(columns=list(COLUMNS))), pd.Series(dtype="string")
    rows = pd.concat(frames, ignore_index=True)
    return conform(rows[list(COLUMNS)]), rows["record_key"].astype("string")


def _residents(store: Warehouse, region: str, records: pd.DataFrame) -> np.ndarray:
    """The published resident of each record (None where it has none)."""
    links = store.query(
        "SELECT source_file, source_row, resident_id FROM resident_link WHERE region = :r",
        {"r": region},
    ).astype({"source_file": "string", "source_row": "int64", "resident_id": "string"})
    where = records[["source_file", "source_row"]].astype(
        {"source_file": "string", "source_row": "int64"}
    )
    merged = where.merge(links, on=["source_file", "source_row"], how="left")
    return merged["resident_id"].to_numpy(dtype=object, na_value=None)


def draw_sample(
    store: Warehouse,
    region: str,
    size: int,
    seed: int | None = None,
    drawn_by: str | None = None,
    linker: FellegiSunterLinker | None = None,
) -> DrawnSample:
    """Draw and store a stratified sample of ``size`` items of the region's candidate pairs
    (``matching.quality``): it becomes the region's current sample, whose items wait for
    labels. ``seed``: the random draw (default: from the clock; stored with the sample)."""
    if size < 1:
        raise QualityError("the sample needs at least one item")
    records, keys = region_records(store, region)
    if records.empty:
        raise QualityError(f"region {region} has no current records in the warehouse")
    resident = _residents(store, region, records)
    if all(r is None for r in resident):
        raise QualityError(f"region {region} has no published links: run padu first")
    seed = int(seed if seed is not None else datetime.now(UTC).timestamp() * 1000) % (2**31)
    engine = linker or FellegiSunterLinker()
    result = engine.link(records, decisions_for(keys, load_decisions(store)))
    pairs = getattr(result, "pairs", None)
    if pairs is None:
        raise QualityError("the linker gave no scored pairs")
    threshold = engine.settings.match_probability
    frame = quality.build_frame(
        records["source"].to_numpy(dtype=object), resident, pairs.left, pairs.right,
        pairs.probability, threshold,
    )  # fmt: skip
    drawn = quality.draw(frame, size, seed)
    items = _items(records, keys, frame, drawn)
    rng = np.random.default_rng(seed + 1)
    # The queue's order is random across strata: a reviewer who labels only part of it
    # leaves a random subsample of each stratum.
    items = items.iloc[rng.permutation(len(items))].reset_index(drop=True)
    run_id = store.scalar("SELECT max(run_id) FROM resident_link WHERE region = :r", {"r": region})
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with store.transaction() as conn:
        sample_id = 1 + int(
            conn.execute(sa.select(sa.func.coalesce(sa.func.max(quality_sample.c.sample_id), 0)))
            .scalar_one()
        )  # fmt: skip
        first_item = 1 + int(
            conn.execute(sa.select(sa.func.coalesce(sa.func.max(quality_item.c.item_id), 0)))
            .scalar_one()
        )  # fmt: skip
        conn.execute(
            sa.insert(quality_sample).values(
                sample_id=sample_id,
                region=region,
                drawn_at=now,
                drawn_by=drawn_by,
                seed=seed,
                size=int(size),
                match_probability=float(threshold),
                run_id=run_id,
            )  # fmt: skip
        )
        strata = drawn.strata
        conn.execute(
            sa.insert(quality_stratum),
            [
                {
                    "sample_id": sample_id,
                    "stratum": str(s.stratum),
                    "source_pair": str(s.source_pair),
                    "linked": bool(s.linked),
                    "band": str(s.band),
                    "population": int(s.population),
                    "sampled": int(s.sampled),
                    "inclusion": float(s.inclusion),
                }  # fmt: skip
                for s in strata.itertuples(index=False)
            ],
        )
        if len(items):
            rows = _rows(items.assign(item_id=range(first_item, first_item + len(items))))
            for row in rows:
                row.update(sample_id=sample_id, region=region)
                if row["label"] is not None:
                    row["decided_at"] = now
            conn.execute(sa.insert(quality_item), rows)
    columns = ["stratum", "source_pair", "linked", "band", "population", "sampled", "inclusion"]
    return DrawnSample(sample_id, len(items), strata[columns])


def _items(
    records: pd.DataFrame, keys: pd.Series, frame: quality.Frame, drawn: quality.Drawn
) -> pd.DataFrame:
    """The drawn pairs and records as item rows (without ids)."""
    source = records["source"].astype("string").to_numpy(dtype=object)
    file = records["source_file"].astype("string").to_numpy(dtype=object)
    row = records["source_row"].to_numpy(dtype=np.int64)
    key = keys.to_numpy(dtype=object, na_value=None)
    inclusion = dict(zip(drawn.strata["stratum"], drawn.strata["inclusion"], strict=True))

    def side(prefix: str, positions: np.ndarray) -> dict[str, list[object]]:
        known = positions >= 0
        at = np.where(known, positions, 0)
        return {
            f"{prefix}_source": list(np.where(known, source[at], None)),
            f"{prefix}_key": list(np.where(known, key[at], None)),
            f"{prefix}_file": list(np.where(known, file[at], None)),
            f"{prefix}_row": [int(r) if k else None for r, k in zip(row[at], known, strict=True)],
        }

    p = drawn.pairs
    pairs = pd.DataFrame(
        {
            "stratum": p["stratum"].to_numpy(dtype=object),
            "source_pair": p["source_pair"].to_numpy(dtype=object),
            "linked": p["linked"].to_numpy(dtype=bool),
            "probability": p["probability"].to_numpy(dtype=float),
            **side("left", p["left"].to_numpy(dtype=np.int64)),
            **side("right", p["right"].to_numpy(dtype=np.int64)),
            "label": None,
            "note": None,
            "decided_by": None,
        }
    )
    r = drawn.records
    wanted = r["record"].to_numpy(dtype=np.int64)
    candidate = quality.loose_candidates(
        records, wanted, r["other_source"].to_numpy(dtype=object), frame
    )
    none = candidate < 0
    singles = pd.DataFrame(
        {
            "stratum": r["stratum"].to_numpy(dtype=object),
            "source_pair": r["source_pair"].to_numpy(dtype=object),
            "linked": False,
            "probability": np.nan,
            **side("left", wanted),
            **side("right", candidate),
            "label": ["no_match" if x else None for x in none],
            "note": [NO_CANDIDATE_NOTE if x else None for x in none],
            "decided_by": [NO_CANDIDATE_BY if x else None for x in none],
        }
    )
    items = pd.concat([pairs, singles], ignore_index=True)
    items["inclusion"] = items["stratum"].map(inclusion).astype(float)
    return items


def _rows(items: pd.DataFrame) -> list[dict[str, object]]:
    """Item rows as plain Python values (None for missing) for an insert."""
    out = []
    for record in items.to_dict("records"):
        row: dict[str, object] = {}
        for name, value in record.items():
            if value is None or (isinstance(value, float) and np.isnan(value)):
                row[name] = None
            elif isinstance(value, np.generic):
                row[name] = value.item()
            else:
                row[name] = value
        row.setdefault("decided_at", None)
        out.append(row)
    return out


def current_sample(store: Warehouse, region: str) -> int | None:
    """The region's newest sample, None when it has none."""
    store.create_tables()
    found = store.scalar(
        f"SELECT max(sample_id) FROM {quality_sample.name} WHERE region = :r", {"r": region}
    )
    return None if found is None else int(found)


def sampled_regions(store: Warehouse) -> list[str]:
    """The regions with a quality sample, in order."""
    store.create_tables()
    found = store.query(f"SELECT DISTINCT region FROM {quality_sample.name} ORDER BY region")
    return [str(r) for r in found["region"]]


def sample_items(store: Warehouse, region: str, unlabelled_only: bool = True) -> pd.DataFrame:
    """The items of the region's current sample in queue order (``ITEM_COLUMNS``): those
    without a label yet, or all. An item is a pair of record keys (``left_key``,
    ``right_key``; ``right_key`` null when the left record had no candidate at all), with
    their files and rows, the stratum and the engine's probability."""
    sample_id = current_sample(store, region)
    if sample_id is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ITEM_COLUMNS})
    where = " AND label IS NULL" if unlabelled_only else ""
    return store.query(
        f"SELECT {', '.join(ITEM_COLUMNS)} FROM {quality_item.name} "
        f"WHERE sample_id = :s{where} ORDER BY item_id",
        {"s": sample_id},
    )


def label_item(
    store: Warehouse, item_id: int, label: str, decided_by: str, note: str | None = None
) -> None:
    """Record (or replace) a reviewer's label on an item: ``match``, ``no_match`` or
    ``unsure`` (left out of the estimates, and counted). ``QualityError`` for an unknown
    item or label, or no reviewer's name."""
    label_items(
        store, pd.DataFrame({"item_id": [item_id], "label": [label], "note": [note]}), decided_by
    )


def label_items(store: Warehouse, labels: pd.DataFrame, decided_by: str) -> int:
    """``label_item`` for many items in one transaction: ``labels`` has ``item_id``,
    ``label`` and optionally ``note``. Nothing is recorded if any item or label is wrong.
    Returns the number of items labelled."""
    if not (decided_by or "").strip():
        raise QualityError("say who labelled: the reviewer's name may not be empty")
    wrong = sorted(set(labels["label"]) - set(LABELS))
    if wrong:
        raise QualityError(f"label must be one of {', '.join(LABELS)}, not {wrong[0]!r}")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    notes = labels["note"] if "note" in labels else pd.Series(None, index=labels.index)
    with store.transaction() as conn:
        for item_id, label, note in zip(labels["item_id"], labels["label"], notes, strict=True):
            try:
                item = int(item_id)
            except (TypeError, ValueError):
                raise QualityError(f"no quality item {item_id!r}") from None
            done = conn.execute(
                sa.update(quality_item)
                .where(quality_item.c.item_id == item)
                .values(
                    label=str(label),
                    note=None if pd.isna(note) else str(note),
                    decided_by=decided_by.strip(),
                    decided_at=now,
                )  # fmt: skip
            )
            if done.rowcount == 0:
                raise QualityError(f"no quality item {item_id}")
    return len(labels)


def stratum_counts(store: Warehouse, sample_id: int) -> pd.DataFrame:
    """Per stratum of a sample: its size, labels (match or no_match), matches and unsure."""
    return store.query(
        "SELECT s.stratum, s.source_pair, s.linked, s.band, s.population, s.sampled, "
        "coalesce(sum(CASE WHEN i.label IN ('match', 'no_match') THEN 1 ELSE 0 END), 0) "
        "AS labelled, "
        "coalesce(sum(CASE WHEN i.label = 'match' THEN 1 ELSE 0 END), 0) AS matches, "
        "coalesce(sum(CASE WHEN i.label = 'unsure' THEN 1 ELSE 0 END), 0) AS unsure "
        f"FROM {quality_stratum.name} s LEFT JOIN {quality_item.name} i "
        "ON i.sample_id = s.sample_id AND i.stratum = s.stratum "
        "WHERE s.sample_id = :s "
        "GROUP BY s.stratum, s.source_pair, s.linked, s.band, s.population, s.sampled "
        "ORDER BY s.stratum",
        {"s": sample_id},
    )


def estimates(store: Warehouse, region: str) -> pd.DataFrame:
    """Precision and recall with 95% intervals per source pair, from the labels of the
    region's current sample (``matching.quality.estimate``): ``source_pair``, ``precision``,
    ``precision_low``, ``precision_high``, ``recall``, ``recall_low``, ``recall_high``,
    ``labelled``, ``matches``, ``unsure``, the strata and the design-weighted counts. Empty
    when the region has no sample."""
    sample_id = current_sample(store, region)
    if sample_id is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ESTIMATE_COLUMNS})
    counts = stratum_counts(store, sample_id).astype({"linked": bool})
    found = quality.estimate(counts)
    found.insert(0, "sample_id", sample_id)
    found.insert(0, "region", region)
    return found.reset_index(drop=True)
