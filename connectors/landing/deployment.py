"""A deployment's sources, in one YAML file: which agency, which region, where from.

Each region lists its three agencies; each agency's extract comes from the landing folder
(delivered as files, the default), from a database (a replica of the agency's system, read
with a table or query under the agency's own column names), or from a URL (a data portal or
web service). Credentials never sit in the file: it names the environment variables that
hold them. padu's Dagster definitions generate a schedule per region from it, so adding a
region is a change here. Example: ``deploy/sources.yaml``.

A URL source sends its credentials to its own origin only (the portal's, for CKAN), never over
plain http unless ``allow_insecure_http: true``; it fetches from no private, loopback or
link-local address unless the host, address or network is in ``allow_hosts``; and no download
may be larger than ``max_download_bytes`` (2 GiB unless set). See ``connectors.pull.guard``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.pull.guard import MAX_BYTES, Policy, Refused, allow_entry
from connectors.reference.regions import UnknownRegionError, kabupaten
from connectors.schema import Source

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class DeploymentError(ValueError):
    """The deployment file is missing or wrong; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Origin(_Strict):
    #: The agency's column mapping for this region (a ``<source>.yaml`` as in
    #: ``connectors/agencies/mappings``), when its extract names columns differently; relative paths
    #: are relative to the deployment file.
    mapping: str | None = None


class FolderOrigin(_Origin):
    """Extracts delivered as files into the landing folder."""

    kind: Literal["folder"] = "folder"


class DatabaseOrigin(_Origin):
    """A table or query of the agency's database, with the agency's column names."""

    kind: Literal["database"]
    url_env: str = Field(description="environment variable holding the SQLAlchemy URL")
    table: str | None = None
    query: str | None = None
    change_column: str | None = Field(None, description="e.g. TGL_UBAH: incremental pulls")
    key_column: str | None = Field(None, description="e.g. NIK: how changed rows are merged")
    full_refresh_days: int = Field(7, ge=1, description="a full pull at least this often")

    @model_validator(mode="after")
    def _one_of_table_or_query(self) -> DatabaseOrigin:
        if (self.table is None) == (self.query is None):
            raise ValueError("give either table or query")
        if self.table is not None and not _IDENTIFIER.match(self.table):
            raise ValueError(f"table {self.table!r} is not a plain table name")
        if self.change_column and not self.key_column:
            raise ValueError("change_column needs key_column (how changed rows are merged)")
        return self

    def url(self) -> str:
        value = os.environ.get(self.url_env)
        if not value:
            raise DeploymentError(f"environment variable {self.url_env} (database URL) is not set")
        return value


class CkanResource(_Strict):
    portal: str
    dataset: str
    resource: str


class HttpOrigin(_Origin):
    """A file fetched from a URL, or a CKAN portal's dataset resource."""

    kind: Literal["http"]
    url: str | None = None
    ckan: CkanResource | None = None
    username_env: str | None = None
    password_env: str | None = None
    sha256: str | None = None
    format: Literal["csv", "xlsx"] = "csv"
    timeout_seconds: float = Field(60, gt=0)
    retries: int = Field(4, ge=0)
    allow_insecure_http: bool = Field(
        False, description="send the credentials over plain http (readable on the way)"
    )
    allow_hosts: tuple[str, ...] = Field(
        (), description="private hosts, addresses or networks (10.0.0.0/8) that may be asked"
    )
    max_download_bytes: int = Field(MAX_BYTES, gt=0, description="the largest file accepted")

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            allow_entry(host)
        return hosts

    @model_validator(mode="after")
    def _one_of_url_or_ckan(self) -> HttpOrigin:
        if (self.url is None) == (self.ckan is None):
            raise ValueError("give either url or ckan")
        if bool(self.username_env) != bool(self.password_env):
            raise ValueError("give both username_env and password_env, or neither")
        where = self.credentials_origin()
        if self.username_env and where:
            try:
                self.policy().check_credentials(where)
            except Refused as why:
                raise ValueError(str(why)) from None
        return self

    def policy(self) -> Policy:
        """What this source's downloads may reach (``connectors.pull.guard``)."""
        return Policy(self.allow_hosts, self.allow_insecure_http, self.max_download_bytes)

    def credentials_origin(self) -> str | None:
        """The URL whose origin the credentials belong to: the portal's, for CKAN."""
        return self.ckan.portal if self.ckan else self.url

    def auth(self) -> tuple[str, str] | None:
        if not self.username_env or not self.password_env:
            return None
        values = [os.environ.get(self.username_env), os.environ.get(self.password_env)]
        if not all(values):
            raise DeploymentError(
                f"environment variables {self.username_env} and {self.password_env} "
                "(portal credentials) must both be set"
            )
        return values[0], values[1]  # type: ignore[return-value]


Origin = Annotated[FolderOrigin | DatabaseOrigin | HttpOrigin, Field(discriminator="kind")]


class RegionSources(_Strict):
    """Where each agency's extract for one kab/kota comes from, and when to sync it."""

    schedule: str = "0 2 * * *"  # cron, in the deployment's timezone
    dukcapil: Origin = FolderOrigin()
    kpu: Origin = FolderOrigin()
    bps: Origin = FolderOrigin()

    def origin(self, source: Source) -> FolderOrigin | DatabaseOrigin | HttpOrigin:
        return getattr(self, source.value)  # type: ignore[no-any-return]


class Deployment(_Strict):
    landing: str
    timezone: str = "Asia/Jakarta"
    regions: dict[str, RegionSources]

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, regions: dict[str, RegionSources]) -> dict[str, RegionSources]:
        for code in regions:
            try:
                kab = kabupaten(code)
            except UnknownRegionError as err:
                raise ValueError(str(err)) from None
            if code != kab.compact_code:
                raise ValueError(f"write region {code!r} as its 4-digit code {kab.compact_code}")
        return regions

    def region(self, code: str) -> RegionSources:
        """The sources of ``code`` (4-digit); a region not listed takes files from the folder."""
        return self.regions.get(code, RegionSources())


def load_deployment(path: Path) -> Deployment:
    """Read and check a deployment file; errors name the file and the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DeploymentError(f"{path}: cannot read: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise DeploymentError(f"{path}: not valid YAML: {err}") from None
    try:
        deployment = Deployment.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise DeploymentError(f"{path}: {problems}") from None
    landing = Path(deployment.landing)
    if not landing.is_absolute():
        deployment = deployment.model_copy(update={"landing": str(path.parent / landing)})
    for code, sources in deployment.regions.items():
        for source in Source:
            mapping = sources.origin(source).mapping
            if mapping and not (path.parent / mapping).is_file():
                raise DeploymentError(
                    f"{path}: regions.{code}.{source.value}.mapping: no file {mapping}"
                )
    return deployment


def mapping_file(deployment: Deployment, path: Path, code: str, source: Source) -> Path | None:
    """The column mapping the deployment file at ``path`` names for ``source`` in ``code``."""
    mapping = deployment.region(code).origin(source).mapping
    return path.parent / mapping if mapping else None
