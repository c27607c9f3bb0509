"""Dagster resources: where extracts land, where the warehouse is, the pseudonym key."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from connectors.deployment import Deployment, DeploymentError, load_deployment, mapping_file
from connectors.landing import ExtractFile, Ignored, latest, regions_present, scan
from connectors.redaction import url_for_display, url_secrets
from connectors.reference.regions import Kabupaten
from connectors.schema import Source
from connectors.warehouse import DEFAULT_WAREHOUSE, Warehouse, default_url

#: The key used when none is configured. Pseudonyms made with it protect nothing.
DEMO_PSEUDONYM_KEY = "padu-demo-key-not-secret"
DEFAULT_LANDING = Path("data") / "demo" / "landing"
#: Where a run reads the warehouse URL from (the resource is configured with its name).
WAREHOUSE_URL_VARIABLE = "PADU_WAREHOUSE_URL"
#: A production key must be at least this long (HMAC-SHA256: 32 bytes of secret).
MIN_KEY_BYTES = 32


class SettingsError(ValueError):
    """The settings do not allow a run (e.g. production mode without a key)."""


class LandingFolder(dg.ConfigurableResource):
    """The folder agencies deliver extracts to (any number of kab/kota side by side)."""

    folder: str = str(DEFAULT_LANDING)
    mapping_dir: str | None = None  # <source>.yaml files overriding the column mappings
    # Read every file again even when the warehouse has loaded it (after a mapping change).
    reload: bool = False

    def regions(self) -> list[Kabupaten]:
        """The kab/kota that have at least one extract in the folder."""
        return regions_present(scan(Path(self.folder))[0])

    def extract(self, source: Source, kab: Kabupaten) -> ExtractFile:
        """The newest extract of ``source`` for ``kab``."""
        found = latest(scan(Path(self.folder))[0], source, kab)
        if found is None:
            raise dg.Failure(
                f"no {source.value} extract for {kab.kemendagri_code} ({kab.name}) in "
                f"{self.folder}",
                allow_retries=False,
            )
        return found

    def ignored(self) -> list[Ignored]:
        return scan(Path(self.folder))[1]

    def mapping_override(self, source: Source) -> Path | None:
        if not self.mapping_dir:
            return None
        path = Path(self.mapping_dir) / f"{source.value}.yaml"
        return path if path.exists() else None


class SourcesResource(dg.ConfigurableResource):
    """The deployment file naming each region's sources (connectors/deployment.py); without
    one, every extract is delivered into the landing folder. ``full_refresh`` makes database
    pulls read whole tables even where they could pull changes only."""

    path: str | None = None
    full_refresh: bool = False

    def mapping(self, code: str, source: Source) -> Path | None:
        """The column mapping the deployment file names for ``source`` in region ``code``."""
        deployment = self.deployment()
        if deployment is None or self.path is None:
            return None
        return mapping_file(deployment, Path(self.path), code, source)

    def deployment(self) -> Deployment | None:
        if not self.path:
            return None
        try:
            return load_deployment(Path(self.path))
        except DeploymentError as err:
            raise dg.Failure(str(err), allow_retries=False) from None


class WarehouseResource(dg.ConfigurableResource):
    """Any SQLAlchemy URL; an embedded DuckDB file by default.

    Made by ``warehouse_resource``, a URL from the environment, or one holding a password, is
    configured as ``EnvVar("PADU_WAREHOUSE_URL")``: Dagster's storage (job snapshots) then
    records the variable's name, never the URL or its password."""

    url: str = default_url(DEFAULT_WAREHOUSE)

    def target(self) -> str:
        """The URL, also before a run has configured the resource (when ``url`` is still the
        ``EnvVar`` naming it)."""
        if isinstance(self.url, dg.EnvVar):
            value = self.url.get_value()
            if not value:
                raise SettingsError(f"{WAREHOUSE_URL_VARIABLE} is not set")
            return value
        return self.url

    def open(self) -> Warehouse:
        return Warehouse(self.target())


def warehouse_resource(url: str | None = None) -> WarehouseResource:
    """The warehouse at ``url``, else at ``PADU_WAREHOUSE_URL``, else the default DuckDB file.

    A URL holding a secret is put into this process's ``PADU_WAREHOUSE_URL`` (so the
    processes it starts inherit it) and the resource reads it from there."""
    from_environment = os.environ.get(WAREHOUSE_URL_VARIABLE)
    url = url or from_environment
    if not url:
        return WarehouseResource()
    try:
        sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise SettingsError(
            f"the warehouse URL {url_for_display(url)} is not a SQLAlchemy URL"
        ) from None
    if url != from_environment:
        if not url_secrets(url):
            return WarehouseResource(url=url)
        os.environ[WAREHOUSE_URL_VARIABLE] = url
    return WarehouseResource(url=dg.EnvVar(WAREHOUSE_URL_VARIABLE))


class PseudonymKey(dg.ConfigurableResource):
    """Secret key for the keyed pseudonyms (HMAC-SHA256) of NIK and KK, and resident IDs.

    The key comes from ``key_file`` (a file holding it) when set, else from ``key``. In
    production mode the demo key, or a key shorter than 32 bytes, is refused.
    """

    key: str = DEMO_PSEUDONYM_KEY
    key_file: str | None = None
    production: bool = False

    def _value(self) -> bytes:
        if self.key_file:
            try:
                return Path(self.key_file).read_bytes().strip()
            except OSError as err:
                raise dg.Failure(
                    f"cannot read the pseudonym key file {self.key_file}: {err.strerror}",
                    allow_retries=False,
                ) from None
        return self.key.encode()

    @property
    def is_demo(self) -> bool:
        return self._value() == DEMO_PSEUDONYM_KEY.encode()

    def bytes(self) -> bytes:
        value = self._value()
        if self.production:
            problem = key_problem(value)
            if problem:
                raise dg.Failure(f"production mode: {problem}", allow_retries=False)
        return value


def configured_key() -> bytes:
    """The key the environment configures (``PADU_PSEUDONYM_KEY_FILE``, else
    ``PADU_PSEUDONYM_KEY``, else the demo key), read now."""
    return PseudonymKey(
        key=os.environ.get("PADU_PSEUDONYM_KEY", DEMO_PSEUDONYM_KEY),
        key_file=os.environ.get("PADU_PSEUDONYM_KEY_FILE"),
    ).bytes()


def key_problem(value: bytes) -> str | None:
    """Why ``value`` is not fit to protect real identifiers, or None."""
    if value == DEMO_PSEUDONYM_KEY.encode():
        return (
            "no pseudonym key is configured (the demo key protects nothing); set "
            "PADU_PSEUDONYM_KEY_FILE or PADU_PSEUDONYM_KEY"
        )
    if len(value) < MIN_KEY_BYTES:
        return f"the pseudonym key is shorter than {MIN_KEY_BYTES} bytes"
    return None


class AuditSettings(dg.ConfigurableResource):
    """What the auditors' checks and lists are judged against.

    ``reference_date`` (YYYY-MM-DD, e.g. election day) decides voter eligibility; by default
    the newest snapshot date of the run. ``quality_settings`` is a YAML file overriding the
    data-quality bounds (expectations/settings.py). Data Docs are written to ``docs_dir``.
    """

    reference_date: str | None = None
    docs_dir: str = str(Path("data") / "quality" / "docs")
    quality_settings: str | None = None

    def reference(self, snapshot: date) -> date:
        if not self.reference_date:
            return snapshot
        try:
            return date.fromisoformat(self.reference_date)
        except ValueError:
            raise dg.Failure(f"reference_date {self.reference_date!r} is not YYYY-MM-DD") from None

    def quality(self):  # type: ignore[no-untyped-def]
        from expectations.settings import load_settings

        return load_settings(self.quality_settings)
