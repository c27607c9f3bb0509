"""Where a pulled extract came from: a small JSON file beside it (``<file>.origin.json``).

A pull from a database or a URL writes the extract into the landing folder and this record
beside it; reading the extract adds it to ``load_audit`` (origin, query or checksum
fingerprint, rows the source reported, the source's snapshot time). Files delivered into the
folder have none. It never holds credentials: URLs are recorded without their password
(``connectors.redaction``), and a record written before that rule is read without it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from connectors.redaction import url_for_display

SUFFIX = ".origin.json"


@dataclass(frozen=True)
class Origin:
    origin: str  # "database" or "http"
    source: str  # URL without password
    fingerprint: str | None  # sha256 of the query run, or of the file fetched
    rows: int | None  # rows the source returned (database)
    snapshot_at: datetime  # the source's own time of the snapshot
    high_water_mark: str | None = None  # last change-column value read (incremental pulls)
    full_pull_at: datetime | None = None  # when the last full (not incremental) pull ran


def path_for(extract: Path) -> Path:
    return extract.with_name(extract.name + SUFFIX)


def write(extract: Path, origin: Origin) -> None:
    """Record ``origin`` beside ``extract`` (atomically)."""
    data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(origin).items()}
    data["source"] = url_for_display(origin.source)
    target = path_for(extract)
    partial = target.with_name(target.name + ".tmp")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(partial, target)


def read(extract: Path) -> Origin | None:
    """The origin recorded beside ``extract``, or None for a delivered file."""
    target = path_for(extract)
    if not target.exists():
        return None
    data = json.loads(target.read_text(encoding="utf-8"))
    data["source"] = url_for_display(data["source"])
    for name in ("snapshot_at", "full_pull_at"):
        if data.get(name):
            data[name] = datetime.fromisoformat(data[name])
    return Origin(**data)
