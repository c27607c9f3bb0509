"""Fetching an agency extract over HTTP(S) into the landing folder.

Agencies publish extracts on CKAN-style data portals or on their own web services. ``fetch``
downloads one such file under its landing name (``kpu_dpt_6309_20261101.csv``, see
``connectors.landing.folder``); the file pipeline then reads it like any delivered file.

The download is built to survive slow and flaky links:

* The body is streamed to ``<name>.part`` and moved onto ``<name>`` atomically only once it
  is complete and checked, so the pipeline never sees half a file (the landing scan ignores
  ``.part`` names). Beside it, ``<name>.part.meta`` records which URL and which version of
  the file (ETag / Last-Modified) the partial body belongs to.
* Connection errors, timeouts, a connection cut mid-body and HTTP 408/429/500/502/503/504 are
  retried with exponential backoff; ``Retry-After`` is honoured. 401, 403, 404 and other
  client errors fail at once.
* An interrupted body is continued with ``Range: bytes=N-``, guarded by ``If-Range`` with the
  ETag or Last-Modified the server gave, so a file that changed in between is downloaded
  anew instead of being spliced onto the old one. A server that ignores the range (200) or
  refuses it (416) makes the download start again from zero.
* The result is checked: its sha256 when the portal publishes one, no HTML page instead of
  data, no empty body, the ZIP signature for ``.xlsx``.

When ``fetch`` raises, neither the ``.part`` file nor its ``.meta`` remain; only a process
that dies mid-download leaves them, and the next ``fetch`` of the same URL continues from
there.

Credentials (basic auth, user info in the URL, API keys in headers or the query string) never
appear in logs, exception messages or results: URLs are shown with the secret parts replaced
by ``***`` and headers are never echoed. They are sent only to the origin they belong to
(the portal's), never over plain http unless the source allows it, and redirects are followed
here, hop by hop, under the same rules; no host with a private, loopback or link-local address
is asked unless the source lists it, and no body may exceed the source's size limit
(``connectors.pull.guard``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

import requests

from connectors.landing.folder import Ignored, identify
from connectors.pull import guard
from connectors.pull.guard import Policy, Refused, TooLarge, origin

log = logging.getLogger(__name__)

Expect = Literal["csv", "xlsx"]
Sleep = Callable[[float], object]
T = TypeVar("T")

CHUNK = 1 << 16
#: Answers worth asking again for; every other error status fails at once.
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: A server asking to come back later than this is waited for this long only.
MAX_RETRY_AFTER = 300.0
#: Downloads started again from zero (range refused, file changed) before giving up.
MAX_RESTARTS = 3
ZIP_MAGIC = b"PK\x03\x04"

_SENSITIVE_WORDS = r"auth|token|key|secret|passw|pwd|sig|session|cookie|credential"
_SENSITIVE = re.compile(_SENSITIVE_WORDS, re.I)
_SENSITIVE_QUERY = re.compile(rf"([?&][^=&\s\"]*(?:{_SENSITIVE_WORDS})[^=&\s\"]*)=[^&\s\"]*", re.I)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.I)
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)", re.I)
_SHA256 = re.compile(r"(?:sha-?256:)?([0-9a-f]{64})", re.I)
_MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")
_PERMANENT_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
    requests.exceptions.SSLError,
)


class FetchError(Exception):
    """The extract could not be fetched. The message names the redacted URL and the reason."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that decided it, if any
        self.attempts = attempts


@dataclass(frozen=True)
class FetchResult:
    """One extract fetched into the landing folder."""

    path: Path
    bytes: int
    sha256: str  # of the file as saved
    url: str  # redacted
    attempts: int  # HTTP requests made
    resumed: bool  # the saved file was assembled from more than one response
    etag: str | None = None
    last_modified: str | None = None


# --- credentials and redaction ------------------------------------------------------------


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


# --- retrying -----------------------------------------------------------------------------


class _Retry(Exception):
    """A transient failure: ask again after a pause (``delay``, or the backoff)."""

    def __init__(self, reason: str, *, delay: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.delay = delay
        self.status = status


class _Restart(Exception):
    """The partial body cannot be continued: discard it and ask for the whole file now."""


def _backoff(base: float, failures: int) -> float:
    delay = base * 2**failures
    return delay + random.uniform(0, 0.1 * delay)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _retrying(
    step: Callable[[], T],
    target: _Target,
    *,
    retries: int,
    backoff: float,
    sleep: Sleep,
    on_restart: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """Run ``step`` until it succeeds; its result and the number of attempts made."""
    attempts = failures = restarts = 0
    while True:
        attempts += 1
        log.info("GET %s (attempt %d)", target.shown, attempts)
        try:
            return step(), attempts
        except FetchError as err:
            err.attempts = attempts
            raise
        except (Refused, TooLarge) as why:
            hop = getattr(why, "url", None)
            hop = f" (redirected to {redact(hop)})" if hop and hop != target.url else ""
            message = target.scrub(f"{target.shown}{hop}: {why}")
            raise FetchError(message, attempts=attempts) from None
        except _Restart as why:
            restarts += 1
            if restarts > MAX_RESTARTS or on_restart is None:
                raise FetchError(f"{target.shown}: {why}", attempts=attempts) from None
            log.warning("%s: %s; starting again from zero", target.shown, why)
            on_restart()
        except _Retry as why:
            failures += 1
            if failures > retries:
                raise FetchError(
                    f"{target.shown}: {why} (gave up after {attempts} attempts)",
                    status=why.status,
                    attempts=attempts,
                ) from None
            delay = why.delay if why.delay is not None else _backoff(backoff, failures - 1)
            log.warning("%s: %s; retrying in %.1f s", target.shown, why, delay)
            sleep(delay)


def _request_failure(err: requests.RequestException, target: _Target) -> Exception:
    """A requests exception as a retry or a permanent error, its text scrubbed."""
    reason = f"{type(err).__name__}: {target.scrub(str(err))}"
    if isinstance(err, _PERMANENT_ERRORS):
        return FetchError(f"{target.shown}: {reason}")
    return _Retry(reason)


_STATUS_HINTS = {
    401: "the server wants credentials (none given, or those given were refused)",
    403: "access denied with the credentials given",
    404: "nothing at this URL",
    410: "the file was removed from this URL",
}


def _status_failure(response: Any, target: _Target, detail: str = "") -> Exception | None:
    """The error an HTTP answer stands for, or None for a success."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    reason = target.scrub(f"HTTP {status} {response.reason or ''}".strip())
    hint = detail or _STATUS_HINTS.get(status, "")
    answered = origin(response.url or target.url)
    if status == 401 and target.has_credentials and answered != target.home:
        hint = "the server wants credentials; those given are sent to {}://{}:{} only".format(
            *target.home
        )
    reason = f"{reason}: {hint}" if hint else reason
    if status in RETRY_STATUS:
        return _Retry(
            reason, delay=_retry_after(response.headers.get("Retry-After")), status=status
        )
    return FetchError(f"{target.shown}: {reason}", status=status)


# --- one download -------------------------------------------------------------------------


@dataclass
class _Download:
    """The partial file of one download and what is known about the file on the server."""

    part: Path
    meta: Path
    shown: str
    etag: str | None = None
    last_modified: str | None = None
    ranges: bool = True  # False once the server says ``Accept-Ranges: none``
    resumed: bool = False

    @property
    def validator(self) -> str | None:
        """What ``If-Range`` can carry: a strong ETag, else Last-Modified."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    def offset(self) -> int:
        return self.part.stat().st_size if self.part.exists() else 0

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.resumed = False

    def cleanup(self) -> None:
        self.discard()
        self.meta.unlink(missing_ok=True)

    def remember(self, response: Any) -> None:
        """Note the version of the file the body belongs to, here and in the ``.meta`` file."""
        headers = response.headers
        if response.status_code != 206 or headers.get("ETag"):
            self.etag = headers.get("ETag")
        if response.status_code != 206 or headers.get("Last-Modified"):
            self.last_modified = headers.get("Last-Modified")
        self.ranges = (
            response.status_code == 206 or headers.get("Accept-Ranges", "").lower() != "none"
        )
        version = {"url": self.shown, "etag": self.etag, "last_modified": self.last_modified}
        self.meta.write_text(json.dumps(version), encoding="utf-8")

    def adopt_leftover(self) -> None:
        """Keep a ``.part`` left by an earlier run if it is known to be this file's."""
        if not self.part.exists():
            self.meta.unlink(missing_ok=True)
            return
        try:
            version = json.loads(self.meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            version = {}
        if isinstance(version, dict) and version.get("url") == self.shown:
            self.etag, self.last_modified = version.get("etag"), version.get("last_modified")
        if self.validator is None:
            log.info("%s: no record of which file it belongs to; discarding it", self.part.name)
            self.cleanup()
            return
        log.info("%s: %d bytes from an earlier download", self.part.name, self.offset())


def _changed(download: _Download, response: Any) -> bool:
    """Whether a 206 answer is of another version of the file than the partial body."""
    etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    return bool(
        (download.etag and etag and etag != download.etag)
        or (download.last_modified and modified and modified != download.last_modified)
    )


def _attempt(
    session: requests.Session, target: _Target, download: _Download, timeout: float
) -> None:
    """One request: continue or (re)start the partial body. Raises _Retry or _Restart."""
    if not download.ranges:
        download.discard()
    offset = download.offset()
    headers = {"Accept-Encoding": "identity"}  # ranges count raw bytes
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if download.validator:
            headers["If-Range"] = download.validator
        log.info("%s: asking to resume at byte %d", target.shown, offset)
    try:
        with _get(session, target, headers, timeout, stream=True) as response:
            _receive(response, target, download, offset, "If-Range" in headers)
    except requests.RequestException as err:
        raise _request_failure(err, target) from None


def _receive(
    response: Any, target: _Target, download: _Download, offset: int, validated: bool
) -> None:
    if response.status_code == 416 and offset:
        target.policy.check_size(offset, announced=False)  # a leftover as large
        _range_refused(response, download, offset, validated)
        return
    failure = _status_failure(response, target)
    if failure is not None:
        raise failure
    _check_content_type(response, target)
    append, total = _continuation(response, target, download, offset)
    target.policy.check_size(total)
    download.remember(response)
    _stream(response, download.part, append, total, target.policy)


def _range_refused(response: Any, download: _Download, offset: int, validated: bool) -> None:
    """A 416 answer: the partial body is complete already, or it is discarded."""
    match = _UNSATISFIED_RANGE.search(response.headers.get("Content-Range", ""))
    if validated and match and int(match.group(1)) == offset:
        log.info("%s already holds all %d bytes", download.part.name, offset)
        download.resumed = True  # the body came from an earlier run
        return
    raise _Restart("the server refused to resume (HTTP 416)")


def _continuation(
    response: Any, target: _Target, download: _Download, offset: int
) -> tuple[bool, int | None]:
    """Whether the body continues the partial file, and the full file's size if known."""
    if response.status_code == 206:
        match = _CONTENT_RANGE.search(response.headers.get("Content-Range", ""))
        if not match:
            raise _Restart("the server sent part of the file without saying which part")
        start, total = int(match.group(1)), match.group(3)
        if start != offset:
            raise _Restart(f"the server sent bytes from {start}, not from {offset}")
        if _changed(download, response):
            raise _Restart("the file changed on the server since the download began")
        if offset:
            download.resumed = True
            log.info("%s: resuming at byte %d", target.shown, offset)
        return True, int(total) if total.isdigit() else None
    if offset:
        log.info("%s: the server sent the whole file; starting again from zero", target.shown)
    download.resumed = False
    length = response.headers.get("Content-Length", "")
    return False, int(length) if length.isdigit() else None


def _stream(response: Any, part: Path, append: bool, total: int | None, policy: Policy) -> None:
    """Write the body onto ``part``, counted against the size limit as it comes in (the
    ``Content-Length`` may be missing, or wrong when the server compresses anyway)."""
    start = part.stat().st_size if append and part.exists() else 0
    with part.open("ab" if append else "wb") as handle:
        for chunk in policy.capped(response.iter_content(CHUNK), start):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    size = part.stat().st_size
    if total is not None and size < total:
        raise _Retry(f"connection closed after {size} of {total} bytes")
    if total is not None and size > total:
        raise _Restart(f"received {size} bytes, more than the {total} announced")


# --- content checks -----------------------------------------------------------------------


def _check_content_type(response: Any, target: _Target) -> None:
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        raise FetchError(
            f"{target.shown}: the server sent an HTML page (Content-Type {kind}), not the "
            "extract; is this the download link, and does it need a login?",
            status=response.status_code,
        )


def _check_body(part: Path, target: _Target, expect: Expect) -> None:
    with part.open("rb") as handle:
        head = handle.read(1024)
    if not head:
        raise FetchError(f"{target.shown}: the server sent an empty body")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(_MARKUP):
        raise FetchError(
            f"{target.shown}: the server sent an HTML/XML page, not a {expect} extract "
            "(an error or login page?)"
        )
    if expect == "xlsx" and not head.startswith(ZIP_MAGIC):
        raise FetchError(f"{target.shown}: not an .xlsx workbook (no ZIP signature)")
    if expect == "csv" and head.startswith(ZIP_MAGIC):
        raise FetchError(f"{target.shown}: a ZIP archive (an .xlsx workbook?), not a CSV file")


def _sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _verify(download: _Download, target: _Target, expect: Expect, sha256: str | None) -> str:
    _check_body(download.part, target, expect)
    digest = _sha256_of(download.part)
    if sha256 and digest != sha256:
        if download.resumed:  # the pieces may be of different versions: fetch it whole
            raise _Restart("sha256 mismatch after resuming")
        raise FetchError(f"{target.shown}: sha256 of the download is {digest}, expected {sha256}")
    return digest


def normalise_sha256(value: str) -> str | None:
    """The hex digest in ``value`` (``sha256:<hex>`` or bare hex), or None if not a sha256."""
    match = _SHA256.fullmatch(value.strip())
    return match.group(1).lower() if match else None


def _check_out(out: Path, expect: Expect) -> None:
    if expect not in ("csv", "xlsx"):
        raise ValueError(f"expect must be 'csv' or 'xlsx', not {expect!r}")
    if out.suffix.lower() != f".{expect}":
        raise ValueError(f"{out.name}: the name should end in .{expect} for expect={expect!r}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"landing folder {out.parent} does not exist")
    found = identify(out)
    if isinstance(found, Ignored):
        log.warning("%s: %s; the pipeline will not read it", out.name, found.reason)


# --- the API ------------------------------------------------------------------------------


def fetch(
    url: str,
    out: Path,
    *,
    timeout: float = 30,
    retries: int = 4,
    backoff: float = 1.0,
    sha256: str | None = None,
    auth: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    expect: Expect = "csv",
    sleep: Sleep = time.sleep,
    policy: Policy | None = None,
    credentials_origin: str | None = None,
) -> FetchResult:
    """Download ``url`` to ``out`` (a landing-folder name), resuming and retrying as needed.

    ``timeout`` bounds connecting and each wait for data, in seconds; ``retries`` is how many
    transient failures are retried, after ``backoff * 2**n`` seconds (plus jitter) or what
    ``Retry-After`` says. ``sha256`` (``<hex>`` or ``sha256:<hex>``) is checked when given.
    ``auth`` (user, password) is sent as basic auth; user info in ``url`` is used when
    ``auth`` is not given. Credentials (``auth``, user info, secret-looking ``headers``) go only
    to the origin of ``credentials_origin`` (a CKAN resource's portal), by default ``url``'s
    own; a request anywhere else, a redirect included, goes without them. ``policy`` says
    which private hosts may be asked, whether plain http may carry credentials and how large
    the file may be (default: ``Policy()``, public https hosts, 2 GiB). Raises ``FetchError``;
    ``out`` is only ever written whole.
    """
    target = _target(url, auth, headers, policy or Policy(), credentials_origin)
    expected = None
    if sha256:
        expected = normalise_sha256(sha256)
        if expected is None:
            raise ValueError("sha256 must be 64 hex digits, optionally prefixed 'sha256:'")
    _check_out(out, expect)
    download = _Download(
        part=out.with_name(out.name + ".part"),
        meta=out.with_name(out.name + ".part.meta"),
        shown=target.shown,
    )
    download.adopt_leftover()

    def step() -> str:
        _attempt(session, target, download, timeout)
        return _verify(download, target, expect, expected)

    try:
        with requests.Session() as session:
            digest, attempts = _retrying(
                step,
                target,
                retries=retries,
                backoff=backoff,
                sleep=sleep,
                on_restart=download.discard,
            )
        size = download.offset()
        os.replace(download.part, out)
    except Exception:
        download.cleanup()
        raise
    download.meta.unlink(missing_ok=True)
    log.info(
        "fetched %s into %s: %d bytes in %d attempt(s)%s",
        target.shown,
        out.name,
        size,
        attempts,
        ", resumed" if download.resumed else "",
    )
    return FetchResult(
        path=out,
        bytes=size,
        sha256=digest,
        url=target.shown,
        attempts=attempts,
        resumed=download.resumed,
        etag=download.etag,
        last_modified=download.last_modified,
    )
