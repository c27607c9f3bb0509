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

The pieces, in ``connectors.pull``: ``http_request`` (the credentials split out of the URL,
redaction, the guarded GET), ``http_retry`` (what is retried, restarted or final),
``http_download`` (one download streamed into its ``.part`` file, resumed and verified) and
``http_checks`` (the landing name, the content type, the body).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from connectors.pull.guard import Policy
from connectors.pull.http_checks import Expect, _check_out, normalise_sha256
from connectors.pull.http_download import _attempt, _Download, _verify
from connectors.pull.http_request import FetchError, _target
from connectors.pull.http_retry import Sleep, _retrying

__all__ = ["FetchError", "FetchResult", "fetch"]

log = logging.getLogger(__name__)


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
