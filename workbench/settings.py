"""How the workbench is served: the warehouse, the address, the access token, and whether
that combination is allowed at all (``check_binding``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from connectors.warehouse.connection import engine_url

#: The addresses that reach only this machine.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ServeRefused(ValueError):
    """The workbench may not be served as asked."""


@dataclass(frozen=True)
class ServeSettings:
    #: The warehouse's URL. On PostgreSQL, without user and password: each person signs in
    #: with their own database role, and padu connects as them.
    warehouse: str
    host: str = "127.0.0.1"
    port: int = 8750
    #: Embedded DuckDB: the access token a sign-in must give (required off this machine).
    token: str | None = None
    #: Where the Data Docs site and the auditor's report are, to link and serve them.
    docs_dir: Path | None = None
    report_dir: Path | None = None
    #: Idle sign-ins end after this many seconds.
    session_seconds: int = 8 * 3600

    @property
    def backend(self) -> str:
        return sa.engine.make_url(engine_url(self.warehouse)).get_backend_name()

    @property
    def signs_in_with_role(self) -> bool:
        """PostgreSQL: people sign in with their database role and password."""
        return self.backend == "postgresql"


def check_binding(settings: ServeSettings) -> None:
    """An embedded warehouse has no roles: served beyond this machine only with a token,
    which every sign-in must then give."""
    if settings.signs_in_with_role:
        return
    if settings.host not in LOCAL_HOSTS and not settings.token:
        raise ServeRefused(
            f"refusing to serve an embedded DuckDB warehouse on {settings.host}: it has no "
            "roles, so anyone who reaches the address could read it. Serve on 127.0.0.1, or "
            "give an access token (--token or PADU_SERVE_TOKEN) that every sign-in must give"
        )
