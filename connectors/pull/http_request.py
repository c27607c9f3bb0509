"""One HTTP request of a download: its URL with the credentials split out, and the guarded GET.

``_target`` takes the credentials out of a URL (user info, secret-looking query values) and
headers, remembers the origin they belong to and every form of them that must never be shown;
``redact`` shows a URL with its secrets as ``***``. ``_get`` sends a request through
``connectors.pull.guard``, which checks each hop and sends the credentials only to their origin.
``FetchError`` is the one error a download raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

import requests

from connectors.pull import guard
from connectors.pull.guard import Policy, Refused, origin

#: All of fetch's modules log as ``connectors.pull.http``: one logger name covers a download.
log = logging.getLogger("connectors.pull.http")

_SENSITIVE_WORDS = r"auth|token|key|secret|passw|pwd|sig|session|cookie|credential"
_SENSITIVE = re.compile(_SENSITIVE_WORDS, re.I)
_SENSITIVE_QUERY = re.compile(rf"([?&][^=&\s\"]*(?:{_SENSITIVE_WORDS})[^=&\s\"]*)=[^&\s\"]*", re.I)


class FetchError(Exception):
    """The extract could not be fetched. The message names the redacted URL and the reason."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that decided it, if any
        self.attempts = attempts


def redact(url: str) -> str:
    """``url`` with its password (or a bare user token) and sensitive query values as ``***``."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        host = f"{user}:***@{host}" if colon else f"***@{host}"
    query = "&".join(_redact_param(p) for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, query, parts.fragment))


def _redact_param(param: str) -> str:
    name, eq, _ = param.partition("=")
    return f"{name}=***" if eq and _SENSITIVE.search(unquote_plus(name)) else param


class _RedactQuery(logging.Filter):
    """Hides sensitive query values in urllib3's debug lines, which show each request path."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SENSITIVE_QUERY.sub(r"\1=***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactQuery())


@dataclass(frozen=True)
class _Target:
    """What to request, with the credentials split out of the URL."""

    url: str  # without user info
    shown: str  # redacted: for logs, errors and results
    auth: tuple[str, str] | None
    headers: dict[str, str]
    secrets: tuple[str, ...]  # strings that must never be shown
    home: tuple[str, str, int]  # the origin the credentials belong to
    policy: Policy

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def has_credentials(self) -> bool:
        return self.auth is not None or any(_SENSITIVE.search(name) for name in self.headers)

    def credentials(self, url: str) -> tuple[tuple[str, str] | None, dict[str, str]]:
        """The auth and headers to send to ``url``: the credentials only to their origin."""
        if origin(url) == self.home:
            return self.auth, dict(self.headers)
        if self.has_credentials:
            log.info("%s: no credentials sent to %s, not their origin", self.shown, redact(url))
        plain = {name: v for name, v in self.headers.items() if not _SENSITIVE.search(name)}
        return None, plain


def _target(
    url: str,
    auth: tuple[str, str] | None,
    headers: Mapping[str, str] | None,
    policy: Policy,
    home: str | None = None,
) -> _Target:
    """The request for ``url``; credentials are for ``home``'s origin (default: ``url``'s)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {redact(url)}")
    userinfo, at, host = parts.netloc.rpartition("@")
    secrets: list[str] = []
    if at:
        user, colon, password = userinfo.partition(":")
        if colon:
            secrets.append(password)
            url_auth = (unquote(user), unquote(password))
        else:  # a token given as the user name
            secrets.append(user)
            url_auth = (unquote(user), "")
        auth = auth or url_auth
    if auth is not None:
        secrets.append(auth[1] or auth[0])  # with no password, the user name is the token
    in_query = False  # a secret in the query string, sent wherever the URL goes
    for param in parts.query.split("&"):
        name, eq, value = param.partition("=")
        if eq and _SENSITIVE.search(unquote_plus(name)):
            secrets.append(value)
            in_query = True
    for name, value in (headers or {}).items():
        if _SENSITIVE.search(name):
            secrets += [value, value.split()[-1] if value.strip() else ""]  # "Bearer <token>"
    variants = {form for s in secrets for form in (s, unquote(s), quote(s, safe="")) if form}
    target = _Target(
        url=urlunsplit((parts.scheme, host, parts.path, parts.query, "")),
        shown=redact(url),
        auth=auth,
        headers=dict(headers or {}),
        secrets=tuple(sorted(variants, key=len, reverse=True)),
        home=origin(home or url),
        policy=policy,
    )
    try:
        if target.has_credentials:
            policy.check_credentials(home or url)
        if in_query:
            policy.check_credentials(url)
    except Refused as why:
        raise FetchError(f"{target.shown}: {why}") from None
    return target


def _get(
    session: requests.Session,
    target: _Target,
    headers: Mapping[str, str],
    timeout: float,
    *,
    stream: bool,
) -> requests.Response:
    """GET ``target`` with ``guard.get``: each hop checked, the credentials only for their
    origin. Raises ``Refused``, ``TooLarge`` or requests' exceptions."""
    return guard.get(
        session, target.url, policy=target.policy, credentials=target.credentials,
        headers=headers, timeout=timeout, stream=stream, show=lambda url: target.scrub(redact(url)),
    )  # fmt: skip
