"""Pull assets: bring each agency's extract for the region into the landing folder.

Upstream of ``<source>_raw``. Where the deployment file (connectors/landing/deployment.py) says the
agency delivers files, there is nothing to pull. Where it names a database or a URL, the
extract is pulled into the landing folder under the agency's file name for today, with a
record of its origin beside it, and from there it is read like any delivered file: the same
checksums, quarantine and snapshots. A pull that fails fails this asset: nothing downstream
runs, and the last good snapshot stays current.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from connectors.landing import origin
from connectors.landing.deployment import DatabaseOrigin, DeploymentError, FolderOrigin, HttpOrigin
from connectors.landing.folder import extract_name, latest, scan
from connectors.reference.regions import Kabupaten
from connectors.schema import Source
from pipelines.partitions import regions, run_region
from pipelines.resources import LandingFolder, SourcesResource
from pipelines.retries import TRANSIENT, fail, transient_only

GROUP = "sources"


def _previous_pull(
    folder: Path, source: Source, kab: Kabupaten
) -> tuple[Path, origin.Origin] | None:
    """The newest extract of ``source`` for ``kab`` if it was pulled from a database."""
    newest = latest(scan(folder)[0], source, kab)
    if newest is None:
        return None
    recorded = origin.read(newest.path)
    if recorded is None or recorded.origin != "database":
        return None
    return newest.path, recorded


def _pull_database(
    config: DatabaseOrigin, source: Source, kab: Kabupaten, folder: Path, today: date,
    full: bool, context: dg.AssetExecutionContext,
) -> dg.MaterializeResult:  # fmt: skip
    from connectors.pull.database import FORMATS, PullError, pull

    target = folder / extract_name(source, kab, today)
    previous = None if full or not config.change_column else _previous_pull(folder, source, kab)
    if previous is not None:
        last_full = previous[1].full_pull_at or previous[1].snapshot_at
        age = datetime.now(UTC) - last_full.replace(tzinfo=last_full.tzinfo or UTC)
        if age > timedelta(config.full_refresh_days):
            previous = None  # time for a full pull
    try:
        result = pull(
            config.url(), table=config.table, query=config.query, out=target,
            change_column=config.change_column,
            since=previous[1].high_water_mark if previous else None,
            previous=previous[0] if previous else None, key_column=config.key_column,
            **FORMATS[source.value],
        )  # fmt: skip
    except (PullError, DeploymentError) as err:
        raise fail(str(err)) from None
    incremental = previous is not None
    full_at = previous[1].full_pull_at if previous else result.snapshot_time
    origin.write(result.path, origin.Origin(
        origin="database", source=result.source, fingerprint=result.query_fingerprint,
        rows=result.rows, snapshot_at=result.snapshot_time,
        high_water_mark=None if result.high_water_mark is None else str(result.high_water_mark),
        full_pull_at=full_at,
    ))  # fmt: skip
    kind = "incremental" if incremental else "full"
    context.log.info(
        f"pulled {result.rows:,} rows ({kind}) from {result.source} into {target.name}"
    )
    return dg.MaterializeResult(
        metadata={"origin": "database", "source": result.source, "file": target.name,
                  "rows": result.rows, "pull": kind, "query_sha256": result.query_fingerprint}
    )  # fmt: skip


def _pull_http(
    config: HttpOrigin, source: Source, kab: Kabupaten, folder: Path, today: date,
    context: dg.AssetExecutionContext,
) -> dg.MaterializeResult:  # fmt: skip
    from connectors.pull.ckan import ckan_resource
    from connectors.pull.http import FetchError, fetch

    target = folder / extract_name(source, kab, today, config.format)
    try:
        url, digest = config.url, config.sha256
        if config.ckan is not None:
            url, portal_hash = ckan_resource(
                config.ckan.portal, config.ckan.dataset, config.ckan.resource,
                timeout=config.timeout_seconds, retries=config.retries, auth=config.auth(),
                policy=config.policy(),
            )  # fmt: skip
            digest = digest or portal_hash
        assert url is not None
        result = fetch(
            url, target, timeout=config.timeout_seconds, retries=config.retries,
            sha256=digest, auth=config.auth(), expect=config.format, policy=config.policy(),
            credentials_origin=config.credentials_origin(),  # not a resource hosted elsewhere
        )  # fmt: skip
    except (FetchError, DeploymentError) as err:
        raise fail(str(err)) from None
    origin.write(result.path, origin.Origin(
        origin="http", source=result.url, fingerprint=result.sha256, rows=None,
        snapshot_at=datetime.now(UTC),
    ))  # fmt: skip
    context.log.info(f"fetched {result.bytes:,} bytes from {result.url} into {target.name}")
    return dg.MaterializeResult(
        metadata={"origin": "http", "source": result.url, "file": target.name,
                  "bytes": result.bytes, "sha256": result.sha256, "attempts": result.attempts,
                  "resumed": result.resumed}
    )  # fmt: skip


def _pull_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{source.value}_pull",
        group_name=GROUP,
        partitions_def=regions,
        retry_policy=TRANSIENT,
        description=f"Pulls the {source.value} extract of the region from its database or URL "
        "into the landing folder, as the deployment file says (nothing to do for delivered "
        "files).",
        kinds={"python"},
    )
    @transient_only
    def pull_asset(
        context: dg.AssetExecutionContext, landing: LandingFolder, sources: SourcesResource
    ) -> dg.MaterializeResult:
        kab = run_region(context)
        deployment = sources.deployment()
        found = deployment.region(kab.compact_code).origin(source) if deployment else None
        if found is None or isinstance(found, FolderOrigin):
            return dg.MaterializeResult(metadata={"origin": "folder"})
        folder = Path(landing.folder)
        folder.mkdir(parents=True, exist_ok=True)
        assert deployment is not None
        today = datetime.now(ZoneInfo(deployment.timezone)).date()
        if isinstance(found, DatabaseOrigin):
            return _pull_database(found, source, kab, folder, today, sources.full_refresh, context)
        return _pull_http(found, source, kab, folder, today, context)

    return pull_asset


PULL_ASSETS = [_pull_asset(source) for source in Source]
