"""Dagster resources: where extracts land, where the warehouse is, the pseudonym key."""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import date
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from connectors.agencies import FORMATS, kpu
from connectors.agencies.extract import RawExtract
from connectors.landing.deployment import Deployment, DeploymentError, load_deployment, mapping_file
from connectors.landing.folder import (
    ExtractFile,
    Ignored,
    describe_missing,
    latest,
    regions_present,
    scan,
)
from connectors.redaction import url_for_display, url_secrets
from connectors.reference.regions import Kabupaten
from connectors.schema import Source
from connectors.warehouse.connection import DEFAULT_WAREHOUSE, default_url
from connectors.warehouse.engine import Warehouse

DEFAULT_LANDING = Path("data") / "demo" / "landing"
#: Where a run reads the warehouse URL from (the resource is configured with its name).
WAREHOUSE_URL_VARIABLE = "PADU_WAREHOUSE_URL"
#: A production key must be at least this long (HMAC-SHA256: 32 bytes of secret).
MIN_KEY_BYTES = 32
#: padu's own key file, beside an embedded DuckDB warehouse when no key is configured.
OWN_KEY_FILE = "pseudonym.key"
#: The random bytes of a key padu makes (written as hex: 64 characters).
OWN_KEY_RANDOM_BYTES = 32
KEY_SETTINGS = "PADU_PSEUDONYM_KEY_FILE or PADU_PSEUDONYM_KEY"


class SettingsError(ValueError):
    """The settings do not allow a run (e.g. production mode without a configured key)."""


def positive_bytes(name: str, value: str) -> int:
    """The setting ``name`` (a number of bytes) given as ``value``."""
    try:
        number = int(value.strip().replace("_", ""))
    except ValueError:
        number = 0
    if number <= 0:
        raise SettingsError(f"{name} must be a positive number of bytes, not {value!r}")
    return number


class LandingFolder(dg.ConfigurableResource):
    """The folder agencies deliver extracts to (any number of kab/kota side by side)."""

    folder: str = str(DEFAULT_LANDING)
    mapping_dir: str | None = None  # <source>.yaml files overriding the column mappings
    # Read every file again even when the warehouse has loaded it (after a mapping change).
    reload: bool = False
    # The most an XLSX voter list may unpack to, in bytes (PADU_MAX_XLSX_UNPACKED).
    max_xlsx_unpacked: int = kpu.MAX_XLSX_UNPACKED

    def read(self, source: Source, path: Path, mapping: Path | None) -> RawExtract:
        """``path`` read by ``source``'s reader, within these settings' limits."""
        if source is Source.KPU:
            return kpu.read(path, mapping, max_unpacked=self.max_xlsx_unpacked)
        return FORMATS[source].read(path, mapping)

    def regions(self) -> list[Kabupaten]:
        """The kab/kota that have at least one extract in the folder."""
        return regions_present(scan(Path(self.folder))[0])

    def extract(self, source: Source, kab: Kabupaten) -> ExtractFile:
        """The newest extract of ``source`` for ``kab``."""
        extracts, ignored = scan(Path(self.folder))
        found = latest(extracts, source, kab)
        if found is None:
            raise dg.Failure(
                describe_missing(Path(self.folder), {kab: [source]}, extracts, ignored),
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
    """The deployment file naming each region's sources (connectors/landing/deployment.py); without
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


class KeySettingsError(SettingsError):
    """No usable pseudonym key: none configured where one is needed, or one unreadable."""


class PseudonymKey(dg.ConfigurableResource):
    """Secret key for the keyed pseudonyms (HMAC-SHA256) of NIK and KK, and resident IDs.

    The key comes from ``key_file`` (a file holding it) when set, else from ``key``. When
    neither is configured, an embedded DuckDB warehouse has a key of its own in
    ``own_key_file`` (``pseudonym.key`` beside the warehouse file), made with a random key
    the first time it is needed (``own_key``). In production mode a key shorter than 32 bytes
    is refused (and ``pseudonym_key`` refuses to run without a configured one).
    """

    key: str | None = None
    key_file: str | None = None
    own_key_file: str | None = None
    production: bool = False

    def read(self) -> bytes:
        """The key, read now (padu's own made first if it does not exist yet)."""
        if self.key_file:
            return read_key_file(Path(self.key_file))
        if self.key is not None:
            value = self.key.get_value() if isinstance(self.key, dg.EnvVar) else self.key
            if not value:
                raise KeySettingsError("PADU_PSEUDONYM_KEY is empty")
            return value.encode()
        if self.own_key_file:
            return own_key(Path(self.own_key_file))
        raise KeySettingsError(f"no pseudonym key is configured: set {KEY_SETTINGS}")

    def bytes(self) -> bytes:
        """The key, for a run: a problem with it fails the run (not retried)."""
        try:
            value = self.read()
        except KeySettingsError as err:
            raise dg.Failure(str(err), allow_retries=False) from None
        if self.production:
            problem = key_problem(value)
            if problem:
                raise dg.Failure(f"production mode: {problem}", allow_retries=False)
        return value

    def is_new(self) -> bool:
        """True if the key is padu's own and has not been made yet."""
        own = not self.key_file and self.key is None and self.own_key_file
        return bool(own) and not Path(str(self.own_key_file)).exists()

    def notices(self) -> list[str]:
        """Warnings about the key: a configured key file other users may read."""
        if not self.key_file:
            return []
        exposed = _exposure(Path(self.key_file))
        return [exposed] if exposed else []


def pseudonym_key(warehouse_url: str, production: bool = False) -> PseudonymKey:
    """The key the settings give a warehouse: ``PADU_PSEUDONYM_KEY_FILE``, else
    ``PADU_PSEUDONYM_KEY``, else (not in production mode) padu's own key file beside an
    embedded DuckDB warehouse. A PostgreSQL warehouse without a configured key is refused."""
    if os.environ.get("PADU_PSEUDONYM_KEY_FILE"):
        return PseudonymKey(key_file=os.environ["PADU_PSEUDONYM_KEY_FILE"], production=production)
    if os.environ.get("PADU_PSEUDONYM_KEY"):
        return PseudonymKey(key=dg.EnvVar("PADU_PSEUDONYM_KEY"), production=production)
    if production:
        raise KeySettingsError(
            f"production mode (PADU_MODE=production): no pseudonym key is configured; set "
            f"{KEY_SETTINGS}"
        )
    own = own_key_path(warehouse_url)
    if own is None:
        backend = sa.engine.make_url(warehouse_url).get_backend_name()
        raise KeySettingsError(
            f"no pseudonym key is configured, and only an embedded DuckDB warehouse file gets "
            f"a key of its own, not a {backend} warehouse: set PADU_PSEUDONYM_KEY_FILE (a file "
            f"holding at least {MIN_KEY_BYTES} bytes of secret) or PADU_PSEUDONYM_KEY"
        )
    return PseudonymKey(own_key_file=str(own))


def own_key_path(warehouse_url: str) -> Path | None:
    """Where padu keeps its own key for the warehouse at ``warehouse_url``: beside an
    embedded DuckDB file; None for any other warehouse."""
    url = sa.engine.make_url(warehouse_url)
    if url.get_backend_name() != "duckdb" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).parent / OWN_KEY_FILE


def read_key_file(path: Path, own: bool = False) -> bytes:
    """The key in ``path`` (surrounding whitespace dropped). padu's own key file (``own``)
    must be private to its owner and hold a whole key."""
    try:
        mode = path.stat().st_mode
        value = path.read_bytes().strip()
    except OSError as err:
        raise KeySettingsError(
            f"cannot read the pseudonym key file {path}: {err.strerror}"
        ) from None
    if own and mode & 0o077:
        raise KeySettingsError(
            f"padu's pseudonym key file {path} is open to other users (mode "
            f"{mode & 0o777:o}); make it private: chmod 600 {path}"
        )
    if own and len(value) < MIN_KEY_BYTES:
        raise KeySettingsError(f"padu's pseudonym key file {path} is damaged (too short)")
    return value


def own_key(path: Path) -> bytes:
    """padu's own key in ``path``, made first if it does not exist: random, private to its
    owner (mode 0600), complete once it is visible. Of processes making it at the same time,
    one key is kept and every one of them uses it."""
    if not path.exists():
        _make_key_file(path, secrets.token_hex(OWN_KEY_RANDOM_BYTES).encode(), replace=False)
    return read_key_file(path, own=True)


def install_own_key(path: Path, value: bytes) -> None:
    """Replace padu's own key in ``path`` by ``value`` (after a rekey), atomically."""
    _make_key_file(path, value, replace=True)


def _make_key_file(path: Path, value: bytes, replace: bool) -> None:
    """Write ``value`` to a new private file beside ``path``, then put it in place: with
    ``replace``, over ``path``; else only if ``path`` does not exist (a hard link fails if
    it does, so a key another process put there first stands)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask
            out.write(value + b"\n")
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(partial, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _exposure(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # reading it says why
    if not mode & 0o077:
        return None
    return (
        f"the pseudonym key file {path} can be read by other users (mode {mode & 0o777:o}); "
        f"make it readable by padu only (chmod 600, or defaultMode 0400 for a Kubernetes "
        "Secret)"
    )


def key_problem(value: bytes) -> str | None:
    """Why ``value`` is not fit to protect real identifiers, or None."""
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
