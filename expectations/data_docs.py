"""Data Docs that render offline: local copies of the CSS, scripts and fonts the pages ask for.

Great Expectations 1.x writes pages that load Bootstrap, jQuery, bootstrap-table, Font Awesome
and Vega from CDNs, and its navigation bar's logo from a web server (with the context's ID in
the address); it has no setting for local assets, and ships only its own styles, fonts and
images (``great_expectations/render/view/static``, which it copies into the site's
``static/``). Offline the pages render unstyled and the index page is empty: its list of
validations is a table that bootstrap-table fills in.

So padu copies the files the pages need (``expectations/data_docs_static``, see its README)
into the site's ``static/padu/``, and rewrites each page it builds to load them from there by
relative paths, so the site can be moved or served as a whole. Tags for what padu does not
ship (Vega, which no padu suite uses, and the optional dark theme) are removed; the
integrity and crossorigin attributes go with the CDN addresses, since a browser refuses
``crossorigin`` scripts from files. Links a reader may follow (Great Expectations' own
documentation) are left as they are: they load nothing.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

#: The files padu ships, and where they go in a site.
ASSETS = Path(__file__).with_name("data_docs_static")
SITE_FOLDER = Path("static") / "padu"

_TABLE = "https://unpkg.com/bootstrap-table@"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs/"
_FILTER = "bootstrap-table/bootstrap-table-filter-control.min"
#: Each CDN address the pages use -> the file in ``SITE_FOLDER`` (None: the tag is dropped).
_LOCAL: dict[str, str | None] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap/bootstrap.min.js"
    ),
    f"{_TABLE}1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    f"{_TABLE}1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    # The pages ask for the filter-control styles of 1.19.0, and the script of 1.19.1.
    f"{_TABLE}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        f"{_FILTER}.css"
    ),
    f"{_TABLE}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        f"{_FILTER}.css"
    ),
    f"{_TABLE}1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        f"{_FILTER}.js"
    ),
    f"{_CDNJS}bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/bootstrap-datepicker.min.css"
    ),
    f"{_CDNJS}bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/bootstrap-datepicker.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    f"{_CDNJS}popper.js/1.12.9/umd/popper.min.js": "popper/popper.min.js",
    f"{_CDNJS}font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": None,
    "https://cdn.jsdelivr.net/npm/vega@5": None,
    "https://cdn.jsdelivr.net/npm/vega-lite@5": None,
    "https://cdn.jsdelivr.net/npm/vega-embed@6": None,
}
_TAG = re.compile(
    r"<script\b[^>]*\bsrc=\"(?P<script>https?://[^\"]+)\"[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref=\"(?P<link>https?://[^\"]+)\"[^>]*>",
    re.IGNORECASE,
)
#: The navigation bar's logo (and the dark theme's), fetched from Great Expectations' server.
_REMOTE_IMAGE = re.compile(
    r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/"
    r"(?:logo-long|full_logo_dark)\.png[^\"')\s]*"
)


def install(docs: Path) -> bool:
    """Copy the files into ``docs/static/padu`` where missing or changed; True if the folder
    was made now (pages built before it load from CDNs still)."""
    target = docs / SITE_FOLDER
    fresh = not target.is_dir()
    for source in ASSETS.rglob("*"):
        if source.is_dir() or source.name == "README.md":
            continue
        copy = target / source.relative_to(ASSETS)
        if copy.is_file() and filecmp.cmp(source, copy, shallow=False):
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    return fresh


def localise(page: Path, docs: Path) -> bool:
    """Point ``page`` (a page of the site in ``docs``) at the local files; True if it changed.

    An address padu has no copy of (a newer Great Expectations asking for other files) is
    left as it is: the page then needs the network for it, which the Data Docs test notices,
    but a run is not failed for it."""
    text = page.read_text(encoding="utf-8")
    folder = Path(os.path.relpath(docs / SITE_FOLDER, page.parent)).as_posix()
    images = Path(os.path.relpath(docs / "static" / "images", page.parent)).as_posix()

    def local(match: re.Match[str]) -> str:
        url = match.group("script") or match.group("link")
        if match.group("link") and "stylesheet" not in match.group(0).lower():
            return match.group(0)  # a link to a page, not something loaded
        if url not in _LOCAL:
            return match.group(0)
        file = _LOCAL[url]
        if file is None:
            return ""
        if match.group("script"):
            return f'<script src="{folder}/{file}"></script>'
        return f'<link rel="stylesheet" href="{folder}/{file}">'

    changed = _TAG.sub(local, text)
    changed = _REMOTE_IMAGE.sub(f"{images}/logo-long.png", changed)
    if changed == text:
        return False
    page.write_text(changed, encoding="utf-8")
    return True


def localise_site(docs: Path, pages: Iterable[Path | None]) -> None:
    """Install the files and localise ``pages`` and the index; every page of the site when
    the files were not there before (a site built by an earlier padu)."""
    fresh = install(docs)
    if fresh:
        chosen = [p for p in docs.rglob("*.html") if _top(p, docs) != SITE_FOLDER.parts[0]]
    else:
        chosen = [docs / "index.html", *(p for p in pages if p is not None)]
    for page in dict.fromkeys(chosen):
        if page.is_file():
            localise(page, docs)


def _top(page: Path, docs: Path) -> str:
    """The first folder of ``page`` inside the site."""
    parts = page.relative_to(docs).parts
    return parts[0] if len(parts) > 1 else ""
