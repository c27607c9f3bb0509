"""Bounds of the data-quality rules, with defaults a data engineer can override.

Every number a rule compares against lives here, so a regency's data office can tune the rules
to its region without touching code: from a mapping (``QualitySettings.from_mapping``) or a
YAML file (``load_settings("quality.yaml")``) holding any subset of the fields, e.g.

```yaml
kpu_per_dukcapil_adult: [0.75, 1.15]   # KPU voters / living registry adults, per kecamatan
bps_per_dukcapil: {min: 0.85, max: 1.1}
nik_date_mismatch_max_share: {bps: 0.08}
```

Shares are fractions (0.01 = 1%). Unknown keys are an error, so a typo cannot silently leave
a default in force.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from connectors.schema import Source

SOURCES = tuple(s.value for s in Source)


@dataclass(frozen=True)
class Range:
    """An inclusive range of a ratio."""

    min: float
    max: float

    def __post_init__(self) -> None:
        if self.min > self.max:
            raise ValueError(f"range minimum {self.min} is above its maximum {self.max}")


def _per_source(value: float) -> dict[str, float]:
    return dict.fromkeys(SOURCES, value)


@dataclass(frozen=True)
class QualitySettings:
    """Bounds of the rules in ``expectations.suites``; see the field comments."""

    # --- blocking rules: the share of values that must pass ---------------------------------
    #: Usable NIKs (16 digits) that must follow the structure rules (docs/domain.md). Below 1 so
    #: that a few mistyped numbers do not stop a run; a broken column or file still does.
    nik_structure_min_share: float = 0.99
    #: Kemendagri desa codes that must exist in the reference table.
    desa_code_known_min_share: float = 0.99
    #: Birth dates that must lie between ``earliest_birth_date`` and the snapshot day.
    birth_date_plausible_min_share: float = 0.999
    earliest_birth_date: date = date(1900, 1, 1)
    #: Province codes valid in a NIK besides those of the reference table (the Papua
    #: provinces created in 2022 are not split out in it).
    extra_province_codes: tuple[str, ...] = ("93", "94", "95", "96")

    #: A source's new file must hold at least this share of the rows of its current snapshot;
    #: a file that suddenly holds fewer is refused and the source stays on its current
    #: snapshot (0 accepts any file, e.g. once after a region was split).
    snapshot_rows_min_share: float = 0.5

    # --- warnings ----------------------------------------------------------------------------
    #: Largest share of records whose NIK-encoded birth date or sex differs from the record's
    #: (a NIK is never reissued when a birth date is corrected: a warning, not a rejection).
    nik_date_mismatch_max_share: dict[str, float] = field(
        default_factory=lambda: {"dukcapil": 0.02, "kpu": 0.02, "bps": 0.08}
    )
    #: Largest share of NIKs whose issuing kecamatan is not in today's reference table (old
    #: NIKs keep the codes of regions that were split later).
    nik_region_unknown_max_share: float = 0.05
    #: Oldest plausible age on the snapshot day, and the largest share of records above it.
    max_age: int = 115
    implausible_age_max_share: float = 0.001
    #: Age from which a person may vote (docs/domain.md); used for the adults of the coverage ratio.
    voting_age: int = 17
    #: Per kecamatan: KPU voters / living Disdukcapil adults (17+).
    kpu_per_dukcapil_adult: Range = Range(0.7, 1.2)
    #: Per kecamatan: BPS enumerated persons / living Disdukcapil persons.
    bps_per_dukcapil: Range = Range(0.8, 1.2)
    #: Share of kecamatan whose ratios must lie within the ranges.
    coverage_min_kec_share: float = 1.0
    #: Kecamatan with fewer living registry persons than this are not judged (ratios of very
    #: small areas swing too much to mean anything).
    coverage_min_registry_persons: int = 200

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_share"):
                shares = value.values() if isinstance(value, dict) else [value]
                for share in shares:
                    if not 0.0 <= float(share) <= 1.0:
                        raise ValueError(f"{f.name} must be between 0 and 1, not {share}")
        unknown = set(self.nik_date_mismatch_max_share) - set(SOURCES)
        if unknown:
            raise ValueError(f"nik_date_mismatch_max_share: unknown sources {sorted(unknown)}")

    def nik_date_mismatch_for(self, source: str) -> float:
        """The mismatch share allowed for ``source`` (the largest default if not configured)."""
        return self.nik_date_mismatch_max_share.get(source, 0.08)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> QualitySettings:
        """Defaults overridden by ``values`` (field name -> value, as YAML would give them)."""
        return DEFAULT_SETTINGS.override(values)

    def override(self, values: Mapping[str, Any]) -> QualitySettings:
        """A copy with the fields in ``values`` replaced (unknown names raise ``ValueError``)."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown quality settings: {unknown}; known: {sorted(fields)}")
        changes: dict[str, Any] = {}
        for name, value in values.items():
            current = getattr(self, name)
            changes[name] = _coerce(name, value, current)
        return dataclasses.replace(self, **changes)


def _coerce(name: str, value: Any, current: Any) -> Any:
    """Turn a YAML-shaped value into the type of the field it replaces."""
    try:
        if isinstance(current, Range):
            if isinstance(value, Range):
                return value
            if isinstance(value, Mapping):
                return Range(
                    float(value.get("min", current.min)), float(value.get("max", current.max))
                )
            low, high = value
            return Range(float(low), float(high))
        if isinstance(current, dict):
            if isinstance(value, Mapping):
                return {**current, **{str(k): float(v) for k, v in value.items()}}
            return _per_source(float(value))
        if isinstance(current, date):
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if isinstance(current, tuple):
            return tuple(str(v) for v in value)
        if isinstance(current, bool):
            return bool(value)
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"quality setting {name}: cannot use {value!r} ({error})") from None
    return value


DEFAULT_SETTINGS = QualitySettings()


def load_settings(source: Mapping[str, Any] | str | Path | None = None) -> QualitySettings:
    """Settings from a mapping, a YAML file path, or the defaults when ``source`` is None."""
    if source is None:
        return DEFAULT_SETTINGS
    if isinstance(source, Mapping):
        return QualitySettings.from_mapping(source)
    import yaml

    path = Path(source)
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path}: expected a mapping of setting names to values")
    return QualitySettings.from_mapping(loaded)
