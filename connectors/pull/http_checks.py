"""Checks of what a download brings: the landing name asked for, the content type, the body.

A portal that answers with an HTML error or login page, an empty body or a file of another kind
than the name says fails the download instead of landing in the pipeline. ``normalise_sha256``
reads the sha256 a portal publishes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any, Literal

from connectors.landing.folder import Ignored, identify
from connectors.pull.http_request import FetchError, _Target

#: All of fetch's modules log as ``connectors.pull.http``: one logger name covers a download.
log = logging.getLogger("connectors.pull.http")

Expect = Literal["csv", "xlsx"]

ZIP_MAGIC = b"PK\x03\x04"
_SHA256 = re.compile(r"(?:sha-?256:)?([0-9a-f]{64})", re.I)
_MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")


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
