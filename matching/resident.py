"""From clusters of source rows to residents: IDs and the golden record.

Survivorship follows the authorities in domain.md: identity (name, birth date, sex,
registered address, NIK, alive) from the civil registry, then the voter list, then BPS;
domicile from BPS. For each field the first non-null value in that order wins.

Resident IDs are keyed hashes of the cluster's anchor identity (its registry NIK, else the
NIK or the name, birth date and desa another source recorded; see ``_identity``), so the
same inputs always give the same IDs, an unchanged person keeps their ID in the next
snapshot, and a NIK cannot be recovered from an ID without the key.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

from matching.linkage import SOURCE_PRIORITY
from matching.nik import pseudonymise


def _resident_ids(identities: pd.Series, key: bytes, prefix: str = "") -> pd.Series:
    """The resident ID of ``prefix + identity`` for each value: ``R`` and 15 hex digits of
    its keyed hash (set up once and copied per value: twice as fast as one per value)."""
    base = hmac.new(key, b"resident\x00" + prefix.encode(), hashlib.sha256)

    def one(identity: str) -> str:
        digest = base.copy()
        digest.update(identity.encode())
        return "R" + digest.hexdigest()[:15]

    return pd.Series([one(v) for v in identities], index=identities.index, dtype=object)


def build_residents(
    records: pd.DataFrame, clusters: pd.DataFrame, key: bytes, region: str = ""
) -> tuple[pd.DataFrame, pd.Series]:
    """Residents (one row per cluster) and each record's ``resident_id`` (aligned to records).

    IDs are derived within ``region`` (the run's kab/kota): a person whose NIK appears in two
    regions (registered twice, or listed where they live) is a resident of each, with two
    IDs, and the cross-region pass (``matching.cross_region``) links them."""
    work = records.reset_index(drop=True).copy()
    work["cluster"] = clusters["cluster"].to_numpy()
    work["priority"] = work["source"].map(SOURCE_PRIORITY)
    # Dead registry rows rank after living ones, so a re-registered living person wins.
    work["dead"] = work["alive"].eq(False).fillna(False).astype(int)
    work = work.sort_values(
        ["cluster", "priority", "dead", "source_file", "source_row"], kind="stable"
    )

    work["identity"] = _identity(work)
    first = work.groupby("cluster", sort=True)
    anchor = first["identity"].first()
    scope = f"{region}|" if region else ""
    ids = _resident_ids(anchor, key, scope)
    # Two clusters can share an anchor NIK (a NIK conflict split in two): keep IDs unique.
    clash = ids.duplicated(keep="first")
    if clash.any():
        rows = first["source_file"].first() + ":" + first["source_row"].first().astype("string")
        ids[clash] = _resident_ids("row:" + rows[clash], key, scope)

    def best(column: str, source: str | None = None) -> pd.Series:
        values = work[column] if source is None else work[column].where(work["source"] == source)
        return values.groupby(work["cluster"], sort=True).first()

    def source_of(column: str) -> pd.Series:
        """Which source the surviving value of ``column`` came from."""
        return best_source_of(work, column)

    # cluster x source: which sources hold the resident
    held = pd.DataFrame(
        {s: work["source"].eq(s).groupby(work["cluster"], sort=True).any() for s in SOURCE_PRIORITY}
    )
    order = sorted(SOURCE_PRIORITY, key=SOURCE_PRIORITY.__getitem__)
    names = pd.Series("", index=held.index)
    for source in order:
        names = names + held[source].map({True: "," + source, False: ""})
    sources = names.str[1:]
    residents = pd.DataFrame(
        {
            "resident_id": ids,
            "display_name": best("name_norm"),
            "name_source": source_of("name_norm"),
            "name_titles": best("name_titles"),
            "birth_date": best("birth_date"),
            "birth_date_source": source_of("birth_date"),
            "sex": best("sex"),
            "sex_source": source_of("sex"),
            "kab_code": best("kab_code", "dukcapil").fillna(best("kab_code")),
            "kec_code": best("kec_code", "dukcapil").fillna(best("kec_code", "kpu")),
            "desa_code": best("desa_code", "dukcapil").fillna(best("desa_code", "kpu")),
            "registered_source": best("source", "dukcapil").fillna(
                best("source", "kpu").where(best("desa_code", "kpu").notna())
            ),
            "domicile_desa_code": best("desa_code", "bps"),
            "tps": best("tps", "kpu"),
            "alive": _alive(work),
            "nik_pseudonym": pseudonymise(best("nik"), key, purpose="nik"),
            "in_dukcapil": held["dukcapil"],
            "in_kpu": held["kpu"],
            "in_bps": held["bps"],
            "sources": sources,
            "source_rows": first.size(),
        }
    ).reset_index(drop=True)
    record_ids = ids.reindex(clusters["cluster"].to_numpy()).to_numpy()
    return residents, pd.Series(record_ids, index=records.index, name="resident_id")


def record_keys(records: pd.DataFrame, key: bytes) -> pd.Series:
    """A keyed, snapshot-stable pseudonym of each record (what a reviewer's decision is
    attached to, so it still applies when the next snapshot renames files and rows)."""
    work = records.reset_index(drop=True)
    identity = _identity(work)
    # Rows sharing an identity (one NIK on two people, a voter listed twice) are told apart by
    # what they describe, so a snapshot listing them in another order keeps their keys; only
    # rows describing the same person alike are told apart by their order.
    shared = identity.duplicated(keep=False)
    refined = identity.where(~shared, identity + "|" + _described(work).fillna("?"))
    occurrence = refined.groupby(refined).cumcount().astype("string")
    keys = _resident_ids(refined + "#" + occurrence, key).str[1:]
    keys.index = records.index
    return keys.astype("string")


def best_source_of(work: pd.DataFrame, column: str) -> pd.Series:
    """Per cluster, the source of the first non-null ``column`` in survivorship order."""
    return work["source"].where(work[column].notna()).groupby(work["cluster"], sort=True).first()


_TEXT = "string[pyarrow]"  # Arrow-backed: joining and comparing millions of strings is fast


def _identity(work: pd.DataFrame) -> pd.Series:
    """What a resident ID is derived from, stable across snapshots of unchanged people.

    The registry NIK; else the NIK another source holds; else the person's recorded name,
    birth date and desa. File names and row numbers change with every snapshot, so they
    are the last resort (rows with neither name nor birth date).
    """
    work = work.astype({c: _TEXT for c in ("source", "nik", "source_file")})
    registry_nik = ("nik:" + work["nik"]).where(work["source"] == "dukcapil")
    other_nik = work["source"] + ":nik:" + work["nik"]
    row = "row:" + work["source_file"] + ":" + work["source_row"].astype("string")
    return registry_nik.fillna(other_nik).fillna(_described(work)).fillna(row)


def _described(work: pd.DataFrame) -> pd.Series:
    """The record's source, name, birth date and desa (null without a name)."""
    work = work.astype({c: _TEXT for c in ("source", "name_norm", "desa_code")})
    return (
        work["source"] + ":rec:" + work["name_norm"] + "|"
        + work["birth_date"].dt.strftime("%Y-%m-%d").fillna("?") + "|"
        + work["desa_code"].fillna("?")
    )  # fmt: skip


def _alive(work: pd.DataFrame) -> pd.Series:
    """Alive unless every civil-registry row of the person records a death; null if none."""
    registry = work[work["source"] == "dukcapil"]
    any_alive = registry["alive"].fillna(True).groupby(registry["cluster"]).any()
    clusters = np.sort(work["cluster"].unique())
    return any_alive.reindex(clusters).astype("boolean")
