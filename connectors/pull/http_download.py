"""One download streamed into its ``.part`` file: resuming, restarting and verifying it.

``_Download`` is the partial file and what is known of the file on the server (ETag,
Last-Modified, whether it takes ranges), kept beside it in ``.part.meta``. ``_attempt`` makes one
request, continuing the partial body with ``Range``/``If-Range`` or starting it again, and
streams the answer onto it; ``_verify`` checks the complete body.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from connectors.pull.guard import Policy
from connectors.pull.http_checks import Expect, _check_body, _check_content_type, _sha256_of
from connectors.pull.http_request import FetchError, _get, _Target
from connectors.pull.http_retry import _request_failure, _Restart, _Retry, _status_failure

#: All of fetch's modules log as ``connectors.pull.http``: one logger name covers a download.
log = logging.getLogger("connectors.pull.http")

CHUNK = 1 << 16
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.I)
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)", re.I)


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


def _verify(download: _Download, target: _Target, expect: Expect, sha256: str | None) -> str:
    _check_body(download.part, target, expect)
    digest = _sha256_of(download.part)
    if sha256 and digest != sha256:
        if download.resumed:  # the pieces may be of different versions: fetch it whole
            raise _Restart("sha256 mismatch after resuming")
        raise FetchError(f"{target.shown}: sha256 of the download is {digest}, expected {sha256}")
    return digest
