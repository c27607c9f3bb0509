"""From clusters of source rows to residents: IDs and the golden record.

Survivorship follows the authorities in docs/domain.md: identity (name, birth date, sex,
registered address, NIK, alive) from the civil registry, then the voter list, then BPS;
domicile from BPS. For each field the first non-null value in that order wins.

Resident IDs are keyed hashes of the cluster's anchor identity (its registry NIK, else the
NIK or the name, birth date and desa another source recorded; see ``record_identity``), so
the same inputs always give the same IDs, an unchanged person keeps their ID in the next
snapshot, and a NIK cannot be recovered from an ID without the key.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

from matching.nik import pseudonymise
from matching.results import SOURCE_PRIORITY


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
    records: pd.DataFrame,
    clusters: pd.DataFrame,
    key: bytes,
    region: str = "",
    identity: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Residents (one row per cluster) and each record's ``resident_id`` (aligned to records).

    IDs are derived within ``region`` (the run's kab/kota): a person whose NIK appears in two
    regions (registered twice, or listed where they live) is a resident of each, with two
    IDs, and the cross-region pass (``matching.cross_region``) links them. ``identity`` is
    ``record_identity(records)`` when the caller has it already."""
    work = _in_survivorship_order(records, clusters, identity)
    held, first, sizes = _surviving_values(work)
    ids = _unique_ids(first, key, f"{region}|" if region else "")
    residents = _golden_records(ids, first, held, sizes, _alive(work), key)
    record_ids = ids.reindex(clusters["cluster"].to_numpy()).to_numpy()
    return residents, pd.Series(record_ids, index=records.index, name="resident_id")


def _in_survivorship_order(
    records: pd.DataFrame, clusters: pd.DataFrame, identity: pd.Series | None
) -> pd.DataFrame:
    """The records with their cluster, source priority and anchor identity, sorted by
    cluster and, within one, in survivorship order."""
    work = records.reset_index(drop=True).copy()
    work["cluster"] = clusters["cluster"].to_numpy()
    work["priority"] = work["source"].map(SOURCE_PRIORITY)
    # Dead registry rows rank after living ones, so a re-registered living person wins.
    work["dead"] = work["alive"].eq(False).fillna(False).astype(int)
    work["identity"] = (record_identity(work) if identity is None else identity).to_numpy()
    return work.sort_values(
        ["cluster", "priority", "dead", "source_file", "source_row"], kind="stable"
    )


#: Values taken from one source only, as ``column@source``.
_FROM_ONE_SOURCE = (("kab_code", "dukcapil"), ("kec_code", "dukcapil"), ("desa_code", "dukcapil"),
                    ("kec_code", "kpu"), ("desa_code", "kpu"), ("source", "dukcapil"),
                    ("source", "kpu"), ("desa_code", "bps"), ("tps", "kpu"))  # fmt: skip


def _surviving_values(work: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Per cluster (sorted): which sources hold it (``in_<source>``); the surviving values
    (``column``, ``column@source``, and ``column@`` for the source a value came from); and
    the number of rows."""
    # One grouping for every surviving value: per cluster, the first non-null value in
    # survivorship order, overall or from one source, and the source it came from.
    source = work["source"]
    picked: dict[str, pd.Series] = {
        "identity": work["identity"],
        "first_file": work["source_file"],
        "first_row": work["source_row"],
    }
    for column in ("name_norm", "name_titles", "birth_date", "sex", "kab_code", "nik", "source"):
        picked[column] = work[column]
    for column in ("name_norm", "birth_date", "sex"):
        picked[f"{column}@"] = source.where(work[column].notna())
    for column, origin in _FROM_ONE_SOURCE:
        picked[f"{column}@{origin}"] = work[column].where(source == origin)
    for origin in SOURCE_PRIORITY:
        picked[f"in_{origin}"] = source.eq(origin)
    frame = pd.DataFrame(picked)
    grouped = frame.groupby(work["cluster"].to_numpy(), sort=True)
    held = grouped[[f"in_{s}" for s in SOURCE_PRIORITY]].any()
    first = grouped[[c for c in frame.columns if c not in held.columns]].first()
    return held, first, grouped.size()


def _unique_ids(first: pd.DataFrame, key: bytes, scope: str) -> pd.Series:
    """Each cluster's resident ID from its anchor identity, unique among the clusters."""
    ids = _resident_ids(first["identity"], key, scope)
    # Two clusters can share an anchor NIK (a NIK conflict split in two): keep IDs unique.
    clash = ids.duplicated(keep="first")
    if clash.any():
        rows = first["first_file"] + ":" + first["first_row"].astype("string")
        ids[clash] = _resident_ids("row:" + rows[clash], key, scope)
    return ids


def _source_names(held: pd.DataFrame) -> pd.Series:
    """The sources holding each cluster, comma-separated in priority order."""
    order = sorted(SOURCE_PRIORITY, key=SOURCE_PRIORITY.__getitem__)
    names = pd.Series("", index=held.index)
    for origin in order:
        names = names + held[f"in_{origin}"].map({True: "," + origin, False: ""})
    return names.str[1:]


def _golden_records(
    ids: pd.Series,
    first: pd.DataFrame,
    held: pd.DataFrame,
    sizes: pd.Series,
    alive: pd.Series,
    key: bytes,
) -> pd.DataFrame:
    """The resident table: one golden record per cluster from its surviving values."""
    kpu_desa = first["desa_code@kpu"]
    return pd.DataFrame(
        {
            "resident_id": ids,
            "display_name": first["name_norm"],
            "name_source": first["name_norm@"],
            "name_titles": first["name_titles"],
            "birth_date": first["birth_date"],
            "birth_date_source": first["birth_date@"],
            "sex": first["sex"],
            "sex_source": first["sex@"],
            "kab_code": first["kab_code@dukcapil"].fillna(first["kab_code"]),
            "kec_code": first["kec_code@dukcapil"].fillna(first["kec_code@kpu"]),
            "desa_code": first["desa_code@dukcapil"].fillna(kpu_desa),
            "registered_source": first["source@dukcapil"].fillna(
                first["source@kpu"].where(kpu_desa.notna())
            ),
            "domicile_desa_code": first["desa_code@bps"],
            "tps": first["tps@kpu"],
            "alive": alive,
            "nik_pseudonym": pseudonymise(first["nik"], key, purpose="nik"),
            "in_dukcapil": held["in_dukcapil"],
            "in_kpu": held["in_kpu"],
            "in_bps": held["in_bps"],
            "sources": _source_names(held),
            "source_rows": sizes,
        }
    ).reset_index(drop=True)


def record_keys(records: pd.DataFrame, key: bytes, identity: pd.Series | None = None) -> pd.Series:
    """A keyed, snapshot-stable pseudonym of each record (what a reviewer's decision is
    attached to, so it still applies when the next snapshot renames files and rows).
    ``identity`` is ``record_identity(records)`` when the caller has it already."""
    work = records.reset_index(drop=True)
    identity = record_identity(work) if identity is None else identity.reset_index(drop=True)
    # Rows sharing an identity (one NIK on two people, a voter listed twice) are told apart by
    # what they describe, so a snapshot listing them in another order keeps their keys; only
    # rows describing the same person alike are told apart by their order.
    shared = identity.duplicated(keep=False)
    described = _described(work[shared.to_numpy()]).fillna("?")
    refined = identity.where(~shared, identity + "|" + described.reindex(identity.index))
    occurrence = pd.Series(0, index=refined.index)
    repeated = refined.duplicated(keep=False)
    occurrence[repeated] = refined[repeated].groupby(refined[repeated]).cumcount()
    occurrence = occurrence.astype("string")
    keys = _resident_ids(refined + "#" + occurrence, key).str[1:]
    keys.index = records.index
    return keys.astype("string")


_TEXT = "string[pyarrow]"  # Arrow-backed: joining and comparing millions of strings is fast


def record_identity(work: pd.DataFrame) -> pd.Series:
    """What a resident ID is derived from, stable across snapshots of unchanged people.

    The registry NIK; else the NIK another source holds; else the person's recorded name,
    birth date and desa. File names and row numbers change with every snapshot, so they
    are the last resort (rows with neither name nor birth date).
    """
    work = work.astype({c: _TEXT for c in ("source", "nik", "source_file")})
    registry_nik = ("nik:" + work["nik"]).where(work["source"] == "dukcapil")
    identity = registry_nik.fillna(work["source"] + ":nik:" + work["nik"])
    # The fallbacks are built only for the rows that need them.
    rest = work[identity.isna()]
    row = "row:" + rest["source_file"] + ":" + rest["source_row"].astype("string")
    return identity.fillna(_described(rest).fillna(row))


def _described(work: pd.DataFrame) -> pd.Series:
    """The record's source, name, birth date and desa (null without a name)."""
    work = work.astype({c: _TEXT for c in ("source", "name_norm", "desa_code")})
    return (
        work["source"] + ":rec:" + work["name_norm"] + "|"
        + _iso_dates(work["birth_date"]) + "|"
        + work["desa_code"].fillna("?")
    )  # fmt: skip


def _iso_dates(dates: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` per date, ``?`` where missing (numpy's formatting: far faster than
    ``strftime`` over millions of rows)."""
    text = dates.to_numpy(dtype="datetime64[D]").astype(str)
    return pd.Series(text, index=dates.index, dtype=_TEXT).where(dates.notna(), "?")


def _alive(work: pd.DataFrame) -> pd.Series:
    """Alive unless every civil-registry row of the person records a death; null if none."""
    registry = work[work["source"] == "dukcapil"]
    any_alive = registry["alive"].fillna(True).groupby(registry["cluster"]).any()
    clusters = np.sort(work["cluster"].unique())
    return any_alive.reindex(clusters).astype("boolean")
