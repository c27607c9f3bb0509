"""Who is signed in: sessions kept on the server, their CSRF tokens, and signing in.

The cookie carries only a random session ID (HttpOnly, SameSite=Strict). Everything else, the
person's name and, on PostgreSQL, the engine made with their role and password, stays in this
process; the password is never stored in the cookie nor written to any log.

Three ways to sign in, by the warehouse (``ServeSettings``):

* PostgreSQL: the person's own database role name and password; padu connects as them, so
  the database's grants decide what they see (connectors/warehouse/roles.py);
* embedded DuckDB with an access token: a name (recorded as who decided) and the token;
* embedded DuckDB on this machine without a token: nobody signs in; the person is the user
  running ``padu serve``.
"""

from __future__ import annotations

import getpass
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from connectors.warehouse.connection import WarehouseConnectionError, engine_url
from connectors.warehouse.workbench import ServingWarehouse
from workbench.settings import ServeSettings

COOKIE = "padu_session"
#: Sessions nobody signed in to yet are dropped, oldest first, beyond this many.
MAX_ANONYMOUS = 10_000
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


class SignInRefused(ValueError):
    """Wrong name, password or token (the message says no more than that)."""


@dataclass
class Session:
    sid: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user: str | None = None
    store: ServingWarehouse | None = None
    #: The store is this session's own (PostgreSQL), disposed of when it ends.
    owns_store: bool = False
    last_seen: float = field(default_factory=time.monotonic)
    #: Pairs this person marked unsure: shown again only after the others.
    skipped: set[tuple[str, str]] = field(default_factory=set)

    @property
    def signed_in(self) -> bool:
        return self.user is not None and self.store is not None


class Sessions:
    """The sessions of this server, by ID; idle ones expire."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()
        #: One warehouse for everybody where it has no roles (embedded DuckDB): its
        #: connections are opened per transaction, so ``padu run`` takes turns with them.
        self.shared = None if settings.signs_in_with_role else ServingWarehouse(settings.warehouse)

    @property
    def needs_sign_in(self) -> bool:
        return self.settings.signs_in_with_role or bool(self.settings.token)

    def get(self, sid: str | None) -> Session | None:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            session = self._by_id.get(sid or "")
            if session is not None:
                session.last_seen = now
            return session

    def new(self) -> Session:
        session = Session(sid=secrets.token_urlsafe(32))
        if not self.needs_sign_in:
            session.user, session.store = getpass.getuser(), self.shared
        with self._lock:
            anonymous = [s for s in self._by_id.values() if not s.signed_in]
            for old in sorted(anonymous, key=lambda s: s.last_seen)[
                : max(0, len(anonymous) - MAX_ANONYMOUS + 1)
            ]:
                self._drop(old.sid)
            self._by_id[session.sid] = session
        return session

    def sign_in(self, session: Session, name: str, secret: str) -> Session:
        """A new session (new ID and CSRF token) for ``name``, replacing ``session``.
        ``SignInRefused`` when the name, password or token is wrong."""
        name = name.strip()
        store: ServingWarehouse | None
        if self.settings.signs_in_with_role:
            store = self._connect_as(name, secret)
            owns = True
        else:
            if not name:
                raise SignInRefused("say who you are: the name is recorded with your decisions")
            if not secrets.compare_digest(secret.encode(), (self.settings.token or "").encode()):
                raise SignInRefused("wrong access token")
            store, owns = self.shared, False
        fresh = Session(sid=secrets.token_urlsafe(32), user=name, store=store, owns_store=owns)
        with self._lock:
            self._drop(session.sid)
            self._by_id[fresh.sid] = fresh
        return fresh

    def sign_out(self, session: Session) -> None:
        with self._lock:
            self._drop(session.sid)

    def close(self) -> None:
        with self._lock:
            for sid in list(self._by_id):
                self._drop(sid)
        if self.shared is not None:
            self.shared.dispose()

    def _connect_as(self, role: str, password: str) -> ServingWarehouse:
        if not _ROLE_NAME.match(role) or not password:
            raise SignInRefused("sign-in refused: check the role name and password")
        url = sa.engine.make_url(engine_url(self.settings.warehouse)).set(
            username=role, password=password
        )
        store = ServingWarehouse(url.render_as_string(hide_password=False))
        try:
            store.connect().close()
        except WarehouseConnectionError:
            store.dispose()
            raise SignInRefused("sign-in refused: check the role name and password") from None
        return store

    def _expire(self, now: float) -> None:
        limit = self.settings.session_seconds
        for sid, session in list(self._by_id.items()):
            if now - session.last_seen > limit:
                self._drop(sid)

    def _drop(self, sid: str) -> None:
        session = self._by_id.pop(sid, None)
        if session is not None and session.owns_store and session.store is not None:
            session.store.dispose()
