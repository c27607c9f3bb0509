"""Per-source raw assets: each newest extract read, every row kept or quarantined.

A file whose checksum the warehouse has already loaded for the region is not read again (its
standardised records are taken from ``restricted.source_record``; ``reload`` on the landing
resource forces a re-read, e.g. after a column-mapping change).

A newest file that cannot be read, or that suddenly holds far fewer rows than the source's
current snapshot (``snapshot_rows_min_share``), is refused: the source stays on its current
snapshot, so one broken delivery does not hold the other sources back, and the source's
``current_snapshot`` check fails so that the run is noticed. With no current snapshot to fall
back on, the region fails.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from connectors.agencies.extract import (
    ExtractError,
    FileChangedError,
    RawExtract,
    checksum_of,
)
from connectors.landing import origin
from connectors.landing.folder import ExtractFile
from connectors.reference.regions import Kabupaten
from connectors.schema import Source
from connectors.warehouse import staging, state
from connectors.warehouse.engine import Warehouse
from pipelines.partitions import regions, run_region
from pipelines.resources import AuditSettings, LandingFolder, SourcesResource, WarehouseResource
from pipelines.retries import TRANSIENT, fail, transient_only

GROUP = "sources"


def _file_info(**values: object) -> pd.DataFrame:
    frame = pd.DataFrame({k: [v] for k, v in values.items()})
    return frame.astype(
        {"source": "string", "source_file": "string", "delivered_as": "string", "path": "string",
         "region": "string", "checksum": "string", "encoding": "string", "rows_read": "Int64",
         "rows_quarantined": "Int64", "file_issues": "string", "new_load": "boolean",
         "origin": "string", "origin_source": "string", "origin_fingerprint": "string",
         "origin_rows": "Int64", "lines": "Int64", "refused_file": "string",
         "refused_checksum": "string", "refused_reason": "string"}
    ).assign(
        snapshot_date=pd.to_datetime(frame["snapshot_date"]),
        origin_snapshot_at=pd.to_datetime(frame["origin_snapshot_at"], utc=True)
        .dt.tz_localize(None)
        .astype("datetime64[ns]"),
        refused_snapshot=pd.to_datetime(frame["refused_snapshot"]),
    )  # fmt: skip


_NOT_REFUSED = {"refused_file": pd.NA, "refused_checksum": pd.NA, "refused_reason": pd.NA,
                "refused_snapshot": pd.NaT}  # fmt: skip


def _loaded_info(
    done: pd.Series, extract_path: Path, delivered_as: str, **more: object
) -> pd.DataFrame:
    """The staged file row of a file loaded earlier (its records are reused)."""
    return _file_info(
        source=done["source"], source_file=done["source_file"], delivered_as=delivered_as,
        path=str(extract_path.resolve()), region=done["region"],
        snapshot_date=done["snapshot_date"], checksum=done["checksum"], encoding=done["encoding"],
        rows_read=done["rows_read"], rows_quarantined=done["rows_quarantined"],
        file_issues=done["file_issues"], new_load=False, origin=done["origin"],
        origin_source=done["origin_source"], origin_fingerprint=done["origin_fingerprint"],
        origin_rows=done["origin_rows"], origin_snapshot_at=done["origin_snapshot_at"],
        lines=pd.NA, **{**_NOT_REFUSED, **more},
    )  # fmt: skip


def _raw_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{source.value}_raw",
        group_name=GROUP,
        deps=[f"{source.value}_pull"],
        partitions_def=regions,
        retry_policy=TRANSIENT,
        description=(
            f"Newest {source.value} extract for the region, as text rows; rows that cannot be "
            "read as a record are marked for quarantine with the reason. A file already "
            "loaded (same sha256) is recognised and not read again; a file that cannot be "
            "read, or holds far fewer rows than the current snapshot, is refused and the "
            "source stays on its current snapshot."
        ),
        kinds={"python", "csv"},
    )
    @transient_only
    def raw_asset(
        context: dg.AssetExecutionContext,
        landing: LandingFolder,
        warehouse: WarehouseResource,
        sources: SourcesResource,
        audit: AuditSettings,
    ) -> dg.MaterializeResult:
        kab = run_region(context)
        extract = landing.extract(source, kab)
        name = extract.path.name
        store = warehouse.open()
        try:
            checksum = checksum_of(extract.path)
        except OSError as err:
            return _refuse(
                context, store, extract, "", f"{name}: cannot read the file: {err.strerror}"
            )
        earlier = pd.DataFrame() if landing.reload else state.loaded_earlier(
            store, kab.kemendagri_code, source, checksum
        )  # fmt: skip
        if len(earlier):
            return _reuse(context, store, extract, earlier.iloc[0])
        return _load_new(context, store, extract, checksum, landing, sources, audit)

    return raw_asset


def _load_new(
    context: dg.AssetExecutionContext,
    store: Warehouse,
    extract: ExtractFile,
    checksum: str,
    landing: LandingFolder,
    sources: SourcesResource,
    audit: AuditSettings,
) -> dg.MaterializeResult:
    """Read a file not loaded before and stage its rows, or refuse it (unreadable, no rows,
    far fewer rows than the current snapshot)."""
    source, kab, name = extract.source, run_region(context), extract.path.name
    context.log.info(f"reading {name} ({source.value}, {kab.kemendagri_code})")
    try:
        mapping = sources.mapping(kab.compact_code, source) or landing.mapping_override(source)
        raw = landing.read(source, extract.path, mapping)
    except FileChangedError as err:
        raise dg.Failure(str(err)) from None  # retried: the delivery may be complete then
    except (ExtractError, OSError) as err:
        return _refuse(context, store, extract, checksum, str(err))
    for issue in raw.file_issues:
        context.log.warning(f"{name}: {issue}")
    reason = _too_few_rows(store, extract, kab, raw, audit)
    if reason is not None:
        return _refuse(context, store, extract, checksum, reason)
    return _stage_new(context, store, extract, raw)


def _too_few_rows(
    store: Warehouse, extract: ExtractFile, kab: Kabupaten, raw: RawExtract, audit: AuditSettings
) -> str | None:
    """Why the rows read from ``extract`` must not replace the source's current snapshot, if
    they must not: there are none, or far fewer than the current snapshot's."""
    name, source = extract.path.name, extract.source
    if raw.rows_read == 0:
        # A full snapshot with no rows would wipe the source from every resident.
        return (
            f"{name}: {'; '.join(raw.file_issues)}; a snapshot without rows "
            f"does not replace the current {source.value} data"
        )
    current = state.current_load(store, kab.kemendagri_code, source)
    least = audit.quality().snapshot_rows_min_share
    if current is not None and raw.rows_read < least * int(current["rows_read"]):
        return (
            f"{name} holds {raw.rows_read:,} rows, the current snapshot "
            f"{current['source_file']} {int(current['rows_read']):,}: fewer than "
            f"{least:.0%} of them (snapshot_rows_min_share)"
        )
    return None


def _stage_new(
    context: dg.AssetExecutionContext, store: Warehouse, extract: ExtractFile, raw: RawExtract
) -> dg.MaterializeResult:
    """Stage the rows read from a newly loaded file and its file row."""
    source, kab, name = extract.source, run_region(context), extract.path.name
    quarantined = len(raw.quarantined)
    context.log.info(f"{name}: {raw.rows_read:,} rows read, {quarantined:,} quarantined")
    store.replace_table(staging.raw_table(source, kab), raw.rows)
    pulled = origin.read(extract.path)
    info = _file_info(
        source=source.value, source_file=name, delivered_as=name,
        path=str(extract.path.resolve()), region=kab.kemendagri_code,
        snapshot_date=extract.snapshot, checksum=raw.checksum, encoding=raw.encoding,
        rows_read=raw.rows_read, rows_quarantined=quarantined,
        file_issues="; ".join(raw.file_issues) or pd.NA, new_load=True,
        origin=pulled.origin if pulled else "folder",
        origin_source=pulled.source if pulled else pd.NA,
        origin_fingerprint=pulled.fingerprint if pulled else pd.NA,
        origin_rows=pulled.rows if pulled else pd.NA,
        origin_snapshot_at=pd.Timestamp(pulled.snapshot_at) if pulled else pd.NaT,
        lines=raw.lines, **_NOT_REFUSED,
    )  # fmt: skip
    store.replace_table(staging.file_table(source, kab), info)
    return dg.MaterializeResult(
        metadata={
            "file": name,
            "snapshot_date": extract.snapshot.isoformat(),
            "region": kab.kemendagri_code,
            "sha256": raw.checksum,
            "encoding": raw.encoding,
            "rows_read": raw.rows_read,
            "rows_quarantined": quarantined,
            "file_issues": "; ".join(raw.file_issues) or "none",
        }
    )


def _reuse(
    context: dg.AssetExecutionContext, store: Warehouse, extract: ExtractFile, done: pd.Series
) -> dg.MaterializeResult:
    """Stage a file loaded earlier (same sha256): its records are reused, not read again."""
    name = extract.path.name
    context.log.info(
        f"{name}: already loaded as {done['source_file']} by run {done['run_id']} "
        "(same sha256); its records are reused, the file is not read again"
    )
    store.replace_table(
        staging.file_table(extract.source, run_region(context)),
        _loaded_info(done, extract.path, name),
    )
    return dg.MaterializeResult(
        metadata={
            "file": name,
            "region": str(done["region"]),
            "sha256": str(done["checksum"]),
            "already_loaded_as": str(done["source_file"]),
            "rows_read": int(done["rows_read"]),
        }
    )


def _refuse(
    context: dg.AssetExecutionContext,
    store: Warehouse,
    extract: ExtractFile,
    checksum: str,
    reason: str,
) -> dg.MaterializeResult:
    """Keep the source on its current snapshot instead of the newest file, which is refused
    for ``reason``; with no current snapshot the region fails."""
    kab = run_region(context)
    current = state.current_load(store, kab.kemendagri_code, extract.source)
    if current is None:
        raise fail(reason)
    stale_since = pd.Timestamp(current["snapshot_date"]).date()
    context.log.error(
        f"{reason}; {extract.source.value} stays on its current snapshot "
        f"{current['source_file']} of {stale_since.isoformat()}"
    )
    info = _loaded_info(
        current, extract.path, extract.path.name, refused_file=extract.path.name,
        refused_checksum=checksum, refused_reason=reason, refused_snapshot=extract.snapshot,
    )  # fmt: skip
    store.replace_table(staging.file_table(extract.source, kab), info)
    return dg.MaterializeResult(
        metadata={
            "file": extract.path.name,
            "region": kab.kemendagri_code,
            "refused": reason,
            "current_snapshot": str(current["source_file"]),
            "stale_since": stale_since.isoformat(),
        }
    )


FILE_ASSETS = [_raw_asset(source) for source in Source]
