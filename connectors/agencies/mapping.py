"""Column mappings: which header in an agency's file holds which of the agency's fields.

Each agency format has a default mapping (``mappings/<source>.yaml``) that names the fields
of docs/input-formats.md and the headers they appear under. A data engineer whose agency
renamed a column overrides it with a small YAML file of the same shape, e.g.::

    columns:
      NAMA_LGKP: [NAMA_LENGKAP, NAMA]

Headers are compared after upper-casing and turning spaces and hyphens into underscores, so
``nama lgkp`` and ``Nama-Lgkp`` both find ``NAMA_LGKP``. Columns that no field names are
ignored; the order of columns does not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml


class MappingError(ValueError):
    """A header that does not carry every required field, or a malformed mapping file."""


def normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.replace("\ufeff", "").strip().strip('"').upper())


@dataclass(frozen=True)
class ColumnMapping:
    """Field name -> accepted header names, and which fields must be present."""

    source: str
    columns: dict[str, tuple[str, ...]]
    required: frozenset[str]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def resolve(self, header: list[str]) -> dict[str, int]:
        """Position of each field's column in ``header``; optional fields may be absent.

        Raises ``MappingError`` naming the missing required fields, or both columns of a
        field whose header appears twice (which of them holds the field is unknown).
        """
        positions: dict[str, list[int]] = {}
        for i, h in enumerate(header):
            positions.setdefault(normalise_header(h), []).append(i)
        found: dict[str, int] = {}
        for name, accepted in self.columns.items():
            for candidate in accepted:
                if at := positions.get(normalise_header(candidate)):
                    if len(at) > 1:
                        both = " and ".join(f"column {i + 1} ({header[i].strip()!r})" for i in at)
                        raise MappingError(
                            f"the {name} field's header appears more than once: {both}; "
                            "remove or rename the extra column"
                        )
                    found[name] = at[0]
                    break
        missing = sorted(self.required - set(found))
        if missing:
            raise MappingError(
                f"missing required column(s) {', '.join(missing)} "
                f"(found {len(header)} columns; override the {self.source} column mapping "
                "if the agency renamed them)"
            )
        return found


def _parse(
    source: str, document: object, origin: str
) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    if not isinstance(document, dict) or not isinstance(document.get("columns"), dict):
        raise MappingError(f"{origin}: a mapping needs a 'columns' table")
    columns: dict[str, tuple[str, ...]] = {}
    for name, accepted in document["columns"].items():
        names = [accepted] if isinstance(accepted, str) else accepted
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
            raise MappingError(f"{origin}: field {name!r} needs a header name or a list of them")
        columns[str(name)] = tuple(names)
    required = document.get("required", [])
    if not isinstance(required, list):
        raise MappingError(f"{origin}: 'required' must be a list of field names")
    return columns, {str(r) for r in required}


def load_mapping(source: str, override: Path | None = None) -> ColumnMapping:
    """The default mapping for ``source``, with the fields of ``override`` replacing it."""
    default_text = (
        resources.files("connectors.agencies.mappings").joinpath(f"{source}.yaml").read_text()
    )
    columns, required = _parse(source, yaml.safe_load(default_text), f"{source}.yaml")
    if override is not None:
        try:
            document = yaml.safe_load(Path(override).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise MappingError(f"{override}: cannot read column mapping: {err}") from None
        extra_columns, extra_required = _parse(source, document, str(override))
        unknown = sorted(set(extra_columns) - set(columns))
        if unknown:
            raise MappingError(
                f"{override}: unknown {source} field(s) {', '.join(unknown)}; "
                f"known: {', '.join(columns)}"
            )
        columns.update(extra_columns)
        required |= extra_required
    return ColumnMapping(source, columns, frozenset(required))
