"""A review pair as the workbench shows it: the two records side by side, each field's
comparison level (recomputed from the records with the engine's own comparisons) and weight
(from the queue's explanation), and the waterfall from the prior to the match weight."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

from connectors.schema import COLUMNS, conform
from connectors.warehouse.review import PairEvidence, ReviewedRow
from matching.comparisons import COMPARISONS, NULL, compare
from matching.features import build_features
from workbench.masking import masked_pair

_TERM = re.compile(r"^\s*(\w+) ([+-]\d+(?:\.\d+)?)\s*$")
NO_RIVAL = "no rival candidate"


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: the running total before and after it."""

    label: str
    level: str
    weight: float
    start: float
    end: float


@dataclass(frozen=True)
class Waterfall:
    steps: list[Step]
    match_weight: float
    match_probability: float
    no_rival: bool

    def svg(self, width: int = 640) -> str:
        """The waterfall as inline SVG: one bar per term, green where it adds, red where it
        takes away, and the final match weight; no script, no style attribute."""
        row, label_w, pad = 24, 210, 12
        bars = [*self.steps, Step("match weight", "", self.match_weight, 0.0, self.match_weight)]
        ends = [0.0] + [v for s in bars for v in (s.start, s.end)]
        low, high = min(ends), max(ends)
        span = (high - low) or 1.0
        plot = width - label_w - 70
        height = row * len(bars) + 2 * pad + 16

        def x(value: float) -> float:
            return label_w + (value - low) / span * plot

        parts = [
            f'<svg class="waterfall" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
            'aria-label="match weight: prior plus each field\'s weight">',
            f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{pad}" y2="{height - 16}" '
            'stroke="#888" stroke-dasharray="3,3"/>',
        ]
        for i, step in enumerate(bars):
            y = pad + i * row
            last = i == len(bars) - 1
            left, right = sorted((step.start, step.end))
            colour = "#2f6f8f" if last else ("#3a8a4a" if step.weight >= 0 else "#b5443b")
            label = step.label + (f" ({step.level})" if step.level else "")
            parts.append(
                f'<text x="0" y="{y + 16}" font-size="12">{escape(label)}</text>'
                f'<rect x="{x(left):.1f}" y="{y + 4}" width="{max(x(right) - x(left), 1):.1f}" '
                f'height="{row - 8}" fill="{colour}"><title>{escape(label)}: '
                f"{step.weight:+.2f}</title></rect>"
                f'<text x="{x(right) + 4:.1f}" y="{y + 16}" font-size="12">'
                f"{step.weight:+.1f}</text>"
            )
        parts.append(
            f'<text x="{label_w}" y="{height - 2}" font-size="11">log2 Bayes factor; 0 is even '
            "odds</text></svg>"
        )
        return "".join(parts)


def parse_explanation(text: object) -> tuple[list[tuple[str, float]], bool]:
    """``prior -8.8; name +11.4; ...; no rival candidate`` as (term, weight) pairs, the prior
    first, and whether the pair had no rival candidate."""
    terms: list[tuple[str, float]] = []
    no_rival = False
    for part in str(text or "").split(";"):
        if part.strip() == NO_RIVAL:
            no_rival = True
            continue
        found = _TERM.match(part)
        if found:
            terms.append((found.group(1), float(found.group(2))))
    return terms, no_rival


def field_levels(left: pd.Series, right: pd.Series) -> dict[str, str]:
    """Each comparison's level for the two canonical records, by the engine's comparisons
    (``matching.comparisons``): "null" where a value is missing on either side."""
    frame = conform(pd.DataFrame([left[list(COLUMNS)], right[list(COLUMNS)]]))
    levels = compare(build_features(frame), np.array([0]), np.array([1]))[0]
    return {
        c.name: ("null" if level == NULL else c.levels[int(level)])
        for c, level in zip(COMPARISONS, levels, strict=True)
    }


def waterfall(queued: pd.Series, levels: dict[str, str]) -> Waterfall:
    terms, no_rival = parse_explanation(queued["explanation"])
    weights = dict(terms)
    order = ["prior"] + [c.name for c in COMPARISONS]
    steps, total = [], 0.0
    for name in order:
        if name != "prior" and name not in weights and name not in levels:
            continue
        weight = weights.get(name, 0.0)
        steps.append(Step(name, levels.get(name, ""), weight, total, total + weight))
        total += weight
    return Waterfall(
        steps, float(queued["match_weight"]), float(queued["match_probability"]), no_rival
    )


#: The rows of the side-by-side view: label and how to show a record's value.
def _date(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[arg-type]
        return ""
    return pd.Timestamp(value).date().isoformat()  # type: ignore[arg-type]


def _plain(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[arg-type]
        return ""
    return str(value)


def _desa(record: pd.Series) -> str:
    code, name = _plain(record.get("desa_code")), _plain(record.get("desa_name"))
    return f"{code} {name}".strip()


def _family(record: pd.Series) -> str:
    parts = [
        f"mother {_plain(record.get('mother_name'))}" if _plain(record.get("mother_name")) else "",
        f"relation {_plain(record.get('relation'))}" if _plain(record.get("relation")) else "",
    ]  # not the household: in the civil registry that is the family card (KK) number
    return ", ".join(p for p in parts if p)


def _address(record: pd.Series) -> str:
    rt, rw = _plain(record.get("rt")), _plain(record.get("rw"))
    return ", ".join(
        p
        for p in (_plain(record.get("address")), f"RT {rt}" if rt else "", f"RW {rw}" if rw else "")
        if p
    )


def side_by_side(left: pd.Series, right: pd.Series) -> list[tuple[str, str, str, bool]]:
    """(label, left value, right value, differ) for the review view; NIK and KK masked except
    the digits where they differ."""
    nik = masked_pair(left.get("nik"), right.get("nik"))
    kk = masked_pair(left.get("kk"), right.get("kk"))
    rows = [
        ("name", _plain(left.get("name_raw")), _plain(right.get("name_raw"))),
        ("birth date", _date(left.get("birth_date")), _date(right.get("birth_date"))),
        ("age reported", _plain(left.get("age_reported")), _plain(right.get("age_reported"))),
        ("sex", _plain(left.get("sex")), _plain(right.get("sex"))),
        ("NIK", nik[0], nik[1]),
        ("KK", kk[0], kk[1]),
        ("family", _family(left), _family(right)),
        ("address", _address(left), _address(right)),
        ("desa", _desa(left), _desa(right)),
        ("source", _plain(left.get("source")), _plain(right.get("source"))),
        ("snapshot", _date(left.get("file_snapshot")), _date(right.get("file_snapshot"))),
        (
            "row",
            f"{_plain(left.get('source_file'))}:{_plain(left.get('source_row'))}",
            f"{_plain(right.get('source_file'))}:{_plain(right.get('source_row'))}",
        ),
    ]
    return [(label, a, b, a != b) for label, a, b in rows]


def _reviewed(record: pd.Series) -> ReviewedRow:
    birth = record.get("birth_date")
    return ReviewedRow(
        ref=f"{_plain(record.get('source_file'))}:{_plain(record.get('source_row'))}",
        source=_plain(record.get("source")),
        name=_plain(record.get("name_raw")) or None,
        sex=_plain(record.get("sex")) or None,
        birth_date=None if birth is None or pd.isna(birth) else pd.Timestamp(birth).date(),
        desa=_desa(record) or None,
        has_nik=bool(_plain(record.get("nik"))),
    )


def against(left: pd.Series, right: pd.Series) -> dict[str, list[str]]:
    """What in the two records speaks strongly against each decision, as ``padu review
    decide`` warns (``connectors.warehouse.review.PairEvidence``)."""
    a, b = _plain(left.get("nik")), _plain(right.get("nik"))
    evidence = PairEvidence(_reviewed(left), _reviewed(right), (a == b) if a and b else None)
    return {decision: evidence.against(decision) for decision in ("match", "no_match")}
